// The runtime's own errors, one factory per code (the layers below have theirs).

import { VfioError } from '@vfio-node/core';
import type { CoreErrorCode, SystemErrorCode } from '@vfio-node/core';
import { commandReset, type NvmeErrorCode } from '@vfio-node/nvme';

/**
 * The codes the runtime raises itself (it passes on the NVMe driver's and core's too, and
 * the code of an error thrown by code run with call() is that error's own). A unit test
 * (test/unit/error-codes.test.ts) fails when the sources raise a code that no list names.
 */
export const RUNTIME_ERROR_CODES = [
  'ERR_RUNTIME_WORKER',
  'ERR_WORKER_EXIT',
  'ERR_WORKER_CALL',
  'ERR_NVME_SUBMIT_FAILED',
] as const;

/** Every code `@vfio-node/runtime` raises: its own, the NVMe driver's and core's. */
export type RuntimeErrorCode = (typeof RUNTIME_ERROR_CODES)[number] | NvmeErrorCode | CoreErrorCode | SystemErrorCode;

/**
 * A worker thread ended while it owned requests: an exception thrown outside the promise
 * of code run with call(), process.exit() in that code, running out of memory, or
 * worker.terminate(). `reason` is what piscina reported.
 */
export function workerExit(index: number, qid: number, reason: unknown, reclaimed: string): VfioError {
  const why = reason instanceof Error ? reason.message : String(reason);
  return new VfioError({
    code: 'ERR_WORKER_EXIT',
    message: `worker ${index} (NVMe queue ${qid}) exited with the request pending (${why}); the queue was ${reclaimed}`,
    hint: 'The runtime keeps serving its other queues: retry the request. Code run with call() must not throw outside its promise, exit, or exhaust memory.',
    cause: reason,
    details: { worker: index, qid },
  });
}

/** A command the controller does not implement (Identify Controller ONCS): the driver's code and words. */
export function unsupportedCommand(address: string, name: string, oncs: number): VfioError {
  return new VfioError({
    code: 'ERR_NVME_UNSUPPORTED_COMMAND',
    message: `${address} does not support ${name} (Identify Controller ONCS = 0x${oncs.toString(16)})`,
    hint: `Check controller.identify.oncs before using ${name}.`,
  });
}

/** readAt/writeAt with a byte offset or length that is not a multiple of the block size: the driver's code and words. */
export function misaligned(offset: number | bigint, length: number, blockSize: number): VfioError {
  return new VfioError({
    code: 'ERR_MISALIGNED',
    message: `byte offset ${String(offset)} and length ${length} must be non-zero multiples of the block size ${blockSize}`,
    hint: 'Use read/write with LBAs, or align offset and length to the block size.',
  });
}

/** deallocate() without ranges. */
export function noRanges(): VfioError {
  return new VfioError({ code: 'ERR_INVALID_ARG', message: 'deallocate needs at least one range', hint: 'Pass at least one { lba, blocks } range.' });
}

/** An option of NvmeRuntime.open or an argument of call() out of its range. */
export function invalidRuntimeArg(message: string, hint?: string): VfioError {
  return new VfioError({ code: 'ERR_INVALID_ARG', message, hint });
}

/** A worker that could not start, or could not empty its rings after a controller reset. */
export function runtimeWorker(message: string, hint?: string): VfioError {
  return new VfioError({ code: 'ERR_RUNTIME_WORKER', message, hint });
}

/** Code run with call() threw: its error, carried across the thread boundary. */
export function workerCallFailed(error: { message: string; code?: string; hint?: string; stack?: string }): VfioError {
  return Object.assign(new VfioError({ code: error.code ?? 'ERR_WORKER_CALL', message: error.message, hint: error.hint }), { stack: error.stack });
}

/** The worker could not post a request's command (submitIo refused it). */
export function submitFailed(what: string): VfioError {
  return new VfioError({ code: 'ERR_NVME_SUBMIT_FAILED', message: `${what}: the worker could not post the command`, hint: 'The worker refused to build its entry (a buffer outside the runtime\'s DMA memory, or a transfer past MDTS): take buffers from allocBuffer() and keep transfers within the namespace\'s limits.' });
}

/** The runtime closed: with a request pending, before a command was posted, or before a call. */
export function runtimeClosed(message: string): VfioError {
  return new VfioError({ code: 'ERR_CLOSED', message, hint: 'Open a new runtime with NvmeRuntime.open(); a closed one takes no more requests.' });
}

/** A controller reset failed a command in flight on a worker's queue. */
export function resetInFlight(what: string): VfioError {
  return commandReset(what);
}

/** More requests pending at once than the runtime can tag (its request table is full). */
export function tooManyRequests(limit: number): VfioError {
  return new VfioError({ code: 'ERR_INVALID_ARG', message: `more than ${limit} requests pending at once`, hint: 'Wait for some of the promises before issuing more requests.' });
}

/** readBatch/writeBatch with no transfers, or not one buffer per LBA (buffers -1: not an array). */
export function batchMismatch(lbas: number, buffers: number): VfioError {
  return new VfioError({
    code: 'ERR_INVALID_ARG',
    message: buffers < 0 ? `a batch needs an array of buffers, one per LBA (${lbas} LBAs)` : `a batch needs one buffer per LBA and at least one LBA: got ${lbas} LBAs and ${buffers} buffers`,
    hint: 'Pass lbas and buffers of the same non-zero length: buffers[i] receives (or holds) the blocks at lbas[i].',
  });
}
