// Issue 12: the main thread blocked in eventfdWait(fds, -1) with a JavaScript SIGINT
// handler: libuv's C handler ran, but poll(2) was restarted, so the JavaScript handler
// (which runs on the event loop) never did, and Ctrl-C did nothing. Now the wait returns
// -2 (interrupted), and this loop yields to the event loop before it waits again.
// Usage: eventfd-wait-sigint.mjs [early]. Prints 'waiting' once it is about to wait (the
// parent then sends SIGINT); with `early` it signals itself instead, before the wait (a
// Ctrl-C while JavaScript ran between two waits). Prints one JSON line once the handler
// has run, and exits 0.
const addon = process.env.VFIO_NODE_ADDON ?? new URL('../../index.js', import.meta.url).href;
const native = (await import(addon)).default;

const fd = native.eventfdCreate(); // never written: only the signal can end the wait
let handled = null;
process.on('SIGINT', (signal) => (handled = signal));

const results = new Set();
console.log('waiting'); // stdout is a pipe: written before the next line runs
if (process.argv[2] === 'early') process.kill(process.pid, 'SIGINT'); // handled by libuv now, by JavaScript later
while (handled === null) {
  const result = native.eventfdWait([fd], -1);
  results.add(result);
  if (result === -2) await new Promise((resolve) => setImmediate(resolve));
}
native.close(fd);
console.log(JSON.stringify({ handled, results: [...results] }));
