// eventfdCreate/Read/Write/Wait and EventfdWatcher, on the main thread and in workers.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import native from '@vfio-node/native';
import { type ChildResult, describeExit, runChild } from './child.js';
import { exited, nextMessage, startWorker, thrown } from './helpers.js';

// A child that hangs is killed after this long, and the test fails then: generous, since
// the machine may be loaded; a child that works ends in well under a second.
const CHILD_TIMEOUT_MS = 60_000;

/** runChild, but sends the child SIGINT once it has printed a line `waiting`. */
function runChildAndInterrupt(name: string): Promise<ChildResult> {
  const script = fileURLToPath(new URL(`./children/${name}`, import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      const before = stdout;
      stdout += d;
      if (!/^waiting$/m.test(before) && /^waiting$/m.test(stdout)) child.kill('SIGINT');
    });
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('error', (e) => (clearTimeout(timer), reject(e)));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let result: Record<string, unknown> | null = null;
      try {
        result = JSON.parse(stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>;
      } catch {
        result = null;
      }
      resolve({ code, signal, stdout, stderr, result });
    });
  });
}

const open: number[] = [];
function eventfd(): number {
  const fd = native.eventfdCreate();
  open.push(fd);
  return fd;
}
afterEach(() => {
  for (const fd of open.splice(0)) native.close(fd);
});

describe('eventfd', () => {
  it('reads back the sum of writes, then 0n once the counter was reset', () => {
    const fd = eventfd();
    expect(native.eventfdRead(fd)).toBe(0n);
    native.eventfdWrite(fd);
    native.eventfdWrite(fd, 2);
    native.eventfdWrite(fd, 10n);
    expect(native.eventfdRead(fd)).toBe(13n);
    expect(native.eventfdRead(fd)).toBe(0n);
  });

  it('is opened close-on-exec and non-blocking', async () => {
    const fd = eventfd();
    const { readFileSync } = await import('node:fs');
    const fdinfo = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    const flags = parseInt(/flags:\s+(\d+)/.exec(fdinfo)![1]!, 8);
    expect(flags & 0o2000000).toBe(0o2000000); // O_CLOEXEC
    expect(flags & 0o4000).toBe(0o4000); // O_NONBLOCK
  });

  it('rejects values the counter cannot take', () => {
    const fd = eventfd();
    expect(thrown(() => native.eventfdWrite(fd, -1)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => native.eventfdWrite(fd, 2n ** 64n - 1n)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => native.eventfdWrite(fd, '1' as never)).code).toBe('ERR_INVALID_ARG');
    native.eventfdWrite(fd, 2n ** 64n - 2n); // the largest value a counter holds
    const e = thrown(() => native.eventfdWrite(fd, 1));
    expect(e.code).toBe('EAGAIN'); // would overflow: a non-blocking eventfd refuses
    expect(e.syscall).toBe('write');
  });

  it('eventfdWait returns the index of the ready fd and consumes its counter', () => {
    const a = eventfd();
    const b = eventfd();
    native.eventfdWrite(b, 4);
    expect(native.eventfdWait([a, b], 1000)).toBe(1);
    expect(native.eventfdRead(b)).toBe(0n);
    native.eventfdWrite(a);
    expect(native.eventfdWait([a, b], -1)).toBe(0);
  });

  it('eventfdWait times out with -1 after about timeoutMs', () => {
    const fd = eventfd();
    const start = performance.now();
    expect(native.eventfdWait([fd], 60)).toBe(-1);
    const took = performance.now() - start;
    expect(took).toBeGreaterThanOrEqual(55);
    expect(took).toBeLessThan(10_000); // not for ever (a loaded machine may be slow to wake it)
    expect(native.eventfdWait([fd], 0)).toBe(-1);
  });

  it('eventfdWait times out with -1 after timeoutMs when it waits in several slices too', async () => {
    // Longer than one slice (100 ms): between slices the wait checks that its thread may
    // still run JavaScript, and it keeps the deadline. In a worker: on the main thread a
    // long wait also returns -2 as soon as the event loop has an event (vitest's own I/O).
    const worker = startWorker(
      `const fd = native.eventfdCreate();
       const start = performance.now();
       const result = native.eventfdWait([fd], 350);
       parentPort.postMessage({ result, took: performance.now() - start });`,
    );
    const { result, took } = await nextMessage<{ result: number; took: number }>(worker);
    expect(result).toBe(-1);
    expect(took).toBeGreaterThanOrEqual(345);
    expect(took).toBeLessThan(10_000); // not for ever (a loaded machine may be slow to wake it)
    expect(await exited(worker)).toBe(0);
  });

  it('eventfdWait checks its arguments and reports a closed fd', () => {
    expect(thrown(() => native.eventfdWait('3' as never, 0)).code).toBe('ERR_INVALID_ARG');
    expect(thrown(() => native.eventfdWait([], -1)).code).toBe('ERR_INVALID_ARG');
    expect(thrown(() => native.eventfdWait([3], -2)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => native.eventfdWait([-1], 0)).code).toBe('ERR_OUT_OF_RANGE');
    const fd = native.eventfdCreate();
    native.close(fd);
    const e = thrown(() => native.eventfdWait([fd], 10));
    expect(e.code).toBe('EBADF');
    expect(e.syscall).toBe('poll');
  });

  it('eventfdWait blocks a worker until the main thread writes', async () => {
    const fd = eventfd();
    const worker = startWorker(
      `parentPort.postMessage('ready');
       const index = native.eventfdWait([workerData.fd], 10000);
       parentPort.postMessage({ index, after: native.eventfdRead(workerData.fd) });`,
      { fd },
    );
    expect(await nextMessage(worker)).toBe('ready');
    const result = nextMessage<{ index: number; after: bigint }>(worker);
    setTimeout(() => native.eventfdWrite(fd, 7), 50);
    expect(await result).toEqual({ index: 0, after: 0n });
    expect(await exited(worker)).toBe(0);
  });

  it('a message to a worker blocked in eventfdWait(fds, -1) does not interrupt it', async () => {
    // The wait polls the worker's event loop too (to wake when the worker is stopped); an
    // event that is only for JavaScript is left for after the wait.
    const fd = eventfd();
    const worker = startWorker(
      `parentPort.postMessage('ready');
       const index = native.eventfdWait([workerData.fd], -1);
       parentPort.once('message', (m) => parentPort.postMessage({ index, then: m }));`,
      { fd },
    );
    expect(await nextMessage(worker)).toBe('ready');
    const result = nextMessage<{ index: number; then: string }>(worker);
    worker.postMessage('hello');
    setTimeout(() => native.eventfdWrite(fd), 300);
    expect(await result).toEqual({ index: 0, then: 'hello' });
    expect(await exited(worker)).toBe(0);
  });
});

describe('eventfdWait(fds, -1) can be ended (issue 12)', () => {
  it('worker.terminate() of workers blocked in it resolves, and the process then exits 0', async () => {
    const r = await runChild('eventfd-wait-stop.mjs', ['terminate'], {}, CHILD_TIMEOUT_MS);
    expect(r.signal, describeExit(r)).toBeNull();
    expect(r.code, describeExit(r)).toBe(0);
    // 1: the exit code of a terminated worker.
    expect(r.result).toEqual({ mode: 'terminate', codes: { once: 1, loop: 1, long: 1, early: 1 } });
  });

  it('process.exit(0) on the main thread while workers are blocked in it exits 0', async () => {
    const r = await runChild('eventfd-wait-stop.mjs', ['exit'], {}, CHILD_TIMEOUT_MS);
    expect(r.signal, describeExit(r)).toBeNull();
    expect(r.code, describeExit(r)).toBe(0);
    expect(r.result).toEqual({ mode: 'exit', blocked: ['once', 'loop', 'long', 'early'] });
  });

  it('SIGINT returns -2 to the main thread, whose process.on(\'SIGINT\') handler then runs', async () => {
    const r = await runChildAndInterrupt('eventfd-wait-sigint.mjs');
    expect(r.signal, describeExit(r)).toBeNull();
    expect(r.code, describeExit(r)).toBe(0);
    expect(r.result).toEqual({ handled: 'SIGINT', results: [-2] });
  });

  it('a SIGINT that came while JavaScript ran before the wait returns -2 at once (the event loop has it)', async () => {
    const r = await runChild('eventfd-wait-sigint.mjs', ['early'], {}, CHILD_TIMEOUT_MS);
    expect(r.signal, describeExit(r)).toBeNull();
    expect(r.code, describeExit(r)).toBe(0);
    expect(r.result).toEqual({ handled: 'SIGINT', results: [-2] });
  });
});

describe('EventfdWatcher', () => {
  it('calls back with the count after reading (and resetting) the counter', async () => {
    const fd = eventfd();
    const counts: bigint[] = [];
    let fired!: () => void;
    const once = new Promise<void>((r) => (fired = r));
    const watcher = new native.EventfdWatcher(fd, (count) => {
      counts.push(count);
      expect(native.eventfdRead(fd)).toBe(0n); // already consumed before the callback
      fired();
    });
    native.eventfdWrite(fd, 3);
    await once;
    expect(counts).toEqual([3n]);
    watcher.stop();
    watcher.stop(); // idempotent
    watcher.ref(); // no-ops once stopped
    watcher.unref();
    native.eventfdWrite(fd, 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(counts).toEqual([3n]);
    expect(native.eventfdRead(fd)).toBe(1n); // nobody read it
  });

  it('can be stopped from inside its callback, and unref()ed', async () => {
    const fd = eventfd();
    const counts: bigint[] = [];
    await new Promise<void>((resolve) => {
      const watcher = new native.EventfdWatcher(fd, (count) => {
        counts.push(count);
        watcher.stop();
        resolve();
      });
      watcher.unref();
      watcher.ref();
      native.eventfdWrite(fd, 5n);
    });
    expect(counts).toEqual([5n]);
  });

  it('checks its arguments', () => {
    expect(thrown(() => new native.EventfdWatcher(eventfd(), 'nope' as never)).code).toBe('ERR_INVALID_ARG');
    expect(thrown(() => new native.EventfdWatcher(-1, () => {})).code).toBe('ERR_OUT_OF_RANGE');
    // libuv refuses to poll a regular file (epoll cannot watch one).
    const file = native.open('/proc/self/status', native.constants.O_RDONLY!);
    open.push(file);
    const e = thrown(() => new native.EventfdWatcher(file, () => {}));
    expect(e.syscall).toBe('uv_poll_init');
    expect(e.code).toBe('EPERM');
  });

  it('stops and raises an uncaught error when the fd cannot be read as a counter', async () => {
    // A FIFO holding 3 bytes polls readable, but an 8-byte counter read gets 3: EIO.
    const dir = mkdtempSync(join(tmpdir(), 'vfio-fifo-'));
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    const worker = startWorker(
      `import { writeSync } from 'node:fs';
       const fd = native.open(workerData.path, native.constants.O_RDWR);
       let calls = 0;
       new native.EventfdWatcher(fd, () => calls++);
       writeSync(fd, 'abc');`,
      { path: join(dir, 'fifo') },
    );
    const error = await new Promise<Error & Record<string, unknown>>((resolve) => worker.once('error', resolve as never));
    rmSync(dir, { recursive: true, force: true });
    expect(error.code).toBe('EIO');
    expect(error.syscall).toBe('read');
    expect(error.message).toMatch(/^EventfdWatcher: read of fd \d+ failed/);
  });

  it('works in a worker thread, on that thread\'s own loop', async () => {
    const worker = startWorker(
      `const fd = native.eventfdCreate();
       const watcher = new native.EventfdWatcher(fd, (count) => {
         watcher.stop();
         native.close(fd);
         parentPort.postMessage({ count });
       });
       parentPort.postMessage({ fd });`,
    );
    const { fd } = await nextMessage<{ fd: number }>(worker);
    const result = nextMessage<{ count: bigint }>(worker);
    native.eventfdWrite(fd, 9);
    expect(await result).toEqual({ count: 9n });
    expect(await exited(worker)).toBe(0); // the stopped watcher no longer holds the loop
  });

  it('a worker can exit or be terminated with a watcher still running', async () => {
    // unref()ed: the worker's loop ends by itself; the environment cleanup closes the handle.
    const quiet = startWorker(
      `const w = new native.EventfdWatcher(native.eventfdCreate(), () => {}); w.unref();`,
    );
    expect(await exited(quiet)).toBe(0);
    // Still referenced: the worker would run forever, so it is terminated.
    const busy = startWorker(
      `new native.EventfdWatcher(native.eventfdCreate(), () => {}); parentPort.postMessage('up');`,
    );
    expect(await nextMessage(busy)).toBe('up');
    await busy.terminate();
    // And process.exit() from inside the worker right after a stop().
    const exiting = startWorker(
      `const w = new native.EventfdWatcher(native.eventfdCreate(), () => {}); w.stop(); process.exit(3);`,
    );
    expect(await exited(exiting)).toBe(3);
  });
});
