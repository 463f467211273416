// DmaBuffer slices and the garbage collector (issue 12): when does a slice report itself
// finalized, and what keeps the memory mapped. Run with --expose-gc and, on Node 20,
// --harmony-rab-gsab-transfer (ArrayBuffer.prototype.transfer is behind it there).
// Prints one JSON line of observations; the test asserts on them.
const addon = process.env.VFIO_NODE_ADDON ?? new URL('../../index.js', import.meta.url).href;
const native = (await import(addon)).default;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// Finalizers of external ArrayBuffers run on a later turn of the loop: collect, then wait.
async function collect(buf, want) {
  const seen = [];
  for (let i = 0; i < 40 && seen.length < want; i++) {
    globalThis.gc();
    await sleep(10);
    seen.push(...buf.finalizedSlices());
  }
  return seen;
}
const out = { transferAvailable: typeof ArrayBuffer.prototype.transfer === 'function' };

// 1. A detached slice that nothing else holds is finalized and reported by its offset.
const buf = native.DmaBuffer.alloc(4 * 4096, { hugepages: false });
let plain = buf.slice(4096, 4096);
out.liveAfterSlice = buf.liveSlices;
buf.detachSlice(plain);
plain = null;
out.plainFinalized = await collect(buf, 1);
out.liveAfterPlain = buf.liveSlices;

// 2. A slice transferred away before detach: the detach finds it already detached, the new
// ArrayBuffer keeps the memory, and no finalization is reported while it lives.
if (out.transferAvailable) {
  let moved = buf.slice(8192, 4096);
  let kept = moved.transfer();
  new Uint8Array(kept)[0] = 0x42;
  out.transferSharesMemory = new Uint8Array(buf.buffer)[8192] === 0x42;
  buf.detachSlice(moved); // already detached by transfer(): left alone
  moved = null;
  out.whileTransferredAlive = await collect(buf, 1); // gives up after 40 rounds
  out.transferredStillReadable = new Uint8Array(kept)[0];
  kept = null;
  out.afterTransferredDropped = await collect(buf, 1);
}

// 3. A slice keeps the memory mapped after its handle is released; the table entry (and
// the pages) go with the slice.
const other = native.DmaBuffer.alloc(4096, { hugepages: false });
const id = other.id;
let survivor = new Uint8Array(other.slice(0, 4096));
survivor[7] = 0x77;
other.release();
out.handleBufferAfterRelease = other.buffer.byteLength;
out.survivorAfterRelease = survivor[7];
const reopened = native.DmaBuffer.open(id); // the slice's reference keeps the entry
out.reopenedSees = new Uint8Array(reopened.buffer)[7];
reopened.release();
survivor = null;
for (let i = 0; i < 20; i++) {
  globalThis.gc();
  await sleep(10);
}
try {
  native.DmaBuffer.open(id);
  out.afterSurvivorGc = 'still open';
} catch (e) {
  out.afterSurvivorGc = e.code;
}
buf.release();
console.log(JSON.stringify(out));
