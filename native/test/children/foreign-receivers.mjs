// Issue 12.3: every method and accessor of every wrapped class, called with a `this` of
// another class (or no native object at all), throws ERR_INVALID_RECEIVER. Before the
// fix, DmaBuffer's buffer getter on a Mapping aborted, on an NvmeQueue it segfaulted, and
// its id getter on a Mapping returned a heap pointer. (V8 itself refuses a method called
// on an object its class did not make, TypeError "Illegal invocation", before the tag
// check runs; accessors have no such guard.) Prints one JSON line: how many calls were
// made, how each kind was refused, and every call refused otherwise.
const addon = process.env.VFIO_NODE_ADDON ?? new URL('../../index.js', import.meta.url).href;
const native = (await import(addon)).default;

const zero = native.open('/dev/zero', native.constants.O_RDWR);
const efd = native.eventfdCreate();
const dma = native.DmaBuffer.alloc(8192, { hugepages: false });
const objects = {
  Mapping: new native.Mapping(zero, 0, 4096),
  DmaBuffer: dma,
  EventfdWatcher: new native.EventfdWatcher(efd, () => {}),
  NvmeQueue: new native.NvmeQueue(dma.id, 0, 64, new Uint32Array(new SharedArrayBuffer(8 + 64)), 0, 0, 0, 0x1008, 0x100c, 0, 0, 0, 0),
};
const others = {
  ...objects,
  plain: {},
  array: [],
  function: () => {},
  undefined: undefined,
  number: 42,
  proxy: new Proxy(objects.Mapping, {}),
  inheriting: Object.create(objects.DmaBuffer),
};

const calls = [];
const refused = { accessor: {}, method: {} };
let count = 0;
for (const [cls, own] of Object.entries(objects)) {
  const proto = Object.getPrototypeOf(own);
  for (const name of Object.getOwnPropertyNames(proto)) {
    if (name === 'constructor') continue;
    const d = Object.getOwnPropertyDescriptor(proto, name);
    const fn = d.get ?? d.value;
    if (typeof fn !== 'function') continue;
    for (const [who, receiver] of Object.entries(others)) {
      if (who === cls) continue;
      count++;
      let code = 'no error';
      try {
        fn.call(receiver);
      } catch (e) {
        code = e.code ?? String(e);
      }
      const kind = d.get ? 'accessor' : 'method';
      if (code === 'ERR_INVALID_RECEIVER' || (kind === 'method' && code === 'TypeError: Illegal invocation')) {
        refused[kind][code] = (refused[kind][code] ?? 0) + 1;
      } else {
        calls.push(`${cls}.${name} on ${who}: ${code}`);
      }
    }
  }
}

// NvmeQueue's hot functions (poll, ring, announceHead) are not on its prototype: they are own
// properties bound to their queue's state, so whatever `this` they are called with they act
// on that queue (never on the receiver), and after close() they throw ERR_CLOSED.
const q = objects.NvmeQueue;
const bar = new ArrayBuffer(0x2000);
const hot = ['poll', 'ring', 'announceHead'];
const bound = {
  own: hot.every((n) => typeof Object.getOwnPropertyDescriptor(q, n)?.value === 'function' && !(n in Object.getPrototypeOf(q))),
  ring: q.ring.call(objects.Mapping, bar, 3) === true && new Uint32Array(bar)[0x1008 / 4] === 3,
  poll: hot.map((n) => q[n]).every((fn) => [undefined, {}, objects.DmaBuffer].every((r) => typeof fn.call(r, bar, 0) === (fn === q.poll ? 'number' : 'boolean'))),
};

// The real receivers still work.
const sane = objects.DmaBuffer.size === 8192 && objects.Mapping.size === 4096 && objects.Mapping.read32(0) === 0;
objects.EventfdWatcher.stop();
const { poll } = objects.NvmeQueue;
objects.NvmeQueue.close();
try {
  poll(bar, 1);
  bound.closed = 'no error';
} catch (e) {
  bound.closed = e.code;
}
objects.Mapping.unmap();
dma.release();
native.close(efd);
native.close(zero);
console.log(JSON.stringify({ count, refused, wrong: calls, sane, bound }));
