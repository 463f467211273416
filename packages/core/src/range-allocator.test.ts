import { describe, expect, it } from 'vitest';
import { RangeAllocator } from './range-allocator.js';

describe('RangeAllocator', () => {
  it('allocates aligned extents first-fit and skips the unaligned head', () => {
    const a = new RangeAllocator([{ start: 0x1000n, end: 0x100000n }]);
    expect(a.allocate(0x1000n, 0x1000n)).toBe(0x1000n);
    expect(a.allocate(0x2000n, 0x10000n)).toBe(0x10000n);
    expect(a.extents()).toEqual([
      { start: 0x2000n, end: 0x10000n },
      { start: 0x12000n, end: 0x100000n },
    ]);
  });

  it('honours the inclusive ends the kernel reports for IOVA ranges and never crosses a hole', () => {
    // Two valid windows with the x86 MSI hole between them.
    const a = new RangeAllocator(
      [
        { start: 0n, end: 0xfedfffffn },
        { start: 0xfef00000n, end: 0xffffffffffffn },
      ],
      true,
    );
    expect(a.available).toBe(0xfee00000n + (0x1000000000000n - 0xfef00000n));
    expect(a.allocate(0x200000n, 0x200000n)).toBe(0n);
    // Too big for what remains below the hole: must land above it.
    const big = a.allocate(0xfee00000n, 0x200000n);
    expect(big).toBe(0xff000000n);
  });

  it('coalesces on release so a full-size allocation fits again', () => {
    const a = new RangeAllocator([{ start: 0n, end: 0x4000n }]);
    const x = a.allocate(0x1000n, 0x1000n)!;
    const y = a.allocate(0x1000n, 0x1000n)!;
    const z = a.allocate(0x2000n, 0x1000n)!;
    expect(a.allocate(0x1000n, 0x1000n)).toBeUndefined();
    a.release(y, 0x1000n);
    a.release(x, 0x1000n);
    a.release(z, 0x2000n);
    expect(a.extents()).toEqual([{ start: 0n, end: 0x4000n }]);
    expect(a.allocate(0x4000n, 0x1000n)).toBe(0n);
  });

  it('refuses a double free and bad sizes with named errors', () => {
    const a = new RangeAllocator([{ start: 0n, end: 0x4000n }]);
    const x = a.allocate(0x1000n, 0x1000n)!;
    a.release(x, 0x1000n);
    expect(() => a.release(x, 0x1000n)).toThrow(expect.objectContaining({ code: 'ERR_DOUBLE_FREE' }));
    expect(() => a.allocate(0n, 0x1000n)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => a.allocate(0x1000n, 0x1800n)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
  });
});
