// @vfio-node/bdev: block devices behind one interface.
/**
 * Block devices behind one interface ({@link Bdev}): a RAM disk ({@link MallocBdev}), a
 * null device ({@link NullBdev}) and an NVMe namespace through the runtime's worker-owned
 * queues ({@link NvmeBdev}), opened by name with {@link openBdev}. Errors:
 * {@link BDEV_ERROR_CODES}.
 *
 * @module @vfio-node/bdev
 */

export type { Bdev, BdevBuffer, BdevRange } from './bdev.js';
export { MallocBdev } from './malloc.js';
export { NullBdev } from './null.js';
export { NvmeBdev } from './nvme.js';
export { parseBdevName, parseSize, type BdevSpec } from './name.js';
export { openBdev, openBdevs, type OpenBdevOptions } from './open.js';
export { BDEV_ERROR_CODES, type BdevErrorCode } from './errors.js';
