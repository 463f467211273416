import { describe, expect, it } from 'vitest';
import { SQE, SQE_DWORDS } from './commands.js';
import { get64, prpListPagesFor, setPrps, setSglDataBlock, setSglLastSegment, writeSglDescriptor, type PrpListPages } from './prp.js';

const PAGE = 4096;
const BASE = 0x1000_0000; // an IOVA, page aligned
const LIST_IOVA = 0x2000_0000;

function fixture(pages: number, pageSize = PAGE) {
  const sqe = new Uint32Array(SQE_DWORDS);
  const list: PrpListPages = { u32: new Uint32Array((pages * pageSize) / 4), dw: 0, iova: LIST_IOVA, pages };
  return { sqe, list };
}

const prp1 = (sqe: Uint32Array) => get64(sqe, SQE.PRP1 / 4);
const prp2 = (sqe: Uint32Array) => get64(sqe, SQE.PRP2 / 4);
/** Entry i of list page p, as the controller would read it. */
const entry = (list: PrpListPages, p: number, i: number, pageSize = PAGE) => get64(list.u32, (p * pageSize) / 4 + 2 * i);

/** Walks PRP1/PRP2/lists the way a controller does and returns the [start, end) byte ranges covered. */
function walk(sqe: Uint32Array, list: PrpListPages, length: number, pageSize = PAGE): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let addr = prp1(sqe);
  let left = length;
  const take = (a: number) => {
    const n = Math.min(left, pageSize - (a % pageSize));
    out.push([a, a + n]);
    left -= n;
  };
  take(addr);
  if (left === 0) return out;
  if (left <= pageSize) {
    take(prp2(sqe));
    return out;
  }
  let listAddr = prp2(sqe);
  const perPage = pageSize / 8;
  while (left > 0) {
    const page = (listAddr - list.iova) / pageSize;
    for (let i = 0; i < perPage && left > 0; i++) {
      const e = entry(list, page, i, pageSize);
      if (i === perPage - 1 && left > pageSize) {
        listAddr = e;
        break;
      }
      expect(e % pageSize).toBe(0);
      take(e);
    }
  }
  return out;
}

describe('PRP entries (NVMe 2.0, Physical Region Page Entry and List)', () => {
  it('4 KiB page-aligned: PRP1 only, PRP2 zero', () => {
    const { sqe, list } = fixture(1);
    expect(setPrps(sqe, 0, BASE, 4096, PAGE, list)).toBe(0);
    expect(prp1(sqe)).toBe(0x1000_0000);
    expect(prp2(sqe)).toBe(0);
  });

  it('4 KiB + 8 bytes: PRP2 is the next page, no list', () => {
    const { sqe, list } = fixture(1);
    expect(setPrps(sqe, 0, BASE, 4096 + 8, PAGE, list)).toBe(0);
    expect(prp1(sqe)).toBe(0x1000_0000);
    expect(prp2(sqe)).toBe(0x1000_1000);
    expect(list.u32.every((d) => d === 0)).toBe(true);
  });

  it('4 KiB at offset 8 crosses into the next page: PRP1 keeps the offset, PRP2 the next page', () => {
    const { sqe, list } = fixture(1);
    setPrps(sqe, 0, BASE + 8, 4096, PAGE, list);
    expect(prp1(sqe)).toBe(0x1000_0008);
    expect(prp2(sqe)).toBe(0x1000_1000);
  });

  it('8 KiB + 16 bytes: PRP2 points at a list of two pages', () => {
    const { sqe, list } = fixture(1);
    expect(setPrps(sqe, 0, BASE, 8192 + 16, PAGE, list)).toBe(2);
    expect(prp1(sqe)).toBe(0x1000_0000);
    expect(prp2(sqe)).toBe(LIST_IOVA);
    expect(entry(list, 0, 0)).toBe(0x1000_1000);
    expect(entry(list, 0, 1)).toBe(0x1000_2000);
    expect(entry(list, 0, 2)).toBe(0);
    // Exact bytes of the first list entry, little endian.
    expect([...new Uint8Array(list.u32.buffer, 0, 8)]).toEqual([0x00, 0x10, 0x00, 0x10, 0, 0, 0, 0]);
  });

  it('2 MiB page-aligned: 511 list entries in one page', () => {
    const { sqe, list } = fixture(1);
    expect(setPrps(sqe, 0, BASE, 2 << 20, PAGE, list)).toBe(511);
    expect(entry(list, 0, 0)).toBe(BASE + 4096);
    expect(entry(list, 0, 510)).toBe(BASE + 511 * 4096);
    expect(entry(list, 0, 511)).toBe(0);
  });

  it('2 MiB at offset 16: 512 entries fill the list page exactly, no chain', () => {
    const { sqe, list } = fixture(1);
    expect(setPrps(sqe, 0, BASE + 16, 2 << 20, PAGE, list)).toBe(512);
    expect(prp1(sqe)).toBe(BASE + 16);
    expect(entry(list, 0, 511)).toBe(BASE + 512 * 4096);
  });

  it('4 MiB + 4 KiB: list pages chained through their last entry', () => {
    const { sqe, list } = fixture(3);
    expect(setPrps(sqe, 0, BASE, (4 << 20) + 4096, PAGE, list)).toBe(1024);
    expect(entry(list, 0, 510)).toBe(BASE + 511 * 4096);
    expect(entry(list, 0, 511)).toBe(LIST_IOVA + 4096); // chain to list page 1
    expect(entry(list, 1, 0)).toBe(BASE + 512 * 4096);
    expect(entry(list, 1, 511)).toBe(LIST_IOVA + 8192); // chain to list page 2
    expect(entry(list, 2, 0)).toBe(BASE + 1023 * 4096);
    expect(entry(list, 2, 1)).toBe(BASE + 1024 * 4096);
    expect(entry(list, 2, 2)).toBe(0);
  });

  it('covers exactly the buffer for many lengths, offsets and page sizes', () => {
    for (const pageSize of [4096, 8192]) {
      for (const offset of [0, 4, 512, pageSize - 4]) {
        for (const length of [4, 512, pageSize - offset, pageSize, pageSize + 4, 3 * pageSize + 100, 130 * pageSize, 1030 * pageSize + 4]) {
          const pages = prpListPagesFor(length, pageSize);
          const { sqe, list } = fixture(Math.max(pages, 1), pageSize);
          setPrps(sqe, 0, BASE + offset, length, pageSize, list);
          const ranges = walk(sqe, list, length, pageSize);
          let expected = BASE + offset;
          for (const [a, b] of ranges) {
            expect(a).toBe(expected);
            expected = b;
          }
          expect(expected).toBe(BASE + offset + length);
        }
      }
    }
  });

  it('prpListPagesFor counts chained pages', () => {
    expect(prpListPagesFor(4096, 4096)).toBe(0);
    expect(prpListPagesFor(8192, 4096)).toBe(1);
    expect(prpListPagesFor(512 * 1024, 4096)).toBe(1); // MDTS 7 with 4 KiB pages
    expect(prpListPagesFor(2 << 20, 4096)).toBe(1);
    expect(prpListPagesFor((2 << 20) + 4096, 4096)).toBe(2);
    expect(prpListPagesFor(4 << 20, 4096)).toBe(3);
  });

  it('refuses a misaligned PRP1, an empty transfer, and too few list pages', () => {
    const { sqe, list } = fixture(1);
    expect(() => setPrps(sqe, 0, BASE + 2, 512, PAGE, list)).toThrow(/dword/);
    expect(() => setPrps(sqe, 0, BASE, 0, PAGE, list)).toThrow(RangeError);
    expect(() => setPrps(sqe, 0, BASE, 4 << 20, PAGE, list)).toThrow(/list page/);
    expect(() => setPrps(sqe, 0, BASE, 3 * 4096, PAGE, null)).toThrow(/list page/);
  });
});

describe('SGL descriptors', () => {
  it('a Data Block descriptor in SGL1 with PSDT 01b', () => {
    const sqe = new Uint32Array(SQE_DWORDS);
    sqe[0] = 0x1234_0002; // cid 0x1234, Read
    setSglDataBlock(sqe, 0, 0x1_2345_6780, 0x3003);
    const bytes = new Uint8Array(sqe.buffer);
    expect(bytes[1]).toBe(0x40); // PSDT bits 15:14 = 01b
    expect([...bytes.subarray(24, 40)]).toEqual([0x80, 0x67, 0x45, 0x23, 0x01, 0, 0, 0, 0x03, 0x30, 0, 0, 0, 0, 0, 0x00]);
    expect(sqe[0]! >>> 16).toBe(0x1234);
  });

  it('a Last Segment descriptor points at data block descriptors', () => {
    const sqe = new Uint32Array(SQE_DWORDS);
    setSglLastSegment(sqe, 0, 0x5000, 3);
    const bytes = new Uint8Array(sqe.buffer);
    expect(bytes[39]).toBe(0x30);
    expect(get64(sqe, 6)).toBe(0x5000);
    expect(sqe[8]).toBe(48);
    const seg = new Uint32Array(4);
    writeSglDescriptor(seg, 0, 0, 0x9000, 512);
    expect([...new Uint8Array(seg.buffer)]).toEqual([0, 0x90, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0]);
  });
});
