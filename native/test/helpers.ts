// Test helpers: run an inline ESM script in a worker thread that imports the addon.
import { Worker } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** file: URL of the addon's loader, for `import native from ...` inside worker scripts. */
export const nativeUrl = pathToFileURL(fileURLToPath(new URL('../index.js', import.meta.url))).href;

// The exit code of each worker from startWorker, listened for from its start: Node hands
// a worker's last messages and its 'exit' event to the main thread in one callback when
// the worker ended before the main thread took its messages (a slow main thread, under
// load), so a listener added after awaiting the last message would never hear the exit.
const exits = new WeakMap<Worker, Promise<number>>();

/**
 * Starts a worker running `body` as an ES module, after
 * `import native from '<addon>'` and `import { parentPort, workerData } from 'node:worker_threads'`.
 */
export function startWorker(body: string, workerData?: unknown): Worker {
  const source =
    `import native from ${JSON.stringify(nativeUrl)};\n` +
    `import { parentPort, workerData } from 'node:worker_threads';\n` +
    body;
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(source)}`), { workerData });
  exits.set(worker, new Promise((resolve) => worker.once('exit', resolve)));
  return worker;
}

/** The next message from a worker (rejects on an error or an exit before it). */
export function nextMessage<T = unknown>(worker: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (m: T) => (cleanup(), resolve(m));
    const onError = (e: Error) => (cleanup(), reject(e));
    const onExit = (code: number) => (cleanup(), reject(new Error(`worker exited with code ${code} before a message`)));
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

/**
 * Every message a worker posts from now on, and its exit code, once it has exited. For a
 * worker that posts several messages and ends: awaiting them one by one with nextMessage
 * would lose those that arrive with the exit in one callback.
 */
export function messagesUntilExit<T = unknown>(worker: Worker): Promise<{ messages: T[]; code: number }> {
  const messages: T[] = [];
  worker.on('message', (m: T) => messages.push(m));
  return exited(worker).then((code) => ({ messages, code }));
}

/** Resolves with the worker's exit code (rejects on an error event still to come). */
export function exited(worker: Worker): Promise<number> {
  const exit = exits.get(worker) ?? new Promise<number>((resolve) => worker.once('exit', resolve));
  return new Promise((resolve, reject) => {
    void exit.then(resolve);
    worker.once('error', reject);
  });
}

/** Runs fn and returns what it threw (fails if it did not throw). */
export function thrown(fn: () => unknown): Error & Record<string, unknown> {
  try {
    fn();
  } catch (e) {
    return e as Error & Record<string, unknown>;
  }
  throw new Error('expected a throw');
}
