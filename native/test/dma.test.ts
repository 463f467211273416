// DmaBuffer: allocation (zeroed, rounded), the process-wide table (open by id from a
// worker), release (detaches), hugepages (or the ENOMEM that says there are none).
import { closeSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import native from '@vfio-node/native';
import { exited, messagesUntilExit, nextMessage, startWorker, thrown } from './helpers.js';

const MiB2 = 2 * 1024 * 1024;

// The pages of a buffer, found in /proc/self/smaps by what they hold: V8 marks its own heap
// pages dc as well (256 KiB each, mapped whenever its heap grows, at any moment), so a
// count of all dc bytes in the process is not a count of ours. Each page of the buffer
// starts with 16 bytes of its own (four random words XOR its index); this finds the dc
// pages that start so by reading them through /proc/self/mem.
const MARK_WORDS = 4;
function markPages(buffer: ArrayBuffer, seed: number[]): void {
  const view = new DataView(buffer);
  for (let page = 0; page * native.pageSize < buffer.byteLength; page++) {
    for (let w = 0; w < MARK_WORDS; w++) view.setUint32(page * native.pageSize + 4 * w, (seed[w]! ^ page) >>> 0, true);
  }
}
/** Indexes of the marked pages that sit in mappings flagged dc (VmFlags, VM_DONTCOPY), ascending. */
function markedDontforkPages(seed: number[]): number[] {
  const found: number[] = [];
  const mem = openSync('/proc/self/mem', 'r');
  const head = Buffer.alloc(4 * MARK_WORDS);
  try {
    for (const vma of readFileSync('/proc/self/smaps', 'utf8').split(/^(?=[0-9a-f]+-[0-9a-f]+ )/m)) {
      const range = /^([0-9a-f]+)-([0-9a-f]+) /.exec(vma);
      const flags = /^VmFlags: (.*)$/m.exec(vma)?.[1]?.split(' ') ?? [];
      // Readable and writable ones only: a reservation (---p) is never a DmaBuffer.
      if (!range || !flags.includes('dc') || !flags.includes('rd') || !flags.includes('wr')) continue;
      const [start, end] = [parseInt(range[1]!, 16), parseInt(range[2]!, 16)]; // < 2^47: exact
      for (let addr = start; addr < end; addr += native.pageSize) {
        if (readSync(mem, head, 0, head.length, addr) !== head.length) continue;
        const page = (head.readUInt32LE(0) ^ seed[0]!) >>> 0;
        let marked = true;
        for (let w = 1; w < MARK_WORDS; w++) marked &&= ((head.readUInt32LE(4 * w) ^ seed[w]!) >>> 0) === page;
        if (marked) found.push(page);
      }
    }
  } finally {
    closeSync(mem);
  }
  return found.sort((a, b) => a - b);
}

describe('DmaBuffer without hugepages', () => {
  it('is zeroed and rounded up to the page size', () => {
    const buf = native.DmaBuffer.alloc(5000, { hugepages: false });
    expect(buf.hugepages).toBe(false);
    expect(buf.size).toBe(Math.ceil(5000 / native.pageSize) * native.pageSize);
    expect(buf.buffer.byteLength).toBe(buf.size);
    expect(new Uint8Array(buf.buffer).every((b) => b === 0)).toBe(true);
    expect(Number.isInteger(buf.id) && buf.id >= 1).toBe(true);
    const exact = native.DmaBuffer.alloc(native.pageSize, { hugepages: false });
    expect(exact.size).toBe(native.pageSize);
    expect(exact.id).toBeGreaterThan(buf.id);
    buf.release();
    exact.release();
  });

  it('is marked MADV_DONTFORK (VmFlags "dc", VM_DONTCOPY, in /proc/self/smaps), every page of it', () => {
    const seed = Array.from({ length: MARK_WORDS }, () => Math.floor(Math.random() * 2 ** 32));
    const buf = native.DmaBuffer.alloc(3 * native.pageSize, { hugepages: false });
    markPages(buf.buffer, seed);
    expect(markedDontforkPages(seed)).toEqual([0, 1, 2]);
    buf.release();
    expect(markedDontforkPages(seed)).toEqual([]); // munmapped with the last handle
  });

  it('release() detaches its ArrayBuffer; the memory lives while another handle does', () => {
    const a = native.DmaBuffer.alloc(4096, { hugepages: false });
    const b = native.DmaBuffer.open(a.id);
    expect(b.id).toBe(a.id);
    expect(b.size).toBe(a.size);
    const oldA = a.buffer;
    new Uint8Array(oldA)[10] = 42;
    expect(new Uint8Array(b.buffer)[10]).toBe(42); // same memory
    a.release();
    expect(oldA.byteLength).toBe(0);
    a.release(); // idempotent
    expect(new Uint8Array(b.buffer)[10]).toBe(42);
    const oldB = b.buffer;
    b.release();
    expect(oldB.byteLength).toBe(0);
    // The last handle went: the id is gone from the table.
    const e = thrown(() => native.DmaBuffer.open(a.id));
    expect(e.code).toBe('ERR_INVALID_ARG');
    // A released handle cannot be DMA-mapped.
    expect(thrown(() => native.vfioMapDma(0, a, 0, 4096, 0n)).code).toBe('ERR_CLOSED');
  });

  it('a worker opens it by id and sees (and writes) the same bytes', async () => {
    const buf = native.DmaBuffer.alloc(8192, { hugepages: false });
    const bytes = new Uint8Array(buf.buffer);
    for (let i = 0; i < bytes.length; i++) bytes[i] = i & 0xff;
    const worker = startWorker(
      `const handle = native.DmaBuffer.open(workerData.id);
       const bytes = new Uint8Array(handle.buffer);
       let sum = 0;
       for (const b of bytes) sum += b;
       bytes[0] = 0xee;
       parentPort.postMessage({ size: handle.size, sum, first: [...bytes.subarray(1, 4)] });
       handle.release();
       parentPort.postMessage({ detached: handle.buffer.byteLength });`,
      { id: buf.id },
    );
    const { messages, code } = await messagesUntilExit(worker);
    let sum = 0;
    for (let i = 0; i < 8192; i++) sum += i & 0xff;
    expect(messages).toEqual([{ size: 8192, sum, first: [1, 2, 3] }, { detached: 0 }]);
    expect(code).toBe(0);
    expect(bytes[0]).toBe(0xee); // the worker's store, and our memory is still mapped
    buf.release();
  });

  it('a worker that exits without releasing drops its reference', async () => {
    const buf = native.DmaBuffer.alloc(4096, { hugepages: false });
    const worker = startWorker(`native.DmaBuffer.open(workerData.id); parentPort.postMessage('opened');`, {
      id: buf.id,
    });
    expect(await nextMessage(worker)).toBe('opened');
    expect(await exited(worker)).toBe(0);
    const id = buf.id;
    buf.release();
    expect(thrown(() => native.DmaBuffer.open(id)).code).toBe('ERR_INVALID_ARG');
  });

  it('checks its arguments', () => {
    expect(thrown(() => native.DmaBuffer.alloc(0, { hugepages: false })).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => native.DmaBuffer.alloc(-4096, { hugepages: false })).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => native.DmaBuffer.alloc(2 ** 53, { hugepages: false })).code).toBe('ERR_OUT_OF_RANGE');
    // More than the machine's RAM is refused before mmap (the memset would OOM).
    expect(thrown(() => native.DmaBuffer.alloc(2 ** 50, { hugepages: false })).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => native.DmaBuffer.alloc('4096' as never)).code).toBe('ERR_INVALID_ARG');
    expect(thrown(() => native.DmaBuffer.alloc(4096, 'yes' as never)).code).toBe('ERR_INVALID_ARG');
    expect(thrown(() => native.DmaBuffer.alloc(4096, { hugepages: 1 as never })).code).toBe('ERR_INVALID_ARG');
    expect(thrown(() => native.DmaBuffer.open(0)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => native.DmaBuffer.open('1' as never)).code).toBe('ERR_INVALID_ARG');
    const Ctor = native.DmaBuffer as unknown as new (...args: unknown[]) => unknown;
    expect(thrown(() => new Ctor()).code).toBe('ERR_INVALID_ARG');
    expect(thrown(() => new Ctor(1)).code).toBe('ERR_INVALID_ARG');
  });
});

describe('DmaBuffer with hugepages', () => {
  const sysctl = '/proc/sys/vm/nr_hugepages';
  const original = readFileSync(sysctl, 'utf8').trim();
  const free = () => Number(/HugePages_Free:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))![1]);
  afterAll(() => {
    try {
      writeFileSync(sysctl, original);
    } catch {
      // not ours to change after all
    }
  });

  it('allocates 2 MiB-rounded memory, or throws ENOMEM saying there are no free hugepages', () => {
    if (free() < 2) {
      try {
        writeFileSync(sysctl, String(Number(original) + 64)); // the host is root in CI
      } catch {
        // cannot raise it: the ENOMEM branch below is what we can check
      }
    }
    if (free() >= 2) {
      console.log(`hugepages: ${free()} free, allocating`);
      const buf = native.DmaBuffer.alloc(MiB2 + 1); // hugepages is the default
      expect(buf.hugepages).toBe(true);
      expect(buf.size).toBe(2 * MiB2);
      expect(new Uint8Array(buf.buffer).every((b) => b === 0)).toBe(true);
      const other = native.DmaBuffer.open(buf.id);
      expect(other.hugepages).toBe(true);
      other.release();
      buf.release();
    } else {
      const e = thrown(() => native.DmaBuffer.alloc(MiB2));
      expect(e.code).toBe('ENOMEM');
      expect(e.syscall).toBe('mmap');
      expect(e.message).toMatch(/no free 2 MiB hugepages/);
    }
  });

  it('asking for more hugepages than are free is ENOMEM with that message', () => {
    const e = thrown(() => native.DmaBuffer.alloc((free() + 1) * MiB2, { hugepages: true }));
    expect(e.code).toBe('ENOMEM');
    expect(e.errno).toBe(12);
    expect(e.syscall).toBe('mmap');
    expect(e.message).toMatch(/with MAP_HUGETLB failed: no free 2 MiB hugepages/);
  });
});
