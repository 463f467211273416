// The native hot path (NvmeQueue in native/src/nvme_queue.cc) against queues the test
// plays the controller of, in DMA buffers without hugepages and a BAR that is a plain
// ArrayBuffer: phase tags, wrap-around, batching, the single CQ head doorbell write, the
// lazy head, shadow doorbells and their EventIdx, the forced register write, and every
// offset, length and index the handle is given (a mistake throws, never touches memory).
// Then QueuePair on that handle, as the driver runs it.
import { describe, expect, it } from 'vitest';
import { native, type DmaAllocator, type DmaMemory, type Region } from '@vfio-node/core';
import { NvmOpcode } from './commands.js';
import { QueuePair } from './queue.js';
import { fakeQueueHandle } from '../test/fake-queue-handle.js';

const addon: typeof native = typeof native.NvmeQueue === 'function' ? native : (native as unknown as { default: typeof native }).default;
const Q = addon.NvmeQueue;
const Dma = addon.DmaBuffer;

const DEPTH = 4;
const SQ1TDBL = 0x1008;
const CQ1HDBL = 0x100c;
// The shadow pages (two 4 KiB pages as dwords: Shadow Doorbell, then EventIdx at dword 1024).
const EI = 1024;
const SQ1 = 2; // SQ 1 tail, DSTRD 0: dword 2 * 1
const CQ1 = 3;

/** The host words: never DMA memory, a SharedArrayBuffer. */
const hostWords = (depth = DEPTH) => new Uint32Array(new SharedArrayBuffer(8 + 16 * depth));

/** Posts a CQE the way a controller does: DW0, SQHD/SQID, then CID + phase + status. */
function post(cq: Uint8Array, slot: number, cid: number, status: number, phase: number, sqhd: number, dw0 = 0) {
  const v = new DataView(cq.buffer, cq.byteOffset + slot * 16, 16);
  v.setUint32(0, dw0, true);
  v.setUint16(8, sqhd, true);
  v.setUint16(10, 1, true);
  v.setUint16(12, cid, true);
  v.setUint16(14, (status & 0xfffe) | phase, true);
}

/** One DMA buffer: the CQ ring at 0 (DEPTH entries), the shadow pages at 4096; host words apart. */
function make(withShadow: boolean) {
  const mem = Dma.alloc(3 * 4096, { hugepages: false });
  const host = hostWords();
  host[1] = 1; // the CQ memory is zeroed: the first pass expects phase 1
  const shadow = new Uint32Array(mem.buffer, 4096, 2048);
  const bar = new ArrayBuffer(0x2000);
  const q = new Q(mem.id, 0, 16 * DEPTH, host, withShadow ? mem.id : 0, 4096, 8192, SQ1TDBL, CQ1HDBL, SQ1, EI + SQ1, CQ1, EI + CQ1);
  return { mem, cq: new Uint8Array(mem.buffer, 0, 16 * DEPTH), host, shadow, bar, regs: new Uint32Array(bar), q };
}

const code = (c: string) => expect.objectContaining({ code: c });

describe('NvmeQueue: completions', () => {
  it('reaps posted entries by phase tag into the host words and writes the CQ head once per batch', () => {
    const { mem, cq, host, regs, bar, q } = make(false);
    expect(q.poll(bar, DEPTH)).toBe(0);
    expect(regs[CQ1HDBL / 4]).toBe(0);
    post(cq, 0, 5, 0, 1, 1, 0xabcd);
    post(cq, 1, 6, 0x4100, 1, 2); // LBA Out of Range, DNR
    expect(q.poll(bar, DEPTH)).toBe(2);
    expect([...host.subarray(0, 2)]).toEqual([2, 1]);
    expect([...host.subarray(2, 10)]).toEqual([5, 0, 1, 0xabcd, 6, 0x4100, 2, 0]);
    expect(regs[CQ1HDBL / 4]).toBe(2);
    q.close();
    mem.release();
  });

  it('wraps, flips the expected phase, and honours max', () => {
    const { mem, cq, host, regs, bar, q } = make(false);
    for (let i = 0; i < DEPTH; i++) post(cq, i, 10 + i, 0, 1, i + 1);
    expect(q.poll(bar, 3)).toBe(3);
    expect([...host.subarray(0, 2)]).toEqual([3, 1]);
    expect(q.poll(bar, DEPTH)).toBe(1);
    expect(host[2]).toBe(13);
    expect([...host.subarray(0, 2)]).toEqual([0, 0]);
    expect(regs[CQ1HDBL / 4]).toBe(0);
    // Old entries still carry phase 1: nothing new until the controller writes phase 0.
    regs[CQ1HDBL / 4] = 0xdead;
    expect(q.poll(bar, DEPTH)).toBe(0);
    expect(regs[CQ1HDBL / 4]).toBe(0xdead);
    post(cq, 0, 20, 0, 0, 1);
    expect(q.poll(bar, DEPTH)).toBe(1);
    expect(host[2]).toBe(20);
    expect([...host.subarray(0, 2)]).toEqual([1, 0]);
    q.close();
    mem.release();
  });

  it('announce=false reaps and advances the head but writes no doorbell; announceHead writes it later', () => {
    const { mem, cq, host, shadow, regs, bar, q } = make(true);
    shadow[EI + CQ1] = 0; // the controller wants to hear of any head past 0
    regs[CQ1HDBL / 4] = 0xdead;
    post(cq, 0, 7, 0, 1, 1);
    post(cq, 1, 8, 0, 1, 2);
    expect(q.poll(bar, DEPTH, false)).toBe(2);
    expect([...host.subarray(0, 2)]).toEqual([2, 1]);
    expect(regs[CQ1HDBL / 4]).toBe(0xdead);
    expect(shadow[CQ1]).toBe(0);
    expect(q.announceHead(bar)).toBe(true);
    expect(shadow[CQ1]).toBe(2);
    expect(regs[CQ1HDBL / 4]).toBe(2);
    q.close();
    mem.release();
  });
});

describe('NvmeQueue: doorbells (SQyTDBL, CQyHDBL) and shadow doorbells (Doorbell Buffer Config, EventIdx)', () => {
  it('writes the tail to SQyTDBL', () => {
    const { mem, regs, bar, q } = make(false);
    expect(q.ring(bar, 3)).toBe(true);
    expect(regs[SQ1TDBL / 4]).toBe(3);
    q.close();
    mem.release();
  });

  it('stores the tail in the shadow doorbell and writes the register only when it passes the EventIdx, or when forced', () => {
    const { mem, shadow, regs, bar, q } = make(true);
    // The controller has consumed up to 0 and asks to hear of anything after it (EventIdx 0).
    expect(q.ring(bar, 1)).toBe(true);
    expect(shadow[SQ1]).toBe(1);
    expect(regs[SQ1TDBL / 4]).toBe(1);
    // It has not caught up yet (EventIdx still 0): the next tails need no register write.
    regs[SQ1TDBL / 4] = 0;
    expect(q.ring(bar, 2)).toBe(false);
    expect(shadow[SQ1]).toBe(2);
    expect(regs[SQ1TDBL / 4]).toBe(0);
    // A doorbell the controller may have missed: force writes the register as well (QueuePair.kick).
    expect(q.ring(bar, 2, true)).toBe(true);
    expect(regs[SQ1TDBL / 4]).toBe(2);
    // It caught up to 2 and published EventIdx 2: moving past it needs the register again.
    shadow[EI + SQ1] = 2;
    expect(q.ring(bar, 3)).toBe(true);
    expect(regs[SQ1TDBL / 4]).toBe(3);
    // 16-bit arithmetic: EventIdx 65535 lies between old 65534 and new 1.
    shadow[SQ1] = 65534;
    shadow[EI + SQ1] = 65535;
    expect(q.ring(bar, 1)).toBe(true);
    q.close();
    mem.release();
  });

  it('moves the CQ head through the shadow doorbell when reaping', () => {
    const { mem, cq, shadow, regs, bar, q } = make(true);
    shadow[EI + CQ1] = 3; // the controller does not want to hear about heads before 3
    post(cq, 0, 7, 0, 1, 1);
    post(cq, 1, 8, 0, 1, 2);
    expect(q.poll(bar, DEPTH)).toBe(2);
    expect(shadow[CQ1]).toBe(2);
    expect(regs[CQ1HDBL / 4]).toBe(0);
    shadow[EI + CQ1] = 2; // now it wants to hear of the head passing 2
    post(cq, 2, 9, 0, 1, 3);
    expect(q.poll(bar, DEPTH)).toBe(1);
    expect(shadow[CQ1]).toBe(3);
    expect(regs[CQ1HDBL / 4]).toBe(3);
    q.close();
    mem.release();
  });

  it('pollTraced returns count * 2 plus whether the CQ head reached the register (what the trace says of each write)', () => {
    const { mem, cq, shadow, regs, bar, q } = make(true);
    shadow[EI + CQ1] = 3; // heads before 3 need no register write
    post(cq, 0, 7, 0, 1, 1);
    post(cq, 1, 8, 0, 1, 2);
    expect(q.pollTraced(bar, DEPTH)).toBe(2 * 2 + 0);
    expect(regs[CQ1HDBL / 4]).toBe(0);
    shadow[EI + CQ1] = 2; // now it wants to hear of the head passing 2
    post(cq, 2, 9, 0, 1, 3);
    expect(q.pollTraced(bar, DEPTH)).toBe(1 * 2 + 1);
    expect(regs[CQ1HDBL / 4]).toBe(3);
    post(cq, 3, 10, 0, 1, 4);
    expect(q.pollTraced(bar, DEPTH, false)).toBe(1 * 2 + 0); // not announced: no doorbell at all
    expect(regs[CQ1HDBL / 4]).toBe(3);
    expect(q.pollTraced(bar, DEPTH)).toBe(0);
    q.close();
    mem.release();
  });
});

describe('NvmeQueue: what it is given is checked (an exception, never a wild pointer)', () => {
  it('keeps its memory mapped when JavaScript releases the buffer, and throws ERR_CLOSED after close()', () => {
    const { mem, cq, bar, q } = make(false);
    post(cq, 0, 9, 0, 1, 1);
    mem.release(); // JavaScript's views are detached; the handle's pin keeps the pages
    expect(q.poll(bar, DEPTH)).toBe(1);
    q.close();
    q.close(); // idempotent
    expect(() => q.poll(bar, DEPTH)).toThrow(code('ERR_CLOSED'));
    expect(() => q.ring(bar, 1)).toThrow(code('ERR_CLOSED'));
    expect(() => q.announceHead(bar)).toThrow(code('ERR_CLOSED'));
  });

  it('refuses regions outside their buffer, unknown buffers, rings that are not whole entries, bad host words, shadow indices and doorbell offsets', () => {
    const mem = Dma.alloc(4096, { hugepages: false });
    const ok = (over: Partial<Record<number, unknown>>) => {
      const a: unknown[] = [mem.id, 0, 16 * DEPTH, hostWords(), 0, 0, 0, SQ1TDBL, CQ1HDBL, 0, 0, 0, 0];
      for (const [i, v] of Object.entries(over)) a[Number(i)] = v;
      return () => new (Q as unknown as new (...args: unknown[]) => unknown)(...a);
    };
    expect(ok({ 1: 4064 })).toThrow(code('ERR_OUT_OF_RANGE')); // 64 bytes at 4064 of 4096
    expect(ok({ 1: 2 })).toThrow(code('ERR_OUT_OF_RANGE')); // not dword aligned
    expect(ok({ 2: 8192 })).toThrow(code('ERR_OUT_OF_RANGE'));
    expect(ok({ 0: 999_999 })).toThrow(code('ERR_CLOSED')); // no such buffer
    expect(ok({ 0: 0 })).toThrow(code('ERR_OUT_OF_RANGE'));
    expect(ok({ 0: '1' })).toThrow(code('ERR_INVALID_ARG'));
    expect(ok({ 2: 24 })).toThrow(/whole number/);
    expect(ok({ 2: 16 })).toThrow(/whole number/); // one entry: no queue
    expect(ok({ 3: new Uint32Array(new SharedArrayBuffer(16)) })).toThrow(/host must hold/);
    // Host words in DMA memory (device-writable) or a detachable ArrayBuffer are refused.
    expect(ok({ 3: new Uint32Array(mem.buffer, 1024, 2 + 4 * DEPTH) })).toThrow(code('ERR_INVALID_ARG'));
    expect(ok({ 3: new Uint32Array(2 + 4 * DEPTH) })).toThrow(/SharedArrayBuffer/);
    expect(ok({ 3: new Int32Array(new SharedArrayBuffer(8 + 16 * DEPTH)) })).toThrow(code('ERR_INVALID_ARG'));
    expect(ok({ 4: mem.id, 5: 2048, 6: 64, 9: 16 })).toThrow(/sqShadow/); // 16 dwords: index 16 is past the end
    expect(ok({ 4: mem.id, 5: 2048, 6: 64, 12: 16 })).toThrow(/cqEventIdx/);
    expect(ok({ 4: mem.id, 5: 4096, 6: 64 })).toThrow(code('ERR_OUT_OF_RANGE')); // shadow region past the buffer
    expect(ok({ 7: 0x1002 })).toThrow(code('ERR_MISALIGNED'));
    expect(ok({ 8: -4 })).toThrow(code('ERR_OUT_OF_RANGE'));
    mem.release();
  });

  it('checks the BAR and the integers on each call, and a head or phase in the host words that is out of range', () => {
    const mem = Dma.alloc(4096, { hugepages: false });
    const host = hostWords();
    host[1] = 1;
    const q = new Q(mem.id, 0, 16 * DEPTH, host, 0, 0, 0, SQ1TDBL, CQ1HDBL, 0, 0, 0, 0);
    const bar = new ArrayBuffer(0x2000);
    expect(() => q.poll(new ArrayBuffer(0x100c), DEPTH)).toThrow(code('ERR_OUT_OF_RANGE')); // CQ1HDBL past the BAR
    expect(() => q.ring(new ArrayBuffer(0x1008), 1)).toThrow(code('ERR_OUT_OF_RANGE'));
    expect(() => q.poll(new ArrayBuffer(0), DEPTH)).toThrow(code('ERR_CLOSED')); // an unmapped BAR (detached)
    expect(() => q.poll(new Uint8Array(0x2000) as unknown as ArrayBuffer, DEPTH)).toThrow(code('ERR_INVALID_ARG'));
    expect(() => q.poll(bar, DEPTH + 1)).toThrow(/max/);
    expect(() => q.poll(bar, -1)).toThrow(code('ERR_OUT_OF_RANGE'));
    expect(() => q.poll(bar, 1.5)).toThrow(code('ERR_OUT_OF_RANGE'));
    expect(() => q.poll(bar, DEPTH, 'no' as unknown as boolean)).toThrow(/announce must be a boolean/);
    expect(() => q.ring(bar, DEPTH)).toThrow(/tail/); // a tail past the queue
    expect(() => q.ring(bar, 70000)).toThrow(/tail/);
    expect(() => q.ring(bar, 1, 1 as unknown as boolean)).toThrow(/force must be a boolean/);
    host[0] = DEPTH; // a head outside the queue: checked on each call that uses it
    expect(() => q.poll(bar, DEPTH)).toThrow(code('ERR_OUT_OF_RANGE'));
    expect(() => q.announceHead(bar)).toThrow(code('ERR_OUT_OF_RANGE'));
    host[0] = 0;
    host[1] = 2; // a phase that is not 0 or 1
    expect(() => q.poll(bar, DEPTH)).toThrow(code('ERR_OUT_OF_RANGE'));
    expect(new Uint32Array(bar).every((w) => w === 0)).toBe(true); // no doorbell was written by any of these
    q.close();
    mem.release();
  });
});

// ---- QueuePair on the native handle --------------------------------------------------------

/** A DMA allocator over native DMA buffers without hugepages (one buffer per allocation). */
function nativeDma(): DmaAllocator {
  let next = 0x10_0000;
  return {
    alloc(size: number) {
      const buf = Dma.alloc(Math.max(size, 4096), { hugepages: false });
      const bytes = new Uint8Array(buf.buffer, 0, size);
      const iova = BigInt(next);
      next += Math.ceil(size / 4096) * 4096 + 4096;
      return { bytes, iova, size, offset: 0, native: buf, view: new DataView(buf.buffer, 0, size), iovaAt: (o: number) => iova + BigInt(o), release: () => buf.release() };
    },
  } as unknown as DmaAllocator;
}

describe('QueuePair on the native handle', () => {
  function pair(withShadow: boolean) {
    const dma = nativeDma();
    const bar = new ArrayBuffer(0x2000);
    const memory = dma.alloc(8192) as DmaMemory;
    const shadow = withShadow ? { words: new Uint32Array(memory.bytes.buffer, 0, 2048), eventIdx: EI, memory } : null;
    const qp = new QueuePair({ qid: 1, depth: 8, dstrd: 0, pageSize: 4096, maxTransfer: 8192, dma, bar: { mapping: { buffer: bar } }, completion: 'poll', shadow });
    return { qp, regs: new Uint32Array(bar), shadow, cq: qp.cq.bytes, memory };
  }

  it('submits, rings SQyTDBL, reaps and frees the CID, reports status and DW0', () => {
    const { qp, regs, cq } = pair(false);
    const seen: number[][] = [];
    qp.onComplete = (cid, status, dw0, tag) => seen.push([cid, status, dw0, tag]);
    const cid = qp.submitIo(NvmOpcode.Read, 1, 0, 8, 0x20_0000, 4096, 77);
    qp.ring();
    expect(regs[SQ1TDBL / 4]).toBe(1);
    expect(qp.poll()).toBe(0);
    post(cq, 0, cid, 0, 1, 1, 0x1234);
    expect(qp.poll()).toBe(1);
    expect(seen).toEqual([[cid, 0, 0x1234, 77]]);
    expect(qp.outstanding).toBe(0);
    expect(regs[CQ1HDBL / 4]).toBe(1);
    expect(qp.doorbellStats).toEqual({ rings: 1, sqRegisterWrites: 1, cqHeadWrites: 1 });
    qp.release();
    expect(() => qp.poll()).toThrow(); // the rings are gone
  });

  it('with shadow doorbells: the tail goes to the shadow entry, and a doorbell missed for KICK_AFTER_EMPTY_POLLS polls is forced to the register', () => {
    const { qp, regs, shadow } = pair(true);
    expect(qp.usesShadowDoorbells).toBe(true);
    shadow!.words[EI + SQ1] = 5; // the controller does not want to hear of tails before 6
    qp.submitIo(NvmOpcode.Read, 1, 0, 8, 0x20_0000, 4096, 1);
    qp.ring();
    expect(shadow!.words[SQ1]).toBe(1);
    expect(regs[SQ1TDBL / 4]).toBe(0);
    expect(qp.doorbellStats.sqRegisterWrites).toBe(0);
    for (let i = 0; i < 4096; i++) qp.poll();
    expect(regs[SQ1TDBL / 4]).toBe(1);
    expect(qp.doorbellStats.sqRegisterWrites).toBe(1);
    qp.release();
  });

  it('refuses queue memory that is not a native DMA buffer (unless a handle is given), naming it', () => {
    const plain = {
      alloc(size: number) {
        const bytes = new Uint8Array(size);
        return { bytes, iova: 0x10_0000n, size, offset: 0, view: new DataView(bytes.buffer), iovaAt: (o: number) => 0x10_0000n + BigInt(o), release() {} };
      },
    } as unknown as DmaAllocator;
    const bar = { mapping: { buffer: new ArrayBuffer(0x2000) } } as unknown as Region;
    const init = { qid: 1, depth: 8, dstrd: 0, pageSize: 4096, maxTransfer: 8192, dma: plain, bar, completion: 'poll' as const };
    expect(() => new QueuePair(init)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringContaining('queue pair 1: completion queue memory') }));
    const words = new Uint32Array(2048);
    expect(() => new QueuePair({ ...init, dma: nativeDma(), shadow: { words, eventIdx: EI } as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringContaining('shadow doorbell memory') }));
    expect(new QueuePair({ ...init, handle: fakeQueueHandle }).depth).toBe(8);
  });
});
