// The bdev layer's errors, one factory per code (core's and the runtime's pass through).

import { VfioError, closed } from '@vfio-node/core';

/**
 * The codes `@vfio-node/bdev` raises itself (an NVMe bdev passes the runtime's, the
 * driver's and core's on). test/unit/error-codes.test.ts fails when a source raises a
 * code that no list names.
 */
export const BDEV_ERROR_CODES = ['ERR_BDEV_NAME', 'ERR_BDEV_SIZE', 'ERR_BDEV_OUT_OF_RANGE', 'ERR_BDEV_BUFFER'] as const;

/** A code of {@link BDEV_ERROR_CODES}. */
export type BdevErrorCode = (typeof BDEV_ERROR_CODES)[number];

const NAMES_HINT = 'A bdev name is malloc:SIZE (a RAM disk), null:SIZE (reads zeroes, discards writes) or DDDD:BB:DD.F/NSID (an NVMe namespace bound to vfio-pci), SIZE like 64M or 1G.';

/** A bdev name that is none of the forms. */
export function badName(name: string, why: string): VfioError<BdevErrorCode> {
  return new VfioError({ code: 'ERR_BDEV_NAME', message: `bdev name '${name}': ${why}`, hint: NAMES_HINT });
}

/** A size (malloc:SIZE, null:SIZE, a block size) that cannot be used. */
export function badSize(name: string, why: string): VfioError<BdevErrorCode> {
  return new VfioError({ code: 'ERR_BDEV_SIZE', message: `bdev '${name}': ${why}`, hint: 'SIZE is a whole number of bytes with an optional K, M, G or T (powers of 1024), a multiple of the block size (512 or 4096).' });
}

/** An I/O whose blocks do not lie inside the device. */
export function outOfRange(name: string, lba: bigint, blocks: number, capacity: bigint): VfioError<BdevErrorCode> {
  return new VfioError({
    code: 'ERR_BDEV_OUT_OF_RANGE',
    message: `bdev '${name}': blocks ${lba} to ${lba + BigInt(blocks)} (exclusive) are outside its ${capacity} blocks`,
    hint: 'Check lba + blocks against bdev.blocks; blocks must be at least 1.',
  });
}

/** A buffer whose length is not blocks * blockSize. */
export function badBuffer(name: string, length: number, blocks: number, blockSize: number): VfioError<BdevErrorCode> {
  return new VfioError({
    code: 'ERR_BDEV_BUFFER',
    message: `bdev '${name}': a buffer of ${length} bytes for ${blocks} blocks of ${blockSize} bytes`,
    hint: 'The buffer must hold exactly blocks * blockSize bytes.',
  });
}

/** ERR_CLOSED: the bdev was used after close(). */
export function bdevClosed(name: string): VfioError {
  return closed(`bdev '${name}'`);
}
