import { describe, expect, it } from 'vitest';
import { shadowSlots } from './shadow-doorbells.js';

describe('shadowSlots', () => {
  it('lays the shadow entries out like the doorbell registers, without the 1000h offset', () => {
    // DSTRD 0: SQ y tail at byte 8y, CQ y head at 8y + 4 (§3.1.24/25 minus 1000h), in dwords 2y and 2y + 1.
    expect(shadowSlots(1, 0, 1024)).toEqual({ sqTail: 2, sqEventIdx: 1026, cqHead: 3, cqEventIdx: 1027 });
    expect(shadowSlots(5, 0, 1024)).toEqual({ sqTail: 10, sqEventIdx: 1034, cqHead: 11, cqEventIdx: 1035 });
    // DSTRD 2: a stride of 16 bytes.
    expect(shadowSlots(1, 2, 1024)).toEqual({ sqTail: 8, sqEventIdx: 1032, cqHead: 12, cqEventIdx: 1036 });
  });
});
