// Issue 12.2: eventfdWait sized its pollfd vector from fds.length, then read the length
// again on each turn of the copy loop while element getters ran JavaScript; a getter that
// grew the array wrote past the vector (heap corruption) and passed the 4096-fd cap.
// Prints one JSON line: the codes thrown for a growing and a shrinking array.
const addon = process.env.VFIO_NODE_ADDON ?? new URL('../../index.js', import.meta.url).href;
const native = (await import(addon)).default;

const fd = native.eventfdCreate();
native.eventfdWrite(fd);
const codeOf = (f) => {
  try {
    f();
    return 'no error';
  } catch (e) {
    return e.code;
  }
};

// A getter on element 0 that grows the array far beyond the cap.
const grows = [0];
Object.defineProperty(grows, 0, {
  get() {
    for (let i = 0; i < 100_000; i++) grows.push(fd);
    return fd;
  },
});
const grown = codeOf(() => native.eventfdWait(grows, 0));

// A getter that empties the array: later elements read as undefined.
const shrinks = [0, fd, fd];
Object.defineProperty(shrinks, 0, {
  get() {
    shrinks.length = 1;
    return fd;
  },
});
const shrunk = codeOf(() => native.eventfdWait(shrinks, 0));

// A plain array still works, and its eventfd was not consumed by the refused calls.
const plain = native.eventfdWait([fd], 0);
native.close(fd);
console.log(JSON.stringify({ grown, shrunk, plain }));
