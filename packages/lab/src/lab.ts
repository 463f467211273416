// Boots one lab guest that runs one command: startLab() returns a handle to watch the
// command's output, talk to QEMU's monitor while it runs, wait for the result or kill
// it; runLab() is start + wait.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { findCliBin } from './cli-bin.js';
import { registerCleanup, RUN_DIR_PREFIX, sweepStaleRunDirs } from './cleanup.js';
import { LabError } from './errors.js';
import { guestEnvironment, guestScript, shQuote, vfioNodeWrapper } from './guest-command.js';
import { chooseAccel, systemAccelHost, type AccelDecision } from './accel.js';
import { defaultCacheDir, findGuestKernel, findQemu, which } from './host.js';
import { DIED_MARKER, EXIT_MARKER, PHASE_MARKER, READY_MARKER, SIGNAL_BYTES } from './init-script.js';
import { ensureInitramfs, type Initramfs } from './initramfs.js';
import { resolveOptions, type LabOptions, type ResolvedLabOptions } from './options.js';
import { hmpExecute, qmpExecute } from './qmp.js';
import { checkTapHost, netnsWrap } from './netns.js';
import { blkdebugConfig, blkdebugConfigPath, buildQemuArgs, nvmeBackingFiles, type QemuPaths } from './qemu-args.js';
import { linkEnds, machineAddress, MACHINE_AGENT_PORT, type LinkEnd } from './link.js';

/**
 * The `vfio-node` command put on the guest's PATH unless LabOptions.cliBin names another:
 * the vfio-node package's bin, found beside this package (undefined when not installed).
 */
export const CLI_BIN: string | undefined = findCliBin();

/**
 * Where a boot is: `initramfs` (finding or building it), `boot` (QEMU started, the guest
 * kernel booting), then /init's steps `init`, `modules`, `bind` (devices to vfio-pci or
 * their kernel drivers), `mount` (the host's files), `running` (the command), `poweroff`.
 */
export type LabPhase = 'initramfs' | 'boot' | 'init' | 'modules' | 'bind' | 'mount' | 'running' | 'poweroff';

/** Callbacks for what happens in a lab: its phases, notices, the command's output and the guest's console. */
export interface LabHandlers {
  /** Each phase as the boot reaches it. */
  onPhase?(phase: LabPhase): void;
  /** A line for the user that is not an error (e.g. KVM is present but cannot run guests: software emulation is used). */
  onNotice?(text: string): void;
  /** The command's stdout, decoded as UTF-8, as it arrives. */
  onStdout?(text: string): void;
  /** The command's stderr, as it arrives. */
  onStderr?(text: string): void;
  /** The guest console (kernel messages, /init's complaints), \r removed. */
  onConsole?(text: string): void;
}

/** How long the boot, the command and the whole run took, ms. */
export interface LabTimings {
  /** From starting QEMU to the command starting in the guest. */
  bootMs: number | undefined;
  /** From the command starting to QEMU's exit (includes power-off). */
  commandMs: number | undefined;
  /** From startLab() to QEMU's exit, initramfs and files included. */
  totalMs: number;
}

/** How a lab run ended: the command's exit status and output, and the timings. */
export interface LabResult {
  /** The command's exit status. */
  exitCode: number;
  /** The command's stdout. */
  stdout: string;
  /** The command's stderr. */
  stderr: string;
  /** stdout and stderr in the order they arrived. */
  output: string;
  /** Where $VFIO_LAB_OUT was copied (options.outDir), if given. */
  outDir: string | undefined;
  /** The guest console (kernel messages), for diagnosis. */
  console: string;
  /** QEMU's own messages (its stderr), e.g. blkdebug's "aio failed". */
  qemuLog: string;
  /** The accelerator the lab ran with. */
  accel: 'kvm' | 'tcg';
  /** The guest kernel's version. */
  kernelVersion: string;
  /** How long the boot, the command and the whole run took. */
  timings: LabTimings;
  /** What machine 2 did, in a two-machine lab (LabOptions.machines = 2). */
  machine2: Machine2Report | undefined;
}

/** Machine 2 of a two-machine lab, for diagnosis: its console and its agent's log. */
export interface Machine2Report {
  /** Its console (kernel messages, /init's complaints), the last 64 KiB. */
  console: string;
  /** What its command agent printed (one line per command it ran). */
  output: string;
  /** Why it ended before machine 1's command did, if it did (its boot failed, it died). */
  failure: string | undefined;
}

/** How the lab starts a machine that is not the first (internal: machine 2 of a two-machine lab). */
export interface MachineContext {
  /** Its end of the private link. */
  link: LinkEnd;
  /** The accelerator machine 1 decided on (machine 2 does not probe again). */
  accel: AccelDecision;
}

const TAIL = 64 * 1024;

interface Channel {
  server: net.Server;
  socket: net.Socket | undefined;
  done: Promise<void>;
}

/**
 * Boots the lab and starts `command` in it; returns at once.
 * @param options devices, memory, binding (see LabOptions)
 * @param command argv run inside, in options.cwd, with $VFIO_LAB_NVME, $VFIO_LAB_NICS, $VFIO_LAB_OUT set
 * @throws LabError for a missing host package, a bad option, or a command not found on the host
 */
export function startLab(options: LabOptions, command: string[], handlers: LabHandlers = {}): Lab {
  return new Lab(resolveOptions(options), command, handlers);
}

/** Boots the lab, runs `command` and resolves with its exit status and output. */
export async function runLab(options: LabOptions, command: string[], handlers: LabHandlers = {}): Promise<LabResult> {
  return startLab(options, command, handlers).wait();
}

/**
 * A running lab: one QEMU guest running one command. Watch its output with the handlers, talk to QEMU's monitor
 * (QMP) while it runs, wait() for the result or kill() it.
 */
export class Lab {
  /** The options with every default filled in. */
  readonly options: ResolvedLabOptions;
  /** The accelerator in use: KVM or software emulation (TCG). */
  readonly accel: 'kvm' | 'tcg';
  /** Why that accelerator (see accel.ts). */
  readonly accelDecision: AccelDecision;
  /** The version of the kernel the guest boots. */
  readonly kernelVersion: string;
  /** The run's host directory (exported writable into the guest at /run/vfio-lab); removed at the end. */
  readonly runDir: string;
  /** QEMU's monitor (QMP) socket, for device hot-plug and queries while the command runs. */
  readonly qmpSocket: string;
  /** The command's stdout and stderr as byte streams. */
  readonly stdout: Readable = new PassThrough();
  /** The command's stderr as a byte stream. */
  readonly stderr: Readable = new PassThrough();
  /** The QEMU command line, for diagnosis. */
  readonly qemuArgv: string[];
  /** True when the initramfs was built for this boot rather than taken from the cache. */
  readonly initramfsBuilt: boolean;

  #child: ChildProcess;
  #startedAt = Date.now();
  #qemuAt = 0;
  #readyAt: number | undefined;
  #stdout = '';
  #stderr = '';
  #output = '';
  #console = '';
  #qemuLog = '';
  #timedOut = false;
  #bootTimedOut = false;
  #killed = false;
  #interrupted: NodeJS.Signals | undefined;
  #timer: NodeJS.Timeout | undefined;
  #bootTimer: NodeJS.Timeout | undefined;
  #phase: LabPhase = 'initramfs';
  #channels: Channel[] = [];
  #unregister: () => void;
  #result: Promise<LabResult>;
  #waiters: Array<() => void> = [];
  #machine2: Lab | undefined;
  #machine2Failure: string | undefined;
  #machine2Stopping = false;

  /**
   * Prefer startLab().
   * @param machine only for machine 2 of a two-machine lab, which machine 1 starts itself
   */
  constructor(options: ResolvedLabOptions, command: string[], private readonly handlers: LabHandlers, machine?: MachineContext) {
    this.options = options;
    if (command.length === 0) throw new LabError({ code: 'ERR_INVALID_ARG', message: 'no command to run in the lab', hint: 'Give it after --, e.g. vfio-node lab run -- node -v' });
    if (options.checkCommand) checkCommand(command[0]!, options.cwd);
    if (options.machines === 2 && !machine && (options.cliBin ?? CLI_BIN) === undefined) {
      throw new LabError({
        code: 'ERR_INVALID_ARG',
        message: 'machine 2 runs the vfio-node command\'s agent (vfio-node lab agent), and no vfio-node command is installed beside @vfio-node/lab',
        hint: 'npm install vfio-node (or give cliBin).',
      });
    }
    const qemu = findQemu();
    const kernel = findGuestKernel(options.kernelVersion);
    this.kernelVersion = kernel.version;
    const cacheDir = options.cacheDir ?? defaultCacheDir();
    // `--accel kvm` on a machine where KVM cannot run guests fails before QEMU starts. The
    // probe boots this lab's kernel and initramfs (built here when the cache has none).
    const built: { initramfs?: Initramfs } = {};
    const guestFiles = () => {
      if (!built.initramfs) {
        handlers.onPhase?.('initramfs');
        built.initramfs = ensureInitramfs(kernel, cacheDir);
      }
      return { kernel: kernel.image, initrd: built.initramfs.path };
    };
    this.accelDecision = machine ? machine.accel : chooseAccel(options.accel, systemAccelHost(qemu, cacheDir, guestFiles));
    this.accel = this.accelDecision.accel;
    if (this.accelDecision.notice) handlers.onNotice?.(this.accelDecision.notice);
    const initrd = guestFiles().initrd;
    this.initramfsBuilt = built.initramfs!.built;

    sweepStaleRunDirs();
    this.runDir = fs.mkdtempSync(path.join(os.tmpdir(), RUN_DIR_PREFIX));
    this.qmpSocket = path.join(this.runDir, 'qmp.sock');
    const runDir = this.runDir;
    let child: ChildProcess | undefined;
    this.#unregister = registerCleanup(() => {
      if (child?.pid && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      fs.rmSync(runDir, { recursive: true, force: true });
    });
    try {
      this.#prepareRunDir(command, qemu);
      const serials = { console: path.join(runDir, 'console.sock'), stdout: path.join(runDir, 'stdout.sock'), stderr: path.join(runDir, 'stderr.sock') };
      // QEMU connects to these as it creates its chardevs: listen first (synchronous for unix sockets).
      this.#channels = [
        this.#listen(serials.console, (s) => this.#onConsole(s)),
        this.#listen(serials.stdout, (s, raw) => this.#onCommandOutput('stdout', s, raw)),
        this.#listen(serials.stderr, (s, raw) => this.#onCommandOutput('stderr', s, raw)),
      ];
      // A two-machine lab: the link's sockets live in machine 1's run directory; machine 2
      // starts first (the link needs no order, and a failure to start it then costs no boot).
      let link = machine?.link;
      if (options.machines === 2 && !machine) {
        const [one, two] = linkEnds(runDir);
        link = one;
        this.#machine2 = this.#startMachine2(two);
      }
      const paths: QemuPaths = { kernel: kernel.image, initrd, runDir, qmpSocket: this.qmpSocket, accel: this.accel, serials, ...(link ? { link } : {}) };
      this.qemuArgv = [qemu, ...buildQemuArgs(options, paths)];
      // The tap backend: QEMU starts in a network namespace of its own, with its taps (netns.ts).
      const qemuArgv = options.nics > 0 && options.nic.backend === 'tap' ? netnsWrap(this.qemuArgv, options, checkTapHost()) : this.qemuArgv;
      // If this process dies without cleaning up (SIGKILL), the kernel kills QEMU.
      const setpriv = which('setpriv');
      const argv = setpriv ? [setpriv, '--pdeathsig', 'SIGKILL', '--', ...qemuArgv] : qemuArgv;
      this.#qemuAt = Date.now();
      // A process group of its own: Ctrl-C on the terminal reaches this process, which
      // passes it to the command in the guest (interrupt()), not QEMU, which would die at once.
      child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    } catch (err) {
      this.#machine2?.kill();
      for (const c of this.#channels) c.server.close();
      this.#unregister();
      fs.rmSync(runDir, { recursive: true, force: true });
      throw err;
    }
    this.#child = child;
    this.#wireOutput(child);
    this.#setPhase('boot');
    this.#bootTimer = setTimeout(() => {
      if (this.#readyAt !== undefined) return;
      this.#bootTimedOut = true;
      child.kill('SIGKILL');
    }, options.bootTimeoutMs);
    if (options.timeoutMs !== undefined) {
      this.#timer = setTimeout(() => {
        this.#timedOut = true;
        child.kill('SIGKILL');
      }, options.timeoutMs);
    }
    this.#result = new Promise<LabResult>((resolve, reject) => {
      child.on('error', (err) => {
        this.#machine2?.kill();
        this.#finish();
        reject(new LabError({ code: 'ERR_LAB_QEMU_START', message: `cannot start QEMU: ${err.message}`, hint: 'apt-get install qemu-system-x86', cause: err }));
      });
      child.on('close', async (code, signal) => {
        // Machine 2 lives as long as machine 1's command: stop it now.
        await this.#stopMachine2();
        // The serial sockets close with QEMU; wait for their last bytes (briefly).
        await Promise.race([Promise.all(this.#channels.map((c) => c.done)), new Promise((r) => setTimeout(r, 2000))]);
        for (const c of this.#channels) {
          c.server.close();
          c.socket?.destroy();
        }
        try {
          resolve(this.#collect(code, signal));
        } catch (err) {
          reject(err);
        } finally {
          this.#finish();
        }
      });
    });
    this.#result.catch(() => undefined); // wait() hands the rejection to the caller
  }

  /** QEMU's process id. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** True once the guest has started the command. */
  get ready(): boolean {
    return this.#readyAt !== undefined;
  }

  /** Resolves with the command's result once QEMU has exited; rejects with LabError when the guest timed out, died or was killed. */
  wait(): Promise<LabResult> {
    return this.#result;
  }

  /** The phase the boot has reached. */
  get phase(): LabPhase {
    return this.#phase;
  }

  /** The signal passed on by interrupt(), if any. */
  get interrupted(): NodeJS.Signals | undefined {
    return this.#interrupted;
  }

  /**
   * Sends `signal` to the command's process group in the guest (Ctrl-C: SIGINT). Before
   * the command has started there is nothing to signal: the guest is killed instead.
   */
  interrupt(signal: keyof typeof SIGNAL_BYTES = 'SIGINT'): void {
    this.#interrupted = signal;
    const port = this.#channels[1]?.socket;
    if (this.#readyAt === undefined || !port || port.destroyed) {
      this.kill();
      return;
    }
    port.write(SIGNAL_BYTES[signal]);
  }

  /** Kills QEMU at once (the result then rejects with ERR_LAB_KILLED); machine 2's too. */
  kill(): void {
    this.#killed = true;
    this.#child.kill('SIGKILL');
    this.#machine2Stopping = true;
    this.#machine2?.kill();
  }

  /** Machine 2 of a two-machine lab (undefined otherwise): a Lab of its own, ended with this one. */
  get machine2(): Lab | undefined {
    return this.#machine2;
  }

  /** Boots machine 2: no devices of its own, the kernel's drivers, the command agent on its link address. */
  #startMachine2(link: LinkEnd): Lab {
    const o = this.options;
    const options2 = resolveOptions({
      nvme: [],
      nics: 0,
      memory: o.machine2.memory,
      cpus: o.machine2.cpus,
      hugepages: 0,
      bind: 'kernel',
      accel: this.accel,
      kernelVersion: o.kernelVersion,
      cacheDir: o.cacheDir,
      cwd: o.cwd,
      env: o.env,
      cliBin: o.cliBin,
      bootTimeoutMs: o.bootTimeoutMs,
      checkCommand: false,
    });
    const agent = ['vfio-node', 'lab', 'agent', '--listen', `${machineAddress(2)}:${MACHINE_AGENT_PORT}`];
    const lab2 = new Lab(options2, agent, {}, { link, accel: this.accelDecision });
    lab2.wait().then(
      (r) => {
        if (!this.#machine2Stopping) this.#machine2Ended(`its agent exited with status ${r.exitCode}: ${r.output.trim().split('\n').slice(-3).join(' / ')}`);
      },
      (err: unknown) => {
        if (!this.#machine2Stopping) this.#machine2Ended(err instanceof LabError ? err.describe() : String(err));
      },
    );
    return lab2;
  }

  #machine2Ended(why: string): void {
    this.#machine2Failure = why;
    this.handlers.onNotice?.(`machine 2 ended before machine 1's command: ${why}`);
  }

  async #stopMachine2(): Promise<void> {
    const m = this.#machine2;
    if (!m) return;
    this.#machine2Stopping = true;
    m.kill();
    await m.wait().catch(() => undefined);
  }

  /** Runs a human-monitor command (`device_del nvme0`, `info pci`) and returns its text. */
  monitor(commandLine: string): Promise<string> {
    return hmpExecute(this.qmpSocket, commandLine);
  }

  /** Runs a QMP command and returns its `return` value. */
  qmp(execute: string, args?: Record<string, unknown>): Promise<unknown> {
    return qmpExecute(this.qmpSocket, execute, args);
  }

  /** Resolves when the command's output (stdout and stderr) matches `pattern`; rejects after timeoutMs or when the lab ends first. */
  waitForOutput(pattern: string | RegExp, timeoutMs = 120_000): Promise<void> {
    const matches = () => (typeof pattern === 'string' ? this.#output.includes(pattern) : pattern.test(this.#output));
    return new Promise((resolve, reject) => {
      if (matches()) return resolve();
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== check);
        reject(new LabError({ code: 'ERR_LAB_TIMEOUT', message: `the lab's output did not show ${String(pattern)} within ${timeoutMs} ms` }));
      }, timeoutMs);
      const check = () => {
        if (matches()) {
          clearTimeout(timer);
          this.#waiters = this.#waiters.filter((w) => w !== check);
          resolve();
        }
      };
      this.#waiters.push(check);
      this.#result.then(
        () => {
          check();
          clearTimeout(timer);
          if (!matches()) reject(new LabError({ code: 'ERR_LAB_ENDED', message: `the lab ended before its output showed ${String(pattern)}` }));
        },
        (err) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  /** Kills the guest if it still runs and waits for QEMU to end, for `await using lab = startLab(...)`. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.kill();
    await this.#result.catch(() => undefined);
  }

  /** What the guest's programs may record of the lab (bench's "vfio-node environment"): the accelerator, QEMU, the host. */
  #facts(qemu: string): Record<string, string> {
    const cpus = os.cpus();
    const facts: Record<string, string> = {
      VFIO_LAB_ACCEL_USED: this.accel,
      VFIO_LAB_HOST_MACHINE: `${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} CPUs, Linux ${os.release()}`,
    };
    const v = spawnSync(qemu, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    const first = v.stdout?.split('\n')[0]?.trim();
    if (first) facts.VFIO_LAB_QEMU = first;
    return facts;
  }

  #prepareRunDir(command: string[], qemu: string): void {
    const o = this.options;
    fs.writeFileSync(path.join(this.runDir, 'owner'), String(process.pid));
    fs.mkdirSync(path.join(this.runDir, 'out'));
    fs.mkdirSync(path.join(this.runDir, 'bin'));
    fs.writeFileSync(path.join(this.runDir, 'bin', 'vfio-node'), vfioNodeWrapper(o.cliBin ?? CLI_BIN), { mode: 0o755 });
    fs.writeFileSync(path.join(this.runDir, 'cmd.sh'), guestScript(command, o.cwd, guestEnvironment(process.env, { ...this.#facts(qemu), ...o.env })));
    o.nvme.forEach((spec, i) => {
      for (const file of nvmeBackingFiles(spec, i, this.runDir)) {
        // Created sparse, or grown (never shrunk) to the namespace size.
        const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
        try {
          if (fs.fstatSync(fd).size < spec.size) fs.ftruncateSync(fd, spec.size);
        } finally {
          fs.closeSync(fd);
        }
      }
      if (spec.inject) fs.writeFileSync(blkdebugConfigPath(i, this.runDir), blkdebugConfig(spec.inject));
    });
  }

  /** A unix socket server for one serial port; the first connection (QEMU's) is read as text. */
  #listen(socketPath: string, sink: (s: string, raw: Buffer) => void): Channel {
    const server = net.createServer();
    const channel: Channel = { server, socket: undefined, done: Promise.resolve() };
    channel.done = new Promise<void>((resolve) => {
      server.once('connection', (socket) => {
        channel.socket = socket;
        server.close();
        const dec = new StringDecoder('utf8');
        socket.on('data', (b: Buffer) => sink(dec.write(b), b));
        socket.on('error', () => undefined);
        socket.on('close', () => {
          const rest = dec.end();
          if (rest) sink(rest, Buffer.alloc(0));
          resolve();
        });
      });
    });
    server.on('error', () => undefined);
    server.listen(socketPath);
    return channel;
  }

  #notify(): void {
    for (const w of [...this.#waiters]) w();
  }

  #onCommandOutput(which: 'stdout' | 'stderr', s: string, raw: Buffer): void {
    if (raw.length) (which === 'stdout' ? (this.stdout as PassThrough) : (this.stderr as PassThrough)).write(raw);
    if (which === 'stdout') {
      this.#stdout += s;
      this.handlers.onStdout?.(s);
    } else {
      this.#stderr += s;
      this.handlers.onStderr?.(s);
    }
    this.#output += s;
    this.#notify();
  }

  #onConsole(s: string): void {
    s = s.replaceAll('\r', '');
    this.#console = (this.#console + s).slice(-TAIL);
    // Markers in the new text (and a line split across two chunks: look back a little).
    const fresh = this.#console.slice(Math.max(0, this.#console.length - s.length - 64));
    for (const m of fresh.matchAll(new RegExp(`${PHASE_MARKER}(\\w+)\n`, 'g'))) {
      const phase = m[1] as LabPhase;
      if (PHASE_ORDER.indexOf(phase) > PHASE_ORDER.indexOf(this.#phase)) this.#setPhase(phase);
    }
    if (this.#readyAt === undefined && this.#console.includes(READY_MARKER)) {
      this.#readyAt = Date.now();
      if (this.#bootTimer) clearTimeout(this.#bootTimer);
      this.#setPhase('running');
    }
    if (this.#phase === 'running' && fresh.includes(EXIT_MARKER)) this.#setPhase('poweroff');
    this.handlers.onConsole?.(s);
  }

  #setPhase(phase: LabPhase): void {
    this.#phase = phase;
    this.handlers.onPhase?.(phase);
  }

  #wireOutput(child: ChildProcess): void {
    const text = (stream: Readable | null | undefined, sink: (s: string, raw: Buffer) => void) => {
      if (!stream) return;
      const dec = new StringDecoder('utf8');
      stream.on('data', (b: Buffer) => sink(dec.write(b), b));
      stream.on('end', () => {
        const rest = dec.end();
        if (rest) sink(rest, Buffer.alloc(0));
      });
    };
    const qemuLog = (s: string) => {
      this.#qemuLog = (this.#qemuLog + s).slice(-TAIL);
    };
    text(child.stdout, qemuLog);
    text(child.stderr, qemuLog);
  }

  #collect(code: number | null, signal: NodeJS.Signals | null): LabResult {
    const end = Date.now();
    (this.stdout as PassThrough).end();
    (this.stderr as PassThrough).end();
    let status: number | undefined;
    try {
      const s = fs.readFileSync(path.join(this.runDir, 'status'), 'utf8').trim();
      if (/^\d+$/.test(s)) status = Number(s);
    } catch {
      const m = new RegExp(`${EXIT_MARKER}(\\d+)`).exec(this.#console);
      if (m) status = Number(m[1]);
    }
    let outDir: string | undefined;
    if (this.options.outDir) {
      outDir = path.resolve(this.options.outDir);
      fs.mkdirSync(outDir, { recursive: true });
      fs.cpSync(path.join(this.runDir, 'out'), outDir, { recursive: true });
    }
    const details = { console: this.#console.slice(-4096), qemuLog: this.#qemuLog.slice(-4096), stdout: this.#stdout, stderr: this.#stderr, qemuExit: code, qemuSignal: signal };
    const tail = (s: string) => s.trim().split('\n').slice(-15).join('\n    ');
    const diagnosis = () =>
      `\n  console (last lines):\n    ${tail(this.#console) || '(empty)'}\n  qemu said:\n    ${tail(this.#qemuLog) || '(nothing)'}\n  qemu command line:\n    ${this.qemuArgv.map(shQuote).join(' ')}`;
    if (this.#bootTimedOut) {
      throw new LabError({
        code: 'ERR_LAB_BOOT_TIMEOUT',
        message:
          `the lab guest did not start the command within ${this.options.bootTimeoutMs / 1000} s of QEMU's start (${this.accel}; last phase: ${this.#phase}); QEMU was killed` + diagnosis(),
        hint:
          this.accel === 'kvm'
            ? 'KVM may not run this guest properly here: try --accel tcg (or VFIO_LAB_ACCEL=tcg).'
            : this.#phase === 'boot'
              ? 'The guest kernel did not reach the lab\'s /init: check the kernel (linux-image-amd64) and the console above.'
              : 'A loaded machine boots slowly: retry, or raise the boot deadline (bootTimeoutMs).',
        details: { ...details, qemuArgv: this.qemuArgv, phase: this.#phase },
      });
    }
    if (this.#timedOut) {
      throw new LabError({
        code: 'ERR_LAB_TIMEOUT',
        message: `the lab timed out after ${this.options.timeoutMs} ms ${this.#readyAt ? 'while the command ran' : 'before the command started'}; QEMU was killed`,
        hint: this.#readyAt ? 'The command hung or needs longer: raise --timeout.' : 'Booting under TCG takes 7-10 s; raise --timeout.',
        details,
      });
    }
    if (this.#killed) throw new LabError({ code: 'ERR_LAB_KILLED', message: this.#interrupted ? `the lab was stopped (${this.#interrupted}) and QEMU killed` : 'the lab was killed', details });
    if (status === undefined) {
      const died = this.#console.split('\n').find((l) => l.includes(DIED_MARKER));
      throw new LabError({
        code: 'ERR_LAB_GUEST_DIED',
        message: died
          ? `the lab guest failed to set up: ${died.slice(died.indexOf(DIED_MARKER) + DIED_MARKER.length).trim()}`
          : `the lab guest ended without reporting the command's status (QEMU ${signal ? `killed by ${signal}` : `exit code ${code}`}; ${this.accel}; last phase: ${this.#phase})` + diagnosis(),
        hint:
          this.accel === 'kvm'
            ? 'KVM may not run this guest properly here: try --accel tcg (or VFIO_LAB_ACCEL=tcg).'
            : 'Run with --verbose to see the whole console; check that QEMU and the kernel boot (vfio-node lab run -- true).',
        details,
      });
    }
    return {
      exitCode: status,
      stdout: this.#stdout,
      stderr: this.#stderr,
      output: this.#output,
      outDir,
      console: this.#console,
      qemuLog: this.#qemuLog,
      accel: this.accel,
      kernelVersion: this.kernelVersion,
      machine2: this.#machine2 ? { console: this.#machine2.#console, output: this.#machine2.#output, failure: this.#machine2Failure } : undefined,
      timings: {
        bootMs: this.#readyAt === undefined ? undefined : this.#readyAt - this.#qemuAt,
        commandMs: this.#readyAt === undefined ? undefined : end - this.#readyAt,
        totalMs: end - this.#startedAt,
      },
    };
  }

  #finish(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#bootTimer) clearTimeout(this.#bootTimer);
    this.#unregister();
    fs.rmSync(this.runDir, { recursive: true, force: true });
  }
}

const PHASE_ORDER: readonly LabPhase[] = ['initramfs', 'boot', 'init', 'modules', 'bind', 'mount', 'running', 'poweroff'];

/**
 * Checks on the host that the command exists (the guest sees the host's files), so that
 * a typo fails in milliseconds rather than after a boot.
 * @throws LabError ERR_LAB_COMMAND_NOT_FOUND
 */
export function checkCommand(name: string, cwd: string): void {
  if (name === 'vfio-node') return; // the lab's own wrapper, on the guest's PATH
  const found = name.includes('/') ? isExecutable(path.resolve(cwd, name)) : which(name) !== undefined;
  if (!found) {
    throw new LabError({
      code: 'ERR_LAB_COMMAND_NOT_FOUND',
      message: `command not found: ${name} (the lab runs commands from the host's filesystem, read-only, on the host's PATH)`,
      hint: name.includes('/') ? `Check the path; it is resolved from ${cwd}.` : 'Install it on the host, or give its full path.',
      path: name,
    });
  }
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}
