// @vfio-node/runtime: NVMe I/O queue pairs owned by worker threads (piscina), with a
// promise API on the main thread and a way to run code next to a queue pair.
/**
 * NVMe I/O queue pairs owned by worker threads, with a promise API on the main thread
 * ({@link NvmeRuntime.open}) and a way to run code next to a queue pair. Errors:
 * {@link RUNTIME_ERROR_CODES}.
 *
 * @module @vfio-node/runtime
 */

export { NvmeRuntime, type NvmeRuntimeEvents, type NvmeRuntimeOptions } from './runtime.js';
export type { RuntimeAbortStats } from './aborts.js';
export { RuntimeNamespace, type RuntimeIoOptions, type RuntimeTransferOptions } from './namespace.js';
export type { QueueContext, QueueFunction } from './context.js';
export { Ring, type RingInit } from './ring.js';
export type { NamespaceInfo } from './protocol.js';
export { queueInfo, readBlocks } from './diagnostics.js';
export { RUNTIME_ERROR_CODES, type RuntimeErrorCode } from './errors.js';
