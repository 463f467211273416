// Test helpers: run an inline ESM script in a worker thread that imports the addon.
import { Worker } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** file: URL of the addon's loader, for `import native from ...` inside worker scripts. */
export const nativeUrl = pathToFileURL(fileURLToPath(new URL('../index.js', import.meta.url))).href;

/**
 * Starts a worker running `body` as an ES module, after
 * `import native from '<addon>'` and `import { parentPort, workerData } from 'node:worker_threads'`.
 */
export function startWorker(body: string, workerData?: unknown): Worker {
  const source =
    `import native from ${JSON.stringify(nativeUrl)};\n` +
    `import { parentPort, workerData } from 'node:worker_threads';\n` +
    body;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(source)}`), { workerData });
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

/** Resolves with the worker's exit code. */
export function exited(worker: Worker): Promise<number> {
  return new Promise((resolve, reject) => {
    worker.once('exit', resolve);
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
