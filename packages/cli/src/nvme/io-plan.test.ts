import { describe, expect, it } from 'vitest';
import { planIo } from './io-plan.js';

describe("nvme-cli's read/write sizing", () => {
  it('moves block-count + 1 blocks (0-based, like nvme-cli)', () => {
    expect(planIo(4096, 7, 512)).toEqual({ blocks: 8, bufferSize: 4096, rounded: false });
  });

  it('rounds the buffer up to the blocks asked for, and says so', () => {
    expect(planIo(512, 7, 512)).toEqual({ blocks: 8, bufferSize: 4096, rounded: true });
  });

  it('keeps a larger data size as the buffer size', () => {
    expect(planIo(8192, 0, 512)).toEqual({ blocks: 1, bufferSize: 8192, rounded: false });
  });

  it('derives the block count from the data size when --block-count is absent', () => {
    expect(planIo(5000, undefined, 512)).toEqual({ blocks: 10, bufferSize: 5120, rounded: false });
    expect(planIo(100, undefined, 4096)).toEqual({ blocks: 1, bufferSize: 4096, rounded: true });
  });

  it('refuses a transfer larger than one command can move, and a missing data size', () => {
    expect(() => planIo(512, 0x10000, 512)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringMatching(/^block count too large/) }));
    expect(() => planIo(65537 * 512, undefined, 512)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG', hint: expect.stringContaining('Split') }));
    expect(planIo(65536 * 512, 0xffff, 512).blocks).toBe(65536);
    expect(() => planIo(0, 1, 512)).toThrow(expect.objectContaining({ message: 'data size not provided' }));
  });
});
