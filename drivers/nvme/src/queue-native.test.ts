// The C completion loop (native/src/nvme_queue.cc) against a completion queue the test
// writes itself, in plain memory: phase tags, wrap-around, batching, the single CQ head
// doorbell write, and the argument checks.
import { describe, expect, it } from 'vitest';
import { native } from '@vfio-node/core';

type Hot = { nvmeCqPoll: typeof native.nvmeCqPoll; nvmeSqRing: typeof native.nvmeSqRing };
const hot: Hot = typeof native.nvmeCqPoll === 'function' ? native : (native as unknown as { default: Hot }).default;

const DEPTH = 4;
const CQ1HDBL = 0x100c;

function setup() {
  const cq = new Uint8Array(16 * DEPTH);
  const state = new Uint32Array([0, 1]);
  const bar = new ArrayBuffer(0x2000);
  const out = new Uint32Array(4 * DEPTH);
  return { cq, state, bar, out, regs: new Uint32Array(bar) };
}

/** Posts a CQE the way a controller does: DW0, SQHD/SQID, then CID + phase + status. */
function post(cq: Uint8Array, slot: number, cid: number, status: number, phase: number, sqhd: number, dw0 = 0) {
  const v = new DataView(cq.buffer, cq.byteOffset + slot * 16, 16);
  v.setUint32(0, dw0, true);
  v.setUint16(8, sqhd, true);
  v.setUint16(10, 1, true);
  v.setUint16(12, cid, true);
  v.setUint16(14, (status & 0xfffe) | phase, true);
}

describe('nvmeCqPoll', () => {
  it('reaps posted entries by phase tag and writes the head doorbell once', () => {
    const { cq, state, bar, out, regs } = setup();
    expect(hot.nvmeCqPoll(cq, state, bar, CQ1HDBL, out, DEPTH)).toBe(0);
    expect(regs[CQ1HDBL / 4]).toBe(0);
    post(cq, 0, 5, 0, 1, 1, 0xabcd);
    post(cq, 1, 6, 0x4100, 1, 2); // LBA Out of Range, DNR
    expect(hot.nvmeCqPoll(cq, state, bar, CQ1HDBL, out, DEPTH)).toBe(2);
    expect([...out.subarray(0, 8)]).toEqual([5, 0, 1, 0xabcd, 6, 0x4100, 2, 0]);
    expect([...state]).toEqual([2, 1]);
    expect(regs[CQ1HDBL / 4]).toBe(2);
  });

  it('wraps, flips the expected phase, and honours max', () => {
    const { cq, state, bar, out, regs } = setup();
    for (let i = 0; i < DEPTH; i++) post(cq, i, 10 + i, 0, 1, i + 1);
    expect(hot.nvmeCqPoll(cq, state, bar, CQ1HDBL, out, 3)).toBe(3);
    expect([...state]).toEqual([3, 1]);
    expect(hot.nvmeCqPoll(cq, state, bar, CQ1HDBL, out, DEPTH)).toBe(1);
    expect(out[0]).toBe(13);
    expect([...state]).toEqual([0, 0]);
    expect(regs[CQ1HDBL / 4]).toBe(0);
    // Old entries still carry phase 1: nothing new until the controller writes phase 0.
    regs[CQ1HDBL / 4] = 0xdead;
    expect(hot.nvmeCqPoll(cq, state, bar, CQ1HDBL, out, DEPTH)).toBe(0);
    expect(regs[CQ1HDBL / 4]).toBe(0xdead);
    post(cq, 0, 20, 0, 0, 1);
    expect(hot.nvmeCqPoll(cq, state, bar, CQ1HDBL, out, DEPTH)).toBe(1);
    expect(out[0]).toBe(20);
    expect([...state]).toEqual([1, 0]);
  });

  it('checks every argument and throws instead of touching memory out of range', () => {
    const { cq, state, bar, out } = setup();
    expect(() => hot.nvmeCqPoll(cq, state, bar, 0x2000, out, 1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => hot.nvmeCqPoll(cq, state, bar, 0x1002, out, 1)).toThrow(expect.objectContaining({ code: 'ERR_MISALIGNED' }));
    expect(() => hot.nvmeCqPoll(new Uint8Array(24), state, bar, CQ1HDBL, out, 1)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => hot.nvmeCqPoll(cq, state, bar, CQ1HDBL, new Uint32Array(4), 2)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => hot.nvmeCqPoll(cq, new Uint32Array([DEPTH, 1]), bar, CQ1HDBL, out, 1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => hot.nvmeCqPoll(cq, new Uint32Array([0, 2]), bar, CQ1HDBL, out, 1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => hot.nvmeCqPoll(cq, new Int32Array(2) as unknown as Uint32Array, bar, CQ1HDBL, out, 1)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => hot.nvmeCqPoll(cq, state, new Uint8Array(8) as unknown as ArrayBuffer, CQ1HDBL, out, 1)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
  });
});

describe('nvmeSqRing', () => {
  it('writes the tail to the doorbell and checks the offset', () => {
    const bar = new ArrayBuffer(0x2000);
    hot.nvmeSqRing(bar, 0x1008, 17);
    expect(new Uint32Array(bar)[0x1008 / 4]).toBe(17);
    expect(() => hot.nvmeSqRing(bar, 0x2000, 1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => hot.nvmeSqRing(bar, 0x1008, 70000)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });
});

describe('shadow doorbells (Doorbell Buffer Config, EventIdx)', () => {
  // Two 4 KiB pages as dwords: the Shadow Doorbell page, then the EventIdx page (dword 1024).
  const EI = 1024;
  const SQ1 = 2; // SQ 1 tail, DSTRD 0: dword 2 * 1
  const CQ1 = 3;

  it('stores the tail in the shadow doorbell and writes the register only when it passes the EventIdx', () => {
    const bar = new ArrayBuffer(0x2000);
    const regs = new Uint32Array(bar);
    const shadow = new Uint32Array(2048);
    // The controller has consumed up to 0 and asks to hear of anything after it (EventIdx 0).
    expect(hot.nvmeSqRing(bar, 0x1008, 3, shadow, SQ1, EI + SQ1)).toBe(true);
    expect(shadow[SQ1]).toBe(3);
    expect(regs[0x1008 / 4]).toBe(3);
    // It has not caught up yet (EventIdx still 0): the next tails need no register write.
    regs[0x1008 / 4] = 0;
    expect(hot.nvmeSqRing(bar, 0x1008, 5, shadow, SQ1, EI + SQ1)).toBe(false);
    expect(shadow[SQ1]).toBe(5);
    expect(regs[0x1008 / 4]).toBe(0);
    // It caught up to 5 and published EventIdx 5: moving past it needs the register again.
    shadow[EI + SQ1] = 5;
    expect(hot.nvmeSqRing(bar, 0x1008, 6, shadow, SQ1, EI + SQ1)).toBe(true);
    expect(regs[0x1008 / 4]).toBe(6);
    // Wrapping: EventIdx 65535 lies between old 65534 and new 1 (16-bit arithmetic).
    shadow[SQ1] = 65534;
    shadow[EI + SQ1] = 65535;
    expect(hot.nvmeSqRing(bar, 0x1008, 1, shadow, SQ1, EI + SQ1)).toBe(true);
  });

  it('moves the CQ head through the shadow doorbell when reaping', () => {
    const { cq, state, bar, out, regs } = setup();
    const shadow = new Uint32Array(2048);
    shadow[EI + CQ1] = 40; // the controller does not want to hear about heads before 40
    const dv = new DataView(cq.buffer);
    dv.setUint32(12, (1 << 16) | 7, true); // CID 7, phase 1
    dv.setUint32(16 + 12, (1 << 16) | 8, true);
    expect(hot.nvmeCqPoll(cq, state, bar, CQ1HDBL, out, DEPTH, shadow, CQ1, EI + CQ1)).toBe(2);
    expect(shadow[CQ1]).toBe(2);
    expect(regs[CQ1HDBL / 4]).toBe(0);
    shadow[EI + CQ1] = 2; // now it wants to hear of the head passing 2
    dv.setUint32(32 + 12, (1 << 16) | 9, true);
    expect(hot.nvmeCqPoll(cq, state, bar, CQ1HDBL, out, DEPTH, shadow, CQ1, EI + CQ1)).toBe(1);
    expect(shadow[CQ1]).toBe(3);
    expect(regs[CQ1HDBL / 4]).toBe(3);
  });

  it('refuses shadow indices outside the buffer and non-Uint32Array buffers, writing nothing', () => {
    const bar = new ArrayBuffer(0x2000);
    const shadow = new Uint32Array(16);
    expect(() => hot.nvmeSqRing(bar, 0x1008, 1, shadow, 16, 0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => hot.nvmeSqRing(bar, 0x1008, 1, shadow, 0, 99)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => hot.nvmeSqRing(bar, 0x1008, 1, new Uint8Array(64) as unknown as Uint32Array, 0, 1)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(new Uint32Array(bar)[0x1008 / 4]).toBe(0);
    expect(shadow.every((w) => w === 0)).toBe(true);
  });
});

describe('nvmeCqPoll announce=false (lazy CQ head doorbell)', () => {
  it('reaps and advances the head but writes no doorbell, neither the register nor the shadow', () => {
    const { cq, state, bar, out, regs } = setup();
    const shadow = new Uint32Array(16);
    regs[CQ1HDBL / 4] = 0xdead;
    post(cq, 0, 7, 0, 1, 1);
    post(cq, 1, 8, 0, 1, 2);
    expect(hot.nvmeCqPoll(cq, state, bar, CQ1HDBL, out, DEPTH, shadow, 3, 11, false)).toBe(2);
    expect([...state]).toEqual([2, 1]);
    expect(regs[CQ1HDBL / 4]).toBe(0xdead);
    expect(shadow[3]).toBe(0);
    expect(() => hot.nvmeCqPoll(cq, state, bar, CQ1HDBL, out, DEPTH, shadow, 3, 11, 'no' as unknown as boolean)).toThrow(/announce must be a boolean/);
  });
});

describe('NvmeQueue (the handle that checks the queue memory once)', () => {
  const Q = (native as unknown as { NvmeQueue?: typeof native.NvmeQueue }).NvmeQueue ?? (native as unknown as { default: { NvmeQueue: typeof native.NvmeQueue } }).default.NvmeQueue;
  const Dma = (native as unknown as { DmaBuffer?: typeof native.DmaBuffer }).DmaBuffer ?? (native as unknown as { default: { DmaBuffer: typeof native.DmaBuffer } }).default.DmaBuffer;
  const SQ1TDBL = 0x1008;

  /** The host words: never DMA memory, a SharedArrayBuffer. */
  const hostWords = (depth = DEPTH) => new Uint32Array(new SharedArrayBuffer(8 + 16 * depth));

  /** One DMA buffer: CQ ring at 0 (DEPTH entries), shadow pages at 8192; host words apart. */
  function make(withShadow: boolean) {
    const mem = Dma.alloc(3 * 4096, { hugepages: false });
    const bytes = new Uint8Array(mem.buffer);
    const host = hostWords();
    host[1] = 1;
    const shadow = new Uint32Array(mem.buffer, 8192, 1024);
    const bar = new ArrayBuffer(0x2000);
    const q = new Q(mem.id, 0, 16 * DEPTH, host, withShadow ? mem.id : 0, 8192, 4096, SQ1TDBL, CQ1HDBL, 2, 514, 3, 515);
    return { mem, cq: bytes.subarray(0, 16 * DEPTH), host, shadow, bar, regs: new Uint32Array(bar), q };
  }

  it('reaps by phase tag into the host words and writes the CQ head once per batch (or not, when told)', () => {
    const { mem, cq, host, bar, regs, q } = make(false);
    expect(q.poll(bar, DEPTH)).toBe(0);
    post(cq, 0, 5, 0, 1, 1, 0xabcd);
    post(cq, 1, 6, 0x4100, 1, 2);
    expect(q.poll(bar, DEPTH)).toBe(2);
    expect([...host.subarray(0, 2)]).toEqual([2, 1]);
    expect([...host.subarray(2, 10)]).toEqual([5, 0, 1, 0xabcd, 6, 0x4100, 2, 0]);
    expect(regs[CQ1HDBL / 4]).toBe(2);
    post(cq, 2, 7, 0, 1, 3);
    expect(q.poll(bar, DEPTH, false)).toBe(1);
    expect(regs[CQ1HDBL / 4]).toBe(2);
    expect(q.announceHead(bar)).toBe(true);
    expect(regs[CQ1HDBL / 4]).toBe(3);
    expect(q.ring(bar, 3)).toBe(true);
    expect(regs[SQ1TDBL / 4]).toBe(3);
    q.close();
    mem.release();
  });

  it('goes through the shadow doorbells and their EventIdx', () => {
    const { mem, shadow, bar, regs, q } = make(true);
    shadow[514] = 0; // SQ EventIdx: the controller consumed up to 0
    expect(q.ring(bar, 1)).toBe(true); // passes EventIdx 0: the register too
    expect(shadow[2]).toBe(1);
    expect(regs[SQ1TDBL / 4]).toBe(1);
    expect(q.ring(bar, 2)).toBe(false); // EventIdx still 0: the shadow only
    expect(shadow[2]).toBe(2);
    expect(regs[SQ1TDBL / 4]).toBe(1);
    q.close();
    mem.release();
  });

  it('keeps its memory mapped when JavaScript releases the buffer, and throws ERR_CLOSED after close()', () => {
    const { mem, cq, bar, q } = make(false);
    post(cq, 0, 9, 0, 1, 1);
    mem.release(); // JavaScript's views are detached; the handle's pin keeps the pages
    expect(q.poll(bar, DEPTH)).toBe(1);
    q.close();
    expect(() => q.poll(bar, DEPTH)).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
    expect(() => q.ring(bar, 1)).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
  });

  it('refuses regions outside their buffer, unknown buffers, host words that are not a SharedArrayBuffer or too short, and bad per-call arguments', () => {
    const mem = Dma.alloc(4096, { hugepages: false });
    expect(() => new Q(mem.id, 4064, 16 * DEPTH, hostWords(), 0, 0, 0, SQ1TDBL, CQ1HDBL, 0, 0, 0, 0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => new Q(999_999, 0, 64, hostWords(4), 0, 0, 0, SQ1TDBL, CQ1HDBL, 0, 0, 0, 0)).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
    expect(() => new Q(mem.id, 0, 16 * DEPTH, new Uint32Array(new SharedArrayBuffer(16)), 0, 0, 0, SQ1TDBL, CQ1HDBL, 0, 0, 0, 0)).toThrow(/host must hold/);
    // Host words in DMA memory (device-writable) or a detachable ArrayBuffer are refused.
    expect(() => new Q(mem.id, 0, 16 * DEPTH, new Uint32Array(mem.buffer, 1024, 2 + 4 * DEPTH), 0, 0, 0, SQ1TDBL, CQ1HDBL, 0, 0, 0, 0)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => new Q(mem.id, 0, 16 * DEPTH, new Uint32Array(2 + 4 * DEPTH), 0, 0, 0, SQ1TDBL, CQ1HDBL, 0, 0, 0, 0)).toThrow(/SharedArrayBuffer/);
    expect(() => new Q(mem.id, 0, 16 * DEPTH, hostWords(), mem.id, 2048, 64, SQ1TDBL, CQ1HDBL, 16, 0, 0, 0)).toThrow(/sqShadow/);
    const host = hostWords();
    const q = new Q(mem.id, 0, 16 * DEPTH, host, 0, 0, 0, SQ1TDBL, CQ1HDBL, 0, 0, 0, 0);
    host[0] = DEPTH; // a head outside the queue: checked on each poll
    expect(() => q.poll(new ArrayBuffer(0x2000), DEPTH)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    host[0] = 0;
    expect(() => q.poll(new ArrayBuffer(16), DEPTH)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(() => q.poll(new ArrayBuffer(0x2000), DEPTH + 1)).toThrow(/max/);
    expect(() => q.ring(new ArrayBuffer(0x2000), 70000)).toThrow(/tail/);
    q.close();
    mem.release();
  });
});
