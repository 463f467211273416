// Caller memory for DMA (vfioMapUserDma, pageOffsetOf, allocUserMemory): every bad
// argument comes back as a thrown error with its code, never a crash, and a good one
// reaches the kernel (ENOTTY on /dev/null, which is no VFIO container).
// Prints one JSON line: the code each call threw.
const addon = process.env.VFIO_NODE_ADDON ?? new URL('../../index.js', import.meta.url).href;
const native = (await import(addon)).default;
const page = native.pageSize;
const devnull = native.open('/dev/null', native.constants.O_RDWR);
const code = (f) => {
  try {
    f();
    return 'none';
  } catch (e) {
    return e.code ?? String(e);
  }
};
const mem = native.allocUserMemory(3 * page);
const whole = new Uint8Array(mem);
const detached = new ArrayBuffer(page);
const detachedView = new Uint8Array(detached);
structuredClone(detached, { transfer: [detached] });
const result = {
  aligned: code(() => native.vfioMapUserDma(devnull, whole, 0x100000n)),
  dataView: code(() => native.vfioMapUserDma(devnull, new DataView(mem, page, page), 0x100000n)),
  u32View: code(() => native.vfioMapUserDma(devnull, new Uint32Array(mem, page, page / 4), 0x100000n)),
  offset: code(() => native.vfioMapUserDma(devnull, new Uint8Array(mem, 8, page), 0x100000n)),
  length: code(() => native.vfioMapUserDma(devnull, new Uint8Array(mem, 0, page + 1), 0x100000n)),
  iova: code(() => native.vfioMapUserDma(devnull, whole, 0x123n)),
  iovaOverflow: code(() => native.vfioMapUserDma(devnull, whole, 2n ** 64n - BigInt(page))),
  negativeIova: code(() => native.vfioMapUserDma(devnull, whole, -1n)),
  empty: code(() => native.vfioMapUserDma(devnull, new Uint8Array(0), 0x100000n)),
  detached: code(() => native.vfioMapUserDma(devnull, detachedView, 0x100000n)),
  arrayBuffer: code(() => native.vfioMapUserDma(devnull, mem, 0x100000n)),
  notView: code(() => native.vfioMapUserDma(devnull, { byteLength: page }, 0x100000n)),
  badFd: code(() => native.vfioMapUserDma(-1, whole, 0x100000n)),
  missing: code(() => native.vfioMapUserDma()),
  pageOffset: [native.pageOffsetOf(whole), native.pageOffsetOf(new Uint8Array(mem, 5, 10)), native.pageOffsetOf(new BigUint64Array(mem, 8, 2))],
  pageOffsetBad: code(() => native.pageOffsetOf(mem)),
  allocSize: mem.byteLength,
  allocZero: code(() => native.allocUserMemory(0)),
  allocHuge: code(() => native.allocUserMemory(2 ** 60)),
  allocFraction: code(() => native.allocUserMemory(1.5)),
  zeroed: whole.every((b) => b === 0),
};
native.close(devnull);
console.log(JSON.stringify(result));
