// The race two lab tests run, once through the NVMe driver's promises and once through the
// runtime's: a 1 MiB read queued behind `ahead` small reads (so it reaches the controller
// only after what follows), its buffer released at once, then a new 1 MiB allocation filled
// with 0xc3 on each turn of the event loop until the read ends. Without a pin on the read's
// buffer, a new owner can get the released range while the controller still has to write
// it. Counts the allocations made while a read was pending, and those overwritten.

/** DMA memory as the driver and the runtime hand it out. */
interface Memory {
  bytes: Uint8Array;
  release(): void;
}

/** What the race needs of a namespace and its allocator. */
export interface RaceTarget {
  blockSize: number;
  alloc(size: number): Memory;
  read(lba: number, blocks: number, buffer: Uint8Array): Promise<unknown>;
  write(lba: number, blocks: number, buffer: Uint8Array): Promise<unknown>;
  /** How round `round` reads the 1 MiB (default: read()). */
  readBig?(round: number, blocks: number, buffer: Uint8Array): Promise<unknown>;
}

const SIZE = 1024 * 1024;

/** Runs `rounds` rounds of the race; returns the allocations made during reads and how many of them the device overwrote. */
export async function releasedBufferRace(t: RaceTarget, rounds: number, ahead: number): Promise<{ allocatedDuringReads: number; overwritten: number }> {
  const blocks = SIZE / t.blockSize;
  const src = t.alloc(SIZE);
  src.bytes.fill(0x5a);
  await t.write(0, blocks, src.bytes);
  src.release();
  const small = t.alloc(4096);
  const smallBlocks = 4096 / t.blockSize;
  let overwritten = 0;
  let allocatedDuringReads = 0;
  for (let round = 0; round < rounds; round++) {
    const before = Array.from({ length: ahead }, (_, i) => t.read(i * smallBlocks, smallBlocks, small.bytes));
    const mem = t.alloc(SIZE);
    let done = false;
    const read = (t.readBig ? t.readBig(round, blocks, mem.bytes) : t.read(0, blocks, mem.bytes)).then(() => void (done = true));
    mem.release(); // while the read is still the controller's to do
    const others: Memory[] = [];
    // Turns of the event loop let V8 finalize the released slice; each new owner fills its memory.
    while (!done) {
      await new Promise((r) => setImmediate(r));
      if (done) break;
      const o = t.alloc(SIZE);
      o.bytes.fill(0xc3);
      others.push(o);
      allocatedDuringReads++;
    }
    await Promise.all([read, ...before]);
    for (const o of others) {
      if (!o.bytes.every((b) => b === 0xc3)) overwritten++;
      o.release();
    }
  }
  small.release();
  return { allocatedDuringReads, overwritten };
}
