// vfio-node: one tool, many subcommands, in the spirit of fio, nvme-cli, SPDK's
// setup.sh and DPDK's devbind. Each subcommand lives in commands/<name>.ts and exports
// `run(argv): Promise<number>` (the exit status); they are loaded on demand so that
// `vfio-node list` never pays for the NVMe driver.
/**
 * The `vfio-node` command ({@link main}), and {@link VfioErrorCode}: every error code of every
 * vfio-node package in one union.
 *
 * @module vfio-node
 */

import { readFileSync } from 'node:fs';

export { CLI_ERROR_CODES, type CliErrorCode, type VfioErrorCode } from './errors.js';

/** This package's version (package.json, one directory up from src/ and dist/). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

type CommandModule = { run(argv: string[]): Promise<number> };

interface CommandEntry {
  summary: string;
  load(): Promise<CommandModule>;
  /** It opens devices: Ctrl-C and SIGTERM shut them down before the process ends (core's handleSignals). */
  devices?: true;
}

const commands: Record<string, CommandEntry> = {
  list: { summary: 'list PCI devices with driver and IOMMU group (like lspci)', load: () => import('./commands/list.js') },
  bind: { summary: 'bind devices to vfio-pci (refuses a device in use; --force)', load: () => import('./commands/bind.js') },
  unbind: { summary: 'give devices back to their kernel driver', load: () => import('./commands/unbind.js') },
  setup: { summary: 'reserve hugepages and load vfio-pci', load: () => import('./commands/setup.js') },
  doctor: { summary: 'check every precondition, with the fix for each', load: () => import('./commands/doctor.js') },
  info: { devices: true, summary: 'regions, interrupts and capabilities of a device through VFIO', load: () => import('./commands/info.js') },
  lab: { summary: 'boot the QEMU lab and run a command inside (lab run -- CMD)', load: () => import('./commands/lab.js') },
  bench: { devices: true, summary: 'fio-compatible benchmark on an NVMe namespace (the lab when no device is named)', load: () => import('./commands/bench.js') },
  net: { devices: true, summary: 'packet apps on virtio-net NICs (pktgen, count, fwd, respond); bringup --explain', load: () => import('./commands/net.js') },
  report: { summary: 'one HTML page with charts from saved results (ours or fio\'s json+)', load: () => import('./commands/report.js') },
  main: { summary: "the README's main job: the benchmark on the lab", load: () => import('./commands/main-job.js') },
  nvme: { devices: true, summary: 'NVMe commands with nvme-cli names (id-ctrl, smart-log, read, ...)', load: () => import('./commands/nvme.js') },
  nvmf: { summary: 'serve bdevs (malloc:SIZE, null:SIZE, ADDR/NSID) over NVMe/TCP (nvmf serve)', load: () => import('./commands/nvmf.js') },
};

/** The subcommands' names (hints and usage must name only these). */
export const COMMAND_NAMES: readonly string[] = Object.keys(commands);

/** The help text of `vfio-node`: the subcommands with one line each. */
export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return ['usage: vfio-node <command> [options] [--trace[=json]]', '       vfio-node --version', '', 'commands:', ...lines, '', "Run 'vfio-node <command> --help' for a command's options.", '--trace prints every register access, command, doorbell and completion the drivers make, decoded (--trace=json: JSON lines).'].join('\n');
}

/**
 * Runs the `vfio-node` command with argv (the words after `vfio-node`) and returns the exit status; errors are
 * printed with their hint.
 */
export async function main(argv: string[]): Promise<number> {
  // --trace / --trace=json on any command: the drivers trace through VFIO_NODE_TRACE (so
  // that worker threads, which share the environment, trace too).
  // Not after "--": there the words belong to another program (lab run -- CMD).
  const end = argv.includes('--') ? argv.indexOf('--') : argv.length;
  const traceArg = argv.slice(0, end).find((a) => a === '--trace' || a.startsWith('--trace='));
  if (traceArg) {
    const format = traceArg === '--trace' ? 'text' : traceArg.slice('--trace='.length);
    if (format !== 'text' && format !== 'json') {
      console.error(`vfio-node: invalid ${traceArg} (expected --trace or --trace=json)`);
      return 2;
    }
    process.env.VFIO_NODE_TRACE = format === 'json' ? 'json' : '1';
    argv = [...argv.slice(0, end).filter((a) => a !== traceArg), ...argv.slice(end)];
  }
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    console.log(`vfio-node ${VERSION}`);
    return 0;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name ? 0 : 2;
  }
  const entry = commands[name];
  if (!entry) {
    console.error(`vfio-node: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  try {
    const mod = await entry.load();
    // A command-line program owns its signals: the library installs no handler unless asked.
    // Loaded here, not at the top: this file must load without the native addon.
    if (entry.devices) (await import('@vfio-node/core')).handleSignals();
    return await mod.run(rest);
  } catch (err) {
    return reportError(err);
  }
}

/** Prints an error the way every subcommand does: message, then hint. Returns the exit status. */
export function reportError(err: unknown): number {
  // VfioError and the lab's LabError: a stable code, a message and a hint. Checked by shape,
  // so that this file loads without the native addon (the lab must work before it is built).
  if (err instanceof Error && typeof (err as { describe?: unknown }).describe === 'function' && typeof (err as { code?: unknown }).code === 'string') {
    console.error(`vfio-node: ${(err as Error & { describe(): string }).describe()}`);
    if (process.env.VFIO_NODE_DEBUG) console.error(err.stack);
    return 1;
  }
  console.error(`vfio-node: ${err instanceof Error ? err.stack : String(err)}`);
  return 70;
}
