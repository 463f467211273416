// Issue 12.5: a read(2) in flight on the threadpool into a DMA view holds a raw pointer
// that release() cannot see. Before the fix, release() unmapped the pages at once, the
// next allocation got the same address, and the read landed in the new owner's memory.
// Released memory now keeps its addresses (PROT_NONE): the read fails with EFAULT.
// Prints one JSON line: what the read returned and what the new owner holds.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const addon = process.env.VFIO_NODE_ADDON ?? new URL('../../index.js', import.meta.url).href;
const native = (await import(addon)).default;
const dir = fs.mkdtempSync(join(tmpdir(), 'vfio-node-fifo-'));
const turn = () => new Promise((resolve) => setTimeout(resolve, 50));

// A read(2) from an empty FIFO into `view`, then `release()`, a new DMA allocation, and the
// FIFO's data: what the read returned, and whether the new allocation got the bytes.
async function readAcrossRelease(name, view, release) {
  const fifo = join(dir, name);
  execFileSync('mkfifo', [fifo]);
  const fd = fs.openSync(fifo, fs.constants.O_RDWR); // both ends, so open does not block
  const reading = new Promise((resolve) => fs.read(fd, view, 0, 16, null, (err, n) => resolve(err ? err.code : n)));
  await turn(); // the threadpool now waits in read(2) with the view's address
  release();
  await turn(); // finalizers have run
  const next = native.DmaBuffer.alloc(4096, { hugepages: false });
  fs.writeSync(fd, Buffer.from('STALE-WRITE-HERE'));
  const read = await reading;
  const newOwner = Buffer.from(new Uint8Array(next.buffer, 0, 16)).toString('latin1') === 'STALE-WRITE-HERE' ? 'overwritten' : 'intact';
  next.release();
  fs.closeSync(fd);
  return { read, newOwner };
}

const dma = native.DmaBuffer.alloc(4096, { hugepages: false });
const released = await readAcrossRelease('dma', new Uint8Array(dma.buffer), () => dma.release());
// The same for a mapping (a BAR, here /dev/zero): unmap() keeps its addresses too.
const zero = native.open('/dev/zero', native.constants.O_RDWR);
const m = new native.Mapping(zero, 0, 4096);
const unmapped = await readAcrossRelease('mapping', new Uint8Array(m.buffer), () => m.unmap());
native.close(zero);
fs.rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ released, unmapped }));
