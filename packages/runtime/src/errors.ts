// The runtime's own errors, one factory per code (the layers below have theirs).

import { VfioError } from '@vfio-node/core';
import type { CoreErrorCode, SystemErrorCode } from '@vfio-node/core';
import type { NvmeErrorCode } from '@vfio-node/nvme';

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
