// The runtime's own errors, one factory per code (the layers below have theirs).

import { VfioError } from '@vfio-node/core';

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
