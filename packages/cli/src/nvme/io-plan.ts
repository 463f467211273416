// How nvme-cli's read/write/compare turn --start-block, --block-count (0's based) and
// --data-size into a transfer: the blocks moved and the size of the data buffer (which
// is what a read writes to its output file). Pure, so that it can be tested alone.

import { VfioError } from '@vfio-node/core';

/** NLB is 16 bits, 0's based: nvme-cli's --block-count is a 16-bit number too. */
export const MAX_BLOCK_COUNT = 0xffff;

export interface IoPlan {
  /** Blocks to transfer (block-count + 1). */
  blocks: number;
  /** Bytes of the data buffer (at least blocks × block size). */
  bufferSize: number;
  /** Set when --data-size was smaller than the blocks asked for (nvme-cli says so on stderr). */
  rounded: boolean;
}

/**
 * nvme-cli's rule: buffer = (block-count + 1) × block size; a larger --data-size wins
 * ("Rounding data size to fit block count" when it is smaller). Without --block-count the
 * block count follows from the data size, rounded up to whole blocks.
 */
export function planIo(dataSize: number, blockCount: number | undefined, blockSize: number): IoPlan {
  if (!Number.isSafeInteger(dataSize) || dataSize <= 0) {
    throw new VfioError({ code: 'ERR_INVALID_ARG', message: 'data size not provided', hint: 'Give the size of the transfer in bytes with -z/--data-size (e.g. -z 4096).' });
  }
  let bufferSize = ((blockCount ?? 0) + 1) * blockSize;
  const rounded = dataSize < bufferSize;
  if (!rounded) bufferSize = dataSize;
  let blocks: number;
  if (blockCount !== undefined) {
    blocks = blockCount + 1;
  } else {
    blocks = Math.ceil(bufferSize / blockSize);
    bufferSize = blocks * blockSize;
  }
  if (blocks > MAX_BLOCK_COUNT + 1) {
    throw new VfioError({
      code: 'ERR_INVALID_ARG',
      message: `block count too large: ${blocks} blocks of ${blockSize} bytes (one command moves at most ${MAX_BLOCK_COUNT + 1}; --block-count is 0's based, at most ${MAX_BLOCK_COUNT})`,
      hint: 'Split the transfer into several commands, or use a smaller --data-size.',
      details: { blocks, blockSize },
    });
  }
  return { blocks, bufferSize, rounded };
}
