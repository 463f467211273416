// vfio-node net SUBCOMMAND: the packet apps on virtio-net NICs (pktgen, count, fwd,
// respond), and `bringup`, the driver's initialization walked step by step. The apps and
// their options live in bench/src/net (@vfio-node/bench/net); this file hands them the
// command line, loaded on demand like every command. pktgen, count and fwd with no PCI
// address run in the lab (../net/lab.ts), as `vfio-node bench` does with no --filename.

import { accessSync, constants, copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { invalidArgument } from '@vfio-node/core';
import { main } from '../main.js';
import { LAB_APPS, LAB_OUTPUT_NAME, planNetInLab } from '../net/lab.js';
import { takeLabOptions } from './bench.js';

/** parseArgs' table of the apps' options. */
type NetOptions = Record<string, { type: 'string' | 'boolean'; short?: string }>;

/** The part of @vfio-node/bench/net this command uses. */
interface NetApps {
  runNet(argv: string[]): Promise<number>;
  NET_USAGE: string;
  NET_OPTIONS: NetOptions;
}

// A specifier in a variable: the CLI builds without the bench package's types, and
// `vfio-node list` never loads the driver.
const APPS = '@vfio-node/bench/net';

/** What `net --help` adds to the apps' help. */
const BRINGUP_LINE = `
  bringup ADDR [--explain [--step]]
                     bring a NIC up and reset it; --explain walks the virtio 1.2 §3.1.1
                     steps (what the spec says, the driver's writes, the device's
                     answers, decoded), --step waits for Enter between them
                     ('vfio-node net bringup --help')`;

/** What `net --help` says of running with no address. */
const LAB_LINE = `

With no PCI address, pktgen, count and fwd run in the lab (vfio-node lab run) on its two
NICs: the other NIC plays the partner (count drains pktgen, pktgen feeds count, fwd gets
--tx-first 32 frames), --duration is 10 s unless --duration or --count is given,
--output lands on the host, and --accel chooses the lab's accelerator.`;

/** Runs `vfio-node net ...`; returns the exit status. */
export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'bringup') return (await import('../net/bringup.js')).bringup(rest);
  const apps = (await import(APPS)) as NetApps;
  if (!sub || sub === '--help' || sub === '-h') {
    console.log(apps.NET_USAGE.replace('\n\ncommon options:', `${BRINGUP_LINE}\n\ncommon options:`) + LAB_LINE);
    return sub ? 0 : 2;
  }
  if ((LAB_APPS as readonly string[]).includes(sub)) {
    const { argv: own, accel } = takeLabOptions(rest);
    const inLab = withoutAddress(own, apps.NET_OPTIONS);
    if (inLab) return runInLab(sub as (typeof LAB_APPS)[number], inLab, accel);
    if (accel !== undefined) throw invalidArgument('--accel', accel, 'no --accel when a PCI address is named (it chooses the lab\'s accelerator)', 'Leave out --accel, or leave out the address to run in the lab.');
  }
  return apps.runNet(argv);
}

/** The app's options when no address is given (and no --help), else undefined (the app itself reports usage errors). */
function withoutAddress(args: string[], options: NetOptions): { args: string[]; given: Set<string>; output: string | undefined } | undefined {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, tokens: true });
  } catch {
    return undefined;
  }
  if (parsed.positionals.length > 0 || parsed.values.help) return undefined;
  const given = new Set<string>();
  const kept: string[] = [];
  let output: string | undefined;
  for (const t of parsed.tokens ?? []) {
    if (t.kind !== 'option') continue;
    given.add(t.name);
    if (t.name === 'output') output = t.value;
    else kept.push(t.value === undefined ? `--${t.name}` : `--${t.name}=${t.value}`);
  }
  return { args: kept, given, output };
}

/** Boots the lab, runs the app there with its partner, and brings --output back. */
async function runInLab(sub: (typeof LAB_APPS)[number], opts: { args: string[]; given: Set<string>; output: string | undefined }, accel: string | undefined): Promise<number> {
  const { output } = opts;
  if (output !== undefined) {
    try {
      accessSync(path.dirname(path.resolve(output)), constants.W_OK);
    } catch (err) {
      throw invalidArgument('--output', output, `a file in a directory you can write (${path.dirname(path.resolve(output))}: ${(err as NodeJS.ErrnoException).code})`, 'Name a file in a directory that exists and that you can write.');
    }
  }
  const plan = planNetInLab(sub, opts.args, (name) => opts.given.has(name), output !== undefined);
  for (const line of plan.notices) console.error(line);
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'vfio-node-net-'));
  const lab = accel ?? process.env.VFIO_LAB_ACCEL;
  try {
    const status = await main(['lab', 'run', '--nvme', 'none', '--nics', '2', ...(lab ? ['--accel', lab] : []), '--out', outDir, '--', 'sh', '-c', plan.script]);
    if (output !== undefined) {
      const written = path.join(outDir, LAB_OUTPUT_NAME);
      if (existsSync(written)) copyFileSync(written, path.resolve(output));
      else if (status === 0) console.error(`vfio-node net ${sub}: the app wrote no ${output}`);
    }
    return status;
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}
