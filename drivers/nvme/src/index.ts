// @vfio-node/nvme: a userspace NVMe driver on VFIO. Start with NvmeController.open;
// the namespaces are block devices with promises, the queue pairs the batch hot path.
/**
 * A userspace NVMe driver on VFIO. Start with {@link NvmeController.open}; namespaces
 * ({@link Namespace}) are block devices with promises, queue pairs ({@link QueuePair}) the batch
 * hot path. Errors: {@link NVME_ERROR_CODES}, and {@link NvmeStatusError} for a command that
 * completed with a status ({@link NVME_STATUS_CODES}).
 *
 * @module @vfio-node/nvme
 */

export { NvmeController, type NvmeControllerOptions, type ResetListener, type NvmeControllerEvents, type ResetEvent, type AsyncEventWithLog, type AbortStats } from './controller.js';
export { type BringupObserver, type BringupStep } from './bringup.js';
export { Namespace, type LbaRange, type IoOptions, type TransferOptions, type WriteOptions } from './namespace.js';
export { QueuePair, type CompletionHandler, type CompletionMode } from './queue.js';
export { ShadowDoorbellBuffer, shadowSlots, type ShadowDoorbells, type ShadowSlots } from './shadow-doorbells.js';
export { RequestState, NO_TIMEOUT_TAG } from './request.js';
export { CommandQueue, newPending, type Pending } from './command-queue.js';
export { AdminCommands, Sel, type AsyncEvent } from './admin.js';
export { MANAGED_ADMIN_OPCODES, checkPassthru, opcodeDirection, type CheckedPassthru, type PassthruCommand, type PassthruDirection, type PassthruResult } from './passthru.js';
export * from './errors.js';
export * from './registers.js';
export * from './commands.js';
export * from './status.js';
export * from './identify.js';
export * from './prp.js';
export { decodeSqe, decodeCqe, decodeSglDescriptor, decodePrpList, decodeCc, decodeCsts, decodeAqa, type DecodedSqe, type DecodedCqe, type DecodedSgl, type DecodedField } from './decode.js';
