// The command channel of a two-machine lab, on the host's loopback: a real agent and a
// real client, real child processes (no device involved).
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOnMachine, serveMachineCommands } from './machine-commands.js';

describe('runOnMachine and serveMachineCommands', () => {
  let server: net.Server;
  let port = 0;
  const seen: string[][] = [];
  beforeAll(async () => {
    server = await serveMachineCommands({ host: '127.0.0.1', port: 0, onCommand: (a) => seen.push(a) });
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  const at = { host: '127.0.0.1', get port() { return port; } };

  it('runs the command with its words as given (no shell), in the given directory and environment, and returns its output and status', async () => {
    const chunks: string[] = [];
    const r = await runOnMachine(2, ['sh', '-c', 'echo "$1 $X"; pwd; echo oops >&2; exit 3', 'sh', 'a  b;c'], {
      host: at.host, port: at.port, cwd: '/tmp', env: { X: 'from-env' }, onStdout: (b) => chunks.push(b.toString()),
    });
    expect(r).toEqual({ exitCode: 3, signal: null, stdout: 'a  b;c from-env\n/tmp\n', stderr: 'oops\n' });
    expect(chunks.join('')).toBe(r.stdout);
    expect(seen.at(-1)).toEqual(['sh', '-c', 'echo "$1 $X"; pwd; echo oops >&2; exit 3', 'sh', 'a  b;c']);
  });

  it('moves binary output byte for byte', async () => {
    const r = await runOnMachine(2, ['head', '-c', '300000', '/dev/zero'], { host: at.host, port: at.port });
    expect(r.exitCode).toBe(0);
    expect(Buffer.from(r.stdout).length).toBe(300000);
  });

  it('reports a command killed by a signal as a shell does (128 + the signal\'s number)', async () => {
    const r = await runOnMachine(2, ['sh', '-c', 'kill -TERM $$'], { host: at.host, port: at.port });
    expect(r).toMatchObject({ exitCode: 143, signal: 'SIGTERM' });
  });

  it('fails with ERR_LAB_COMMAND_NOT_FOUND for a command the other machine cannot start', async () => {
    await expect(runOnMachine(2, ['/no/such/command'], { host: at.host, port: at.port })).rejects.toMatchObject({ code: 'ERR_LAB_COMMAND_NOT_FOUND', message: expect.stringMatching(/machine 2: cannot start \/no\/such\/command/) });
  });

  it('kills the command when its timeout passes (ERR_LAB_TIMEOUT), and the agent keeps serving', async () => {
    await expect(runOnMachine(2, ['sleep', '30'], { host: at.host, port: at.port, timeoutMs: 300 })).rejects.toMatchObject({ code: 'ERR_LAB_TIMEOUT' });
    expect((await runOnMachine(2, ['true'], { host: at.host, port: at.port })).exitCode).toBe(0);
  });

  it('keeps trying to reach an agent that does not answer yet, then fails with ERR_LAB_MACHINE_UNREACHABLE', async () => {
    const closed = await serveMachineCommands({ host: '127.0.0.1', port: 0 });
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await expect(runOnMachine(2, ['true'], { host: '127.0.0.1', port: deadPort, connectTimeoutMs: 1200 })).rejects.toMatchObject({
      code: 'ERR_LAB_MACHINE_UNREACHABLE',
      message: expect.stringMatching(/machine 2's command agent did not answer at 127\.0\.0\.1:\d+ within 1200 ms \(last error: ECONNREFUSED\)/),
    });
  });

  it('reaches an agent that starts listening while the client retries', async () => {
    const probe = await serveMachineCommands({ host: '127.0.0.1', port: 0 });
    const latePort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const pending = runOnMachine(2, ['echo', 'late'], { host: '127.0.0.1', port: latePort, connectTimeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 700));
    const late = await serveMachineCommands({ host: '127.0.0.1', port: latePort });
    try {
      expect((await pending).stdout).toBe('late\n');
    } finally {
      await new Promise<void>((r) => late.close(() => r()));
    }
  });

  it('refuses an empty command', async () => {
    await expect(runOnMachine(2, [])).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
  });
});
