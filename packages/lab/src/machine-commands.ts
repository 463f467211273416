// How the first machine of a two-machine lab runs commands on the second: machine 2's
// lab command is a small agent (`vfio-node lab agent`, serveMachineCommands) listening on
// its link address, and runOnMachine() on machine 1 connects to it over the private link.
// One TCP connection per command. The client sends one JSON line, {argv, cwd?, env?};
// the agent starts argv (no shell) in a process group of its own and answers with JSON
// lines: {fd: 1|2, data: base64} as output arrives, then {exit, signal} or {error}. When
// the client goes away first, the agent kills the command's process group.
//
// Why this way: the second machine's commands depend on what the first has done (its
// target listens, say), and the first needs their results to assert on. With the first
// machine asking, there is one program in charge and nothing to synchronise: the only
// wait is for the agent to answer at all (machine 2 boots beside machine 1), which the
// client does by retrying its connection.

import { spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import { LabError } from './errors.js';
import { MACHINE_AGENT_PORT, machineAddress, type MachineNumber } from './link.js';

/** Where serveMachineCommands() listens. */
export interface MachineAgentOptions {
  /** The address to listen on (machine 2's link address inside the lab). */
  host: string;
  /** The TCP port (default MACHINE_AGENT_PORT; 0 for any). */
  port?: number;
  /** Called once for each command started, with its argv (for the agent's log). */
  onCommand?(argv: string[]): void;
}

/** What runOnMachine() sends: the command and where it runs. */
interface CommandRequest {
  argv: string[];
  cwd?: string;
  env?: Record<string, string>;
}

/**
 * Serves commands on `options.host`: each connection runs one command and streams its
 * output and exit status back. Resolves with the listening server once it listens.
 */
export function serveMachineCommands(options: MachineAgentOptions): Promise<net.Server> {
  const server = net.createServer((socket) => {
    let line = '';
    let started = false;
    socket.setEncoding('utf8');
    socket.on('error', () => undefined);
    socket.on('data', (chunk: string) => {
      if (started) return;
      line += chunk;
      const nl = line.indexOf('\n');
      if (nl < 0) return;
      started = true;
      let request: CommandRequest;
      try {
        request = parseRequest(line.slice(0, nl));
      } catch (err) {
        socket.end(`${JSON.stringify({ error: (err as Error).message })}\n`);
        return;
      }
      options.onCommand?.(request.argv);
      runRequest(request, socket);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? MACHINE_AGENT_PORT, options.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function parseRequest(text: string): CommandRequest {
  const r = JSON.parse(text) as Partial<CommandRequest>;
  if (!Array.isArray(r.argv) || r.argv.length === 0 || !r.argv.every((a) => typeof a === 'string')) throw new Error('the request has no argv (a non-empty array of strings)');
  return { argv: r.argv, cwd: typeof r.cwd === 'string' ? r.cwd : undefined, env: r.env && typeof r.env === 'object' ? r.env : undefined };
}

function runRequest(request: CommandRequest, socket: net.Socket): void {
  const send = (frame: object) => {
    if (!socket.destroyed) socket.write(`${JSON.stringify(frame)}\n`);
  };
  const child = spawn(request.argv[0]!, request.argv.slice(1), {
    cwd: request.cwd,
    env: { ...process.env, ...request.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let ended = false;
  child.stdout.on('data', (b: Buffer) => send({ fd: 1, data: b.toString('base64') }));
  child.stderr.on('data', (b: Buffer) => send({ fd: 2, data: b.toString('base64') }));
  child.on('error', (err) => {
    ended = true;
    socket.end(`${JSON.stringify({ error: `cannot start ${request.argv[0]}: ${err.message}` })}\n`);
  });
  child.on('close', (code, signal) => {
    if (ended) return;
    ended = true;
    if (!socket.destroyed) socket.end(`${JSON.stringify({ exit: code, signal })}\n`);
  });
  // The client left (or its connection broke): the command and everything it started go too.
  socket.on('close', () => {
    if (!ended && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** How runOnMachine() runs a command, and where its output goes as it arrives. */
export interface RunOnMachineOptions {
  /** The working directory on that machine (default: the agent's, the lab's working directory). */
  cwd?: string;
  /** Extra environment for the command. */
  env?: Record<string, string>;
  /** Give up (and kill the command) after this many milliseconds (default: no limit). */
  timeoutMs?: number;
  /** Keep trying to reach the agent for this long, ms: the machine may still be booting (default 300 s). */
  connectTimeoutMs?: number;
  /** The agent's address (default: the machine's link address). */
  host?: string;
  /** The agent's port (default MACHINE_AGENT_PORT). */
  port?: number;
  /** The command's stdout as it arrives. */
  onStdout?(chunk: Buffer): void;
  /** The command's stderr as it arrives. */
  onStderr?(chunk: Buffer): void;
}

/** How a command on another machine ended. */
export interface MachineCommandResult {
  /** The exit status; 128 + the signal's number when a signal ended it, as a shell reports. */
  exitCode: number;
  /** The signal that ended it, if one did. */
  signal: NodeJS.Signals | null;
  /** Its stdout, decoded as UTF-8. */
  stdout: string;
  /** Its stderr, decoded as UTF-8. */
  stderr: string;
}

/**
 * Runs `argv` on machine `machine` of a two-machine lab (from machine 1's command) and
 * resolves with its exit status and output. A non-zero status resolves too.
 * @throws LabError ERR_LAB_MACHINE_UNREACHABLE (no agent answered within connectTimeoutMs),
 *   ERR_LAB_MACHINE_LOST (the connection ended before the command did), ERR_LAB_TIMEOUT,
 *   ERR_LAB_COMMAND_NOT_FOUND (the agent could not start it)
 */
export async function runOnMachine(machine: MachineNumber, argv: string[], options: RunOnMachineOptions = {}): Promise<MachineCommandResult> {
  if (argv.length === 0) throw new LabError({ code: 'ERR_INVALID_ARG', message: 'no command to run on the other machine', hint: 'Give the command as an array of words, e.g. [\'uname\', \'-a\'].' });
  const host = options.host ?? machineAddress(machine);
  const port = options.port ?? MACHINE_AGENT_PORT;
  const socket = await connectWithRetry(host, port, options.connectTimeoutMs ?? 300_000, machine);
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let line = '';
    let done = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      socket.destroy();
      fn();
    };
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(
            () =>
              finish(() =>
                reject(new LabError({ code: 'ERR_LAB_TIMEOUT', message: `${argv.join(' ')} did not end on machine ${machine} within ${options.timeoutMs} ms; it was killed`, hint: 'Raise timeoutMs, or look at what the command waits for.' })),
              ),
            options.timeoutMs,
          );
    const frame = (text: string) => {
      const f = JSON.parse(text) as { fd?: number; data?: string; exit?: number | null; signal?: NodeJS.Signals | null; error?: string };
      if (f.data !== undefined) {
        const b = Buffer.from(f.data, 'base64');
        if (f.fd === 2) {
          err.push(b);
          options.onStderr?.(b);
        } else {
          out.push(b);
          options.onStdout?.(b);
        }
      } else if (f.error !== undefined) {
        const message = f.error;
        finish(() => reject(new LabError({ code: 'ERR_LAB_COMMAND_NOT_FOUND', message: `machine ${machine}: ${message}`, hint: 'The other machine sees the host\'s files read-only: install the command on the host.' })));
      } else if ('exit' in f) {
        const signal = f.signal ?? null;
        const exitCode = f.exit ?? 128 + (signal ? signalNumber(signal) : 0);
        finish(() => resolve({ exitCode, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
      }
    };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      line += chunk;
      for (let nl = line.indexOf('\n'); nl >= 0; nl = line.indexOf('\n')) {
        const text = line.slice(0, nl);
        line = line.slice(nl + 1);
        if (text) frame(text);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () =>
      finish(() =>
        reject(new LabError({ code: 'ERR_LAB_MACHINE_LOST', message: `the connection to machine ${machine} ended before ${argv[0]} did`, hint: 'Machine 2 may have died: its console is in the lab\'s result (machine2.console).' })),
      ),
    );
    const request: CommandRequest = { argv, cwd: options.cwd, env: options.env };
    socket.write(`${JSON.stringify(request)}\n`);
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  return (os.constants.signals as Record<string, number | undefined>)[signal] ?? 0;
}

/** Connects, retrying while nothing answers (the machine boots, its link comes up), until the deadline. */
function connectWithRetry(host: string, port: number, timeoutMs: number, machine: MachineNumber): Promise<net.Socket> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    let lastError = '';
    const attempt = () => {
      const socket = net.connect({ host, port });
      // A connection attempt nobody answers (frames lost while the link comes up) is retried too.
      const stuck = setTimeout(() => socket.destroy(Object.assign(new Error('no answer'), { code: 'ETIMEDOUT' })), 5000);
      const onError = (e: NodeJS.ErrnoException) => {
        clearTimeout(stuck);
        socket.destroy();
        lastError = e.code ?? e.message;
        if (Date.now() >= deadline) {
          reject(
            new LabError({
              code: 'ERR_LAB_MACHINE_UNREACHABLE',
              message: `machine ${machine}'s command agent did not answer at ${host}:${port} within ${timeoutMs} ms (last error: ${lastError})`,
              hint: 'Run the lab with --machines 2 (this is machine 1\'s command); if it is, machine 2 did not boot: see its console in the lab\'s result (machine2.console) or run with --verbose.',
              details: { host, port, machine },
            }),
          );
          return;
        }
        setTimeout(attempt, 500);
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(stuck);
        socket.off('error', onError);
        resolve(socket);
      });
    };
    attempt();
  });
}
