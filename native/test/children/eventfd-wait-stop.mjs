// Issue 12: a worker blocked in eventfdWait(fds, -1) kept its thread in poll(2) for ever,
// so worker.terminate() never resolved and process.exit() on the main thread hung (it
// stops and joins every worker). Usage: eventfd-wait-stop.mjs terminate|exit.
// Four workers block, each its own way, then the main thread terminates them all and
// prints one JSON line (terminate), or prints one JSON line and calls process.exit(0)
// (exit). Either way this process must end with status 0.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const addon = process.env.VFIO_NODE_ADDON ?? new URL('../../index.js', import.meta.url).href;
const mode = process.argv[2];
if (mode !== 'terminate' && mode !== 'exit') throw new Error(`usage: eventfd-wait-stop.mjs terminate|exit (got ${mode})`);

const esm = (body) =>
  new Worker(
    new URL(
      'data:text/javascript,' +
        encodeURIComponent(
          `import { parentPort } from 'node:worker_threads';
           const native = (await import(${JSON.stringify(addon)})).default;
           const fd = native.eventfdCreate();
           parentPort.postMessage('blocking');
           ${body}`,
        ),
    ),
  );
// CommonJS evaluated before the worker's event loop first turns: its epoll set is still
// empty, so only eventfdWait's periodic check can see that the worker is being stopped.
const binding = createRequire(addon)('node-gyp-build').path(dirname(fileURLToPath(addon)));
const early = new Worker(
  `const { parentPort, workerData } = require('node:worker_threads');
   const native = require(workerData.binding);
   const fd = native.eventfdCreate();
   parentPort.postMessage('blocking');
   native.eventfdWait([fd], -1);`,
  { eval: true, workerData: { binding } },
);
const workers = {
  once: esm(`native.eventfdWait([fd], -1);`),
  // Treats -2 like a timeout and waits again at once: the call after -2 runs while the
  // worker is stopping, and must not abort the process.
  loop: esm(`for (;;) native.eventfdWait([fd], -1);`),
  long: esm(`native.eventfdWait([fd], 3_600_000);`),
  early,
};

const blocking = Object.values(workers).map(
  (w) =>
    new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`a worker exited (${code}) before it blocked`)));
    }),
);
await Promise.all(blocking);
// 'blocking' is posted just before the call: give the workers a moment to be in poll(2).
await new Promise((resolve) => setTimeout(resolve, 200));

if (mode === 'exit') {
  console.log(JSON.stringify({ mode, blocked: Object.keys(workers) }));
  process.exit(0);
}
const codes = {};
await Promise.all(Object.entries(workers).map(async ([name, w]) => (codes[name] = await w.terminate())));
console.log(JSON.stringify({ mode, codes }));
// Nothing holds the loop now: the process ends by itself, with status 0.
