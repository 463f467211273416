import { describe, expect, it } from 'vitest';
import { NvmeRuntime } from './runtime.js';

// Options are checked before anything is opened: no device needed.
describe('NvmeRuntime.open refuses polling options out of range, naming them', () => {
  it.each([
    [{ spinMicroseconds: -1 }, /spinMicroseconds/],
    [{ spinMicroseconds: Number.NaN }, /spinMicroseconds/],
    [{ pollMicroseconds: 0 }, /pollMicroseconds/],
    [{ pollMicroseconds: 2_000_000 }, /pollMicroseconds/],
  ])('%o', async (options, message) => {
    await expect(NvmeRuntime.open('0000:00:00.0', options)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG', message: expect.stringMatching(message) });
  });
});
