// Issue 12.4: closing the fd an EventfdWatcher watches. libuv adds the fd to its epoll set
// on the next loop turn and aborts when epoll_ctl fails with EBADF, so `new
// EventfdWatcher(fd, cb); close(fd)` ended in SIGABRT. The watcher now polls its own
// duplicate and closes it when stopped. Prints one JSON line.
import { readdirSync } from 'node:fs';

const addon = process.env.VFIO_NODE_ADDON ?? new URL('../../index.js', import.meta.url).href;
const native = (await import(addon)).default;
const openFds = () => readdirSync('/proc/self/fd').length;
const turn = () => new Promise((resolve) => setTimeout(resolve, 20));
const codeOf = (f) => {
  try {
    f();
    return 'no error';
  } catch (e) {
    return e.code;
  }
};

const before = openFds();
const fd = native.eventfdCreate();
let fired = 0n;
const watcher = new native.EventfdWatcher(fd, (count) => (fired += count));
const watching = openFds() - before; // the eventfd and the watcher's duplicate
native.eventfdWrite(fd, 3);
for (let i = 0; i < 50 && fired === 0n; i++) await turn();
native.close(fd); // the caller's fd goes while the watcher runs
for (let i = 0; i < 3; i++) await turn();
watcher.stop();
await turn(); // libuv closes the handle, then the duplicate, on the next turn
const after = openFds() - before;

// The same with the fd closed before libuv's next turn, when it adds the fd to epoll.
const fd2 = native.eventfdCreate();
const watcher2 = new native.EventfdWatcher(fd2, () => {});
native.close(fd2);
for (let i = 0; i < 3; i++) await turn();
watcher2.stop();
await turn();
const afterEarlyClose = openFds() - before;

// A watcher on an fd that is not open is refused by name.
const closed = codeOf(() => new native.EventfdWatcher(fd, () => {}));
console.log(JSON.stringify({ watching, fired: Number(fired), after, afterEarlyClose, closed }));
