import { describe, expect, it } from 'vitest';
import { SQE, SQE_DWORDS } from './commands.js';
import { get64, type PrpListPages } from './prp.js';
import { prpVectorListPages, prpVectorProblem, setPrpsVectored, setSglVectored, sglSegmentPages, type IoSegment } from './vectored.js';

const PAGE = 4096;
const LIST_IOVA = 0x2000_0000;

function fixture(pages: number) {
  const sqe = new Uint32Array(SQE_DWORDS);
  const list: PrpListPages = { u32: new Uint32Array((pages * PAGE) / 4), dw: 0, iova: LIST_IOVA, pages };
  return { sqe, list };
}
const prp1 = (sqe: Uint32Array) => get64(sqe, SQE.PRP1 / 4);
const prp2 = (sqe: Uint32Array) => get64(sqe, SQE.PRP2 / 4);
const entry = (list: PrpListPages, p: number, i: number) => get64(list.u32, (p * PAGE) / 4 + 2 * i);

/** Walks PRP1/PRP2/lists as a controller does for `length` bytes; returns the byte ranges, merged where contiguous. */
function walk(sqe: Uint32Array, list: PrpListPages, length: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let left = length;
  const take = (a: number) => {
    const n = Math.min(left, PAGE - (a % PAGE));
    const lastRange = out[out.length - 1];
    if (lastRange && lastRange[1] === a) lastRange[1] = a + n;
    else out.push([a, a + n]);
    left -= n;
  };
  take(prp1(sqe));
  if (left === 0) return out;
  if (left <= PAGE) {
    take(prp2(sqe));
    return out;
  }
  let listAddr = prp2(sqe);
  const perPage = PAGE / 8;
  while (left > 0) {
    const page = (listAddr - list.iova) / PAGE;
    for (let i = 0; i < perPage && left > 0; i++) {
      const e = entry(list, page, i);
      if (i === perPage - 1 && left > PAGE) {
        listAddr = e;
        break;
      }
      expect(e % PAGE).toBe(0);
      take(e);
    }
  }
  return out;
}

const total = (v: IoSegment[]) => v.reduce((n, s) => n + s.length, 0);

describe('PRPs over several buffers (NVMe 2.0 §4.1.1)', () => {
  it('two one-page buffers: PRP1 the first, PRP2 the second, no list', () => {
    const { sqe, list } = fixture(1);
    expect(setPrpsVectored(sqe, 0, [{ iova: 0x10000, length: PAGE }, { iova: 0x50000, length: PAGE }], PAGE, list)).toBe(0);
    expect(prp1(sqe)).toBe(0x10000);
    expect(prp2(sqe)).toBe(0x50000);
  });

  it('three buffers, the first with an offset: the list holds every further page in order', () => {
    const { sqe, list } = fixture(1);
    const v = [{ iova: 0x10200, length: PAGE - 0x200 }, { iova: 0x80000, length: 2 * PAGE }, { iova: 0x40000, length: 512 }];
    expect(setPrpsVectored(sqe, 0, v, PAGE, list)).toBe(3);
    expect(prp1(sqe)).toBe(0x10200);
    expect(prp2(sqe)).toBe(LIST_IOVA);
    expect([entry(list, 0, 0), entry(list, 0, 1), entry(list, 0, 2), entry(list, 0, 3)]).toEqual([0x80000, 0x81000, 0x40000, 0]);
    expect(walk(sqe, list, total(v))).toEqual([[0x10200, 0x11000], [0x80000, 0x82000], [0x40000, 0x40200]]);
  });

  it('a vector of more than 512 pages chains list pages through their last entry', () => {
    // 3 buffers of 200 pages each: 599 list entries, on 2 list pages.
    const v = [0, 1, 2].map((i) => ({ iova: 0x1000_0000 * (i + 1), length: 200 * PAGE }));
    expect(prpVectorListPages(v, PAGE)).toBe(2);
    const { sqe, list } = fixture(2);
    expect(setPrpsVectored(sqe, 0, v, PAGE, list)).toBe(599);
    expect(entry(list, 0, 510)).toBe(0x3000_0000 + (510 - 399) * PAGE);
    expect(entry(list, 0, 511)).toBe(LIST_IOVA + PAGE); // the chain pointer
    expect(entry(list, 1, 0)).toBe(0x3000_0000 + 112 * PAGE);
    expect(entry(list, 1, 87)).toBe(0x3000_0000 + 199 * PAGE);
    expect(walk(sqe, list, total(v))).toEqual(v.map((s) => [s.iova, s.iova + s.length]));
  });

  it('covers exactly the buffers for many shapes', () => {
    for (const first of [4, 512, PAGE - 4, PAGE]) {
      for (const middle of [0, 1, 3, 600]) {
        for (const lastLen of [4, PAGE, 3 * PAGE + 100]) {
          const v: IoSegment[] = [{ iova: 0x100_0000 + (PAGE - first), length: first }];
          for (let i = 0; i < (middle ? 2 : 0); i++) v.push({ iova: 0x1000_0000 * (i + 1), length: middle * PAGE });
          v.push({ iova: 0x7000_0000, length: lastLen });
          const { sqe, list } = fixture(Math.max(1, prpVectorListPages(v, PAGE)));
          setPrpsVectored(sqe, 0, v, PAGE, list);
          expect(walk(sqe, list, total(v))).toEqual(v.map((s) => [s.iova, s.iova + s.length]));
        }
      }
    }
  });

  it('names the buffer that breaks the page rules', () => {
    expect(prpVectorProblem([{ iova: 2, length: PAGE - 2 }], PAGE)?.why).toMatch(/dword/);
    expect(prpVectorProblem([{ iova: 0, length: PAGE }, { iova: 0x5010, length: 100 }], PAGE)).toMatchObject({ index: 1, why: expect.stringMatching(/start on a page boundary/) });
    expect(prpVectorProblem([{ iova: 0, length: 100 }, { iova: 0x5000, length: 100 }], PAGE)).toMatchObject({ index: 0, why: expect.stringMatching(/end on a page boundary/) });
    expect(prpVectorProblem([{ iova: 0x800, length: 0x800 }, { iova: 0x5000, length: 100 }], PAGE)).toBeNull();
    const { sqe, list } = fixture(1);
    expect(() => setPrpsVectored(sqe, 0, [{ iova: 0, length: 100 }, { iova: 0x5000, length: 100 }], PAGE, list)).toThrow(/buffer 0 ends/);
    expect(() => setPrpsVectored(sqe, 0, [], PAGE, list)).toThrow(RangeError);
  });

  it('refuses too few list pages', () => {
    const v = [0, 1, 2].map((i) => ({ iova: 0x1000_0000 * (i + 1), length: 200 * PAGE }));
    const { sqe, list } = fixture(1);
    expect(() => setPrpsVectored(sqe, 0, v, PAGE, list)).toThrow(/599 PRP list entries on 2 list page/);
    expect(() => setPrpsVectored(sqe, 0, v, PAGE, null)).toThrow(/only 0 available/);
  });
});

describe('SGLs over several buffers (NVMe 2.0 §4.1.2)', () => {
  const desc = (u32: Uint32Array, dw: number) => ({ addr: get64(u32, dw), length: u32[dw + 2]!, type: u32[dw + 3]! >>> 28 });

  it('one buffer: a Data Block descriptor in SGL1', () => {
    const { sqe, list } = fixture(1);
    expect(setSglVectored(sqe, 0, [{ iova: 0x1003, length: 77 }], PAGE, list)).toBe(0);
    expect((sqe[0]! >>> 14) & 3).toBe(1);
    expect(desc(sqe, 6)).toEqual({ addr: 0x1003, length: 77, type: 0 });
  });

  it('three unaligned buffers: SGL1 is a Last Segment of three Data Block descriptors', () => {
    const { sqe, list } = fixture(1);
    const v = [{ iova: 0x1003, length: 100 }, { iova: 0x9011, length: 5000 }, { iova: 0x20000, length: 7 }];
    expect(setSglVectored(sqe, 0, v, PAGE, list)).toBe(1);
    expect(desc(sqe, 6)).toEqual({ addr: LIST_IOVA, length: 48, type: 3 });
    expect([0, 1, 2].map((i) => desc(list.u32, 4 * i))).toEqual(v.map((s) => ({ addr: s.iova, length: s.length, type: 0 })));
    // Exact bytes of the first data descriptor.
    expect([...new Uint8Array(list.u32.buffer, 0, 16)]).toEqual([0x03, 0x10, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0x00]);
  });

  it('more descriptors than a page holds: segments chained by Segment, ended by Last Segment', () => {
    const n = 600; // 255 + 255 + 90
    expect(sglSegmentPages(n, PAGE)).toBe(3);
    const v = Array.from({ length: n }, (_, i) => ({ iova: 0x100000 + i * 0x1000, length: 512 }));
    const { sqe, list } = fixture(3);
    expect(setSglVectored(sqe, 0, v, PAGE, list)).toBe(3);
    expect(desc(sqe, 6)).toEqual({ addr: LIST_IOVA, length: 256 * 16, type: 2 });
    expect(desc(list.u32, 255 * 4)).toEqual({ addr: LIST_IOVA + PAGE, length: 256 * 16, type: 2 });
    expect(desc(list.u32, (PAGE + 255 * 16) / 4)).toEqual({ addr: LIST_IOVA + 2 * PAGE, length: 90 * 16, type: 3 });
    // Walk the chain as a controller does and collect the data descriptors.
    const seen: number[] = [];
    let seg = desc(sqe, 6);
    for (;;) {
      const base = (seg.addr - LIST_IOVA) / 4;
      const count = seg.length / 16;
      let next: ReturnType<typeof desc> | null = null;
      for (let j = 0; j < count; j++) {
        const d = desc(list.u32, base + 4 * j);
        if (d.type === 0) seen.push(d.addr);
        else {
          expect(j).toBe(count - 1);
          next = d;
        }
      }
      if (seg.type === 3 || next === null) break;
      seg = next;
    }
    expect(seen).toEqual(v.map((s) => s.iova));
  });

  it('refuses too few segment pages', () => {
    const v = Array.from({ length: 300 }, (_, i) => ({ iova: i * 0x1000, length: 512 }));
    const { sqe, list } = fixture(1);
    expect(() => setSglVectored(sqe, 0, v, PAGE, list)).toThrow(/need 2 segment page/);
  });
});
