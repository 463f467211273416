// Caller memory registered for DMA: the native registration checks every argument (page
// alignment of the view's address and length, the IOVA, the view itself) before the
// ioctl, in a child process so that a crash fails the test instead of the runner.
import { describe, expect, it } from 'vitest';
import { describeExit, runChild } from './child.js';

describe('vfioMapUserDma, pageOffsetOf, allocUserMemory', () => {
  it('refuses every bad argument with its code and reaches the kernel only with a page-aligned view', async () => {
    const r = await runChild('user-dma-args.mjs');
    expect(r.signal, describeExit(r)).toBeNull();
    expect(r.code, describeExit(r)).toBe(0);
    expect(r.result).toEqual({
      aligned: 'ENOTTY',
      dataView: 'ENOTTY',
      u32View: 'ENOTTY',
      offset: 'ERR_MISALIGNED',
      length: 'ERR_MISALIGNED',
      iova: 'ERR_MISALIGNED',
      iovaOverflow: 'ERR_OUT_OF_RANGE',
      negativeIova: 'ERR_OUT_OF_RANGE',
      empty: 'ERR_INVALID_ARG',
      detached: 'ERR_INVALID_ARG',
      arrayBuffer: 'ERR_INVALID_ARG',
      notView: 'ERR_INVALID_ARG',
      badFd: 'ERR_OUT_OF_RANGE',
      missing: 'ERR_INVALID_ARG',
      pageOffset: [0, 5, 8],
      pageOffsetBad: 'ERR_INVALID_ARG',
      allocSize: 3 * 4096,
      allocZero: 'ERR_OUT_OF_RANGE',
      allocHuge: 'ERR_OUT_OF_RANGE',
      allocFraction: 'ERR_OUT_OF_RANGE',
      zeroed: true,
    });
  });
});
