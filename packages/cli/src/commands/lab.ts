// vfio-node lab run: boot the QEMU lab, bind its devices, run one command inside and
// exit with the command's status. The library is @vfio-node/lab; this file only reads
// the command line and prints.

import { parseArgs } from 'node:util';
import { LabError, MACHINE_AGENT_PORT, machineAddress, parseNvmeSpec, runOnMachine, serveMachineCommands, startLab, type Lab, type LabOptions, type LabPhase } from '@vfio-node/lab';

/** After the first Ctrl-C the command has this long to end before QEMU is killed. */
const STOP_GRACE_MS = 10_000;

const USAGE = `usage: vfio-node lab run [options] -- COMMAND [ARGS...]
       vfio-node lab machine2 [--timeout SEC] -- COMMAND [ARGS...]   (inside a --machines 2 lab)

Boots a throwaway QEMU guest (q35, emulated intel-iommu) that sees this machine's files
read-only (writes go to a tmpfs overlay and vanish), binds its NVMe controllers and NICs
to vfio-pci, reserves hugepages and runs COMMAND in the current directory. Inside:
$VFIO_LAB=1, $VFIO_LAB_NVME and $VFIO_LAB_NICS (PCI addresses), $VFIO_LAB_OUT (copied
to --out DIR at the end), and the project's vfio-node on PATH.

options:
  --nvme SPEC       an NVMe controller (repeat for more; 'none' for no NVMe). SPEC is
                    key=value,...: size=1G lba=512|4096 namespaces=N mdts=N ioqpairs=N
                    serial=S image=PATH hotplug=1 inject=read:SECTOR latency=NS backing=null
                    aio=threads|io_uring (how QEMU reads and writes the file; default threads)
                    (default: one controller, 1G, 512 B LBAs, serial VFIONODE0)
  --nics N          virtio-net NICs (default 0)
  --nic-join J      hub (default: all NICs on one QEMU hub, frames flow between them)
                    or none (each NIC alone)
  --nic SPEC        what every NIC offers, key=value,...: packed=on mq=on event_idx=off
                    rx_queue_size=256|512|1024 tx=bh|timer txburst=N (default: QEMU's)
                    backend=hub|tap queues=N (tap: several queue pairs and checksum
                    offloads, on taps bridged in a network namespace of QEMU's own;
                    needs root and /dev/net/tun)
  --memory SIZE     guest memory (default 2G)
  --cpus N          vCPUs (default 2)
  --hugepages N     2 MiB hugepages to reserve (default 256)
  --bind MODE       vfio (default) or kernel (leave devices on nvme / virtio_net)
  --out DIR         copy what the command wrote to $VFIO_LAB_OUT into DIR
  --timeout SEC     kill the guest after SEC seconds (default 1800)
  --accel A         auto (default; or $VFIO_LAB_ACCEL): KVM when KVM really runs a
                    guest here (a probe, cached), else TCG; kvm; tcg
  --machines N      1 (default) or 2: also boot machine 2, a small guest (no NVMe or NIC
                    of its own, kernel drivers) joined to this one by a private link: a
                    virtio-net NIC in each guest on the kernel's virtio_net, 10.99.0.1/24
                    here ($VFIO_LAB_LINK_ADDR) and 10.99.0.2/24 there, carried by QEMU
                    between two unix sockets (never the host's network). Machine 2 runs
                    the lab's command agent; COMMAND runs commands there with
                    'vfio-node lab machine2 -- CMD' (or runOnMachine(2, argv) from
                    @vfio-node/lab). It is stopped when COMMAND ends.
  --machine2-memory SIZE, --machine2-cpus N
                    machine 2's size (default 512M, 1 vCPU)
  --verbose         show the guest console and timings on stderr

On a terminal, the lab's phases show on stderr until the command starts. Ctrl-C passes
SIGINT to the command in the guest (which may print what it has, as fio does) and stops
the guest; a second Ctrl-C, or ${STOP_GRACE_MS / 1000} s without an end, kills it at once. Exit status 130.
`;

/** Runs `vfio-node lab <subcommand>`; returns the exit status. */
export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h') {
    console.log(USAGE);
    return sub ? 0 : 2;
  }
  if (sub === 'machine2') return runOnMachine2(rest);
  if (sub === 'agent') return agent(rest);
  if (sub !== 'run') {
    console.error(`vfio-node lab: unknown subcommand '${sub}'\n\n${USAGE}`);
    return 2;
  }
  let parsed: ReturnType<typeof parseLabRunArgs>;
  try {
    parsed = parseLabRunArgs(rest);
  } catch (err) {
    if (err instanceof LabError) {
      console.error(`vfio-node lab: ${err.describe()}`);
      return 2;
    }
    console.error(`vfio-node lab: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.help) {
    console.log(USAGE);
    return 0;
  }
  const { options, command, verbose } = parsed;
  const progress = process.stderr.isTTY && !verbose ? new PhaseLine() : undefined;
  let lab: Lab | undefined;
  let grace: NodeJS.Timeout | undefined;
  const onSigint = () => {
    if (!lab) return;
    if (lab.interrupted) {
      process.stderr.write('\nvfio-node lab: killing the guest\n');
      lab.kill();
      return;
    }
    process.stderr.write(`\nvfio-node lab: stopping the command in the guest (Ctrl-C again to kill it now)\n`);
    lab.interrupt('SIGINT');
    grace = setTimeout(() => lab?.kill(), STOP_GRACE_MS);
  };
  process.on('SIGINT', onSigint);
  try {
    lab = startLab(options, command, {
      onStdout: (s) => {
        progress?.clear();
        process.stdout.write(s);
      },
      onStderr: (s) => {
        progress?.clear();
        process.stderr.write(s);
      },
      onConsole: verbose ? (s) => process.stderr.write(s) : undefined,
      onNotice: (text) => {
        progress?.clear();
        console.error(`vfio-node lab: ${text}`);
      },
      onPhase: (phase) => progress?.show(phase, lab?.accel),
    });
    progress?.show(lab.phase, lab.accel);
    const result = await lab.wait();
    progress?.clear();
    if (lab.interrupted) return 130;
    if (verbose) {
      const t = result.timings;
      console.error(
        `vfio-node lab: ${result.accel}, kernel ${result.kernelVersion}: boot to command ${t.bootMs} ms, command and power-off ${t.commandMs} ms, total ${t.totalMs} ms; exit status ${result.exitCode}`,
      );
    }
    return result.exitCode;
  } catch (err) {
    progress?.clear();
    if (err instanceof LabError && lab?.interrupted) {
      console.error('vfio-node lab: the guest was stopped');
      return 130;
    }
    if (err instanceof LabError) {
      console.error(`vfio-node lab: ${err.describe()}`);
      if (verbose && err.details?.qemuLog) console.error(`QEMU said:\n${String(err.details.qemuLog)}`);
      if (err.code === 'ERR_LAB_COMMAND_NOT_FOUND') return 127;
      if (err.code === 'ERR_LAB_TIMEOUT' || err.code === 'ERR_LAB_BOOT_TIMEOUT') return 124;
      if (err.code === 'ERR_INVALID_ARG') return 2;
      return 1;
    }
    throw err;
  } finally {
    progress?.stop();
    if (grace) clearTimeout(grace);
    process.off('SIGINT', onSigint);
  }
}

const PHASE_TEXT: Record<LabPhase, string> = {
  initramfs: 'preparing the guest (initramfs)',
  boot: 'booting the guest kernel',
  init: 'starting the lab\'s /init',
  modules: 'loading kernel modules',
  bind: 'binding devices',
  mount: 'mounting the host\'s files',
  running: '',
  poweroff: '',
};

/** One status line on the terminal, rewritten in place with the elapsed time until the command starts. */
class PhaseLine {
  #text = '';
  #since = Date.now();
  #shown = false;
  #ticker = setInterval(() => this.#draw(), 1000);

  constructor() {
    this.#ticker.unref();
  }

  show(phase: LabPhase, accel: string | undefined): void {
    const text = PHASE_TEXT[phase];
    if (!text) return this.stop();
    this.#text = phase === 'boot' && accel ? `${text} (${accel === 'kvm' ? 'KVM' : 'software emulation'})` : text;
    this.#draw();
  }

  #draw(): void {
    if (!this.#text) return;
    const s = Math.round((Date.now() - this.#since) / 1000);
    process.stderr.write(`\r\x1b[2Kvfio-node lab: ${this.#text}... ${s} s`);
    this.#shown = true;
  }

  clear(): void {
    if (this.#shown) process.stderr.write('\r\x1b[2K');
    this.#shown = false;
  }

  stop(): void {
    this.clear();
    this.#text = '';
    clearInterval(this.#ticker);
  }
}

/**
 * Reads `lab run` options; the command is everything after `--` (or from the first
 * word that is not an option).
 * @throws LabError or TypeError naming the bad option
 */
export function parseLabRunArgs(argv: string[]): { options: LabOptions; command: string[]; verbose: boolean; help: boolean } {
  const dash = argv.indexOf('--');
  let own = dash >= 0 ? argv.slice(0, dash) : argv;
  let command = dash >= 0 ? argv.slice(dash + 1) : [];
  const { values, positionals } = parseArgs({
    args: own,
    allowPositionals: true,
    options: {
      nvme: { type: 'string', multiple: true },
      nics: { type: 'string' },
      'nic-join': { type: 'string' },
      nic: { type: 'string' },
      memory: { type: 'string' },
      cpus: { type: 'string' },
      hugepages: { type: 'string' },
      bind: { type: 'string' },
      out: { type: 'string' },
      timeout: { type: 'string' },
      accel: { type: 'string' },
      machines: { type: 'string' },
      'machine2-memory': { type: 'string' },
      'machine2-cpus': { type: 'string' },
      verbose: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (dash < 0) {
    // Without `--`, the command starts at the first positional; options after it belong to it.
    const first = positionals[0];
    if (first !== undefined) {
      const at = argv.indexOf(first);
      own = argv.slice(0, at);
      command = argv.slice(at);
    }
  } else if (positionals.length) {
    throw new TypeError(`unexpected argument '${positionals[0]}' before --`);
  }
  const int = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new TypeError(`--${name} must be a whole number (got '${v}')`);
    return Number(v);
  };
  const nvme = values.nvme?.length === 1 && values.nvme[0] === 'none' ? [] : values.nvme?.map((s, i) => parseNvmeSpec(s, i));
  const timeout = values.timeout === undefined ? 1800 : Number(values.timeout);
  if (!(timeout > 0)) throw new TypeError(`--timeout must be a positive number of seconds (got '${values.timeout}')`);
  const join = values['nic-join'];
  if (join !== undefined && join !== 'hub' && join !== 'none') throw new TypeError(`--nic-join must be hub or none (got '${join}')`);
  const options: LabOptions = {
    nicHub: join !== 'none',
    nic: values.nic,
    nvme,
    nics: int('nics', values.nics),
    memory: values.memory,
    cpus: int('cpus', values.cpus),
    hugepages: int('hugepages', values.hugepages),
    bind: values.bind as LabOptions['bind'],
    outDir: values.out,
    timeoutMs: timeout * 1000,
    accel: values.accel as LabOptions['accel'],
    machines: int('machines', values.machines),
    machine2: { memory: values['machine2-memory'], cpus: int('machine2-cpus', values['machine2-cpus']) },
  };
  if (!values.help && command.length === 0) throw new TypeError('no command given (put it after --)');
  return { options, command, verbose: values.verbose ?? false, help: values.help ?? false };
}

/**
 * `vfio-node lab machine2 [--timeout SEC] -- COMMAND`: runs COMMAND on machine 2 of a
 * two-machine lab (from machine 1), in the same directory, prints its output as it comes
 * and returns its exit status.
 */
async function runOnMachine2(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  const own = dash >= 0 ? argv.slice(0, dash) : [];
  const command = dash >= 0 ? argv.slice(dash + 1) : argv;
  let timeoutMs: number | undefined;
  for (let i = 0; i < own.length; i++) {
    if (own[i] === '--timeout' && own[i + 1] !== undefined && Number(own[i + 1]) > 0) timeoutMs = Number(own[++i]) * 1000;
    else if (own[i] === '--help' || own[i] === '-h') {
      console.log(USAGE);
      return 0;
    } else {
      console.error(`vfio-node lab machine2: unknown option '${own[i]}'\n\n${USAGE}`);
      return 2;
    }
  }
  if (command.length === 0) {
    console.error(`vfio-node lab machine2: no command given (put it after --)\n\n${USAGE}`);
    return 2;
  }
  try {
    const r = await runOnMachine(2, command, {
      cwd: process.cwd(),
      timeoutMs,
      onStdout: (b) => process.stdout.write(b),
      onStderr: (b) => process.stderr.write(b),
    });
    return r.exitCode;
  } catch (err) {
    if (!(err instanceof LabError)) throw err;
    console.error(`vfio-node lab machine2: ${err.describe()}`);
    return err.code === 'ERR_LAB_COMMAND_NOT_FOUND' ? 127 : err.code === 'ERR_LAB_TIMEOUT' ? 124 : 1;
  }
}

/**
 * `vfio-node lab agent [--listen ADDR:PORT]`: what machine 2 of a two-machine lab runs
 * (the lab starts it): serves machine 1's commands until it is killed.
 */
async function agent(argv: string[]): Promise<number> {
  let listen = `${machineAddress(2)}:${MACHINE_AGENT_PORT}`;
  if (argv[0] === '--listen' && argv[1]) listen = argv[1];
  else if (argv.length) {
    console.error(`vfio-node lab agent: unknown arguments '${argv.join(' ')}' (expected --listen ADDR:PORT)`);
    return 2;
  }
  const at = listen.lastIndexOf(':');
  const host = listen.slice(0, at);
  const port = Number(listen.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`vfio-node lab agent: --listen must be ADDR:PORT (got '${listen}')`);
    return 2;
  }
  const server = await serveMachineCommands({ host, port, onCommand: (a) => console.log(`vfio-node lab agent: ${a.join(' ')}`) });
  console.log(`vfio-node lab agent: listening on ${host}:${port}`);
  await new Promise((resolve) => server.on('close', resolve));
  return 0;
}
