// The codes of the errors the benchmark raises. Its errors are core's VfioError; this file
// lists the benchmark's own codes so that they are one documented union with the layers'
// below (the benchmark passes theirs on: a driver's error ends a job with that code).

import { VfioError, type CoreErrorCode, type SystemErrorCode } from '@vfio-node/core';
import type { NvmeErrorCode } from '@vfio-node/nvme';
import type { RuntimeErrorCode } from '@vfio-node/runtime';
import type { VirtioNetErrorCode } from '@vfio-node/virtio-net';

/**
 * The ERR_BENCH_* codes the benchmark and the packet apps raise. A unit test
 * (test/unit/error-codes.test.ts) fails when the sources raise a code that no list names.
 */
export const BENCH_ERROR_CODES = [
  // job files and options (fio's meanings)
  'ERR_BENCH_JOBFILE',
  'ERR_BENCH_UNKNOWN_OPTION',
  // a job that does not fit its target
  'ERR_BENCH_BS',
  'ERR_BENCH_IODEPTH',
  'ERR_BENCH_SIZE',
  // device jobs of both NVMe engines in one command
  'ERR_BENCH_ENGINE_MIX',
  // the peers of --compare and their results
  'ERR_BENCH_PEER_OUTPUT',
  'ERR_BENCH_RESULTS',
] as const;

/** Every code `@vfio-node/bench` raises: its own and those of the layers it runs on. */
export type BenchErrorCode = (typeof BENCH_ERROR_CODES)[number] | NvmeErrorCode | VirtioNetErrorCode | RuntimeErrorCode | CoreErrorCode | SystemErrorCode;

/**
 * ERR_BENCH_ENGINE_MIX: one command has device jobs on both NVMe engines. vfio-nvme jobs run
 * on worker threads the benchmark drives itself, vfio-runtime jobs on a runtime opened with an
 * embedder's defaults; one controller cannot be opened by both at once.
 * @param direct the name of a vfio-nvme job
 * @param runtime the name of a vfio-runtime job
 */
export function engineMix(a: { job: string; engine: string }, b: { job: string; engine: string }): VfioError {
  return new VfioError({
    code: 'ERR_BENCH_ENGINE_MIX',
    message: `job ${a.job} uses ioengine=${a.engine} and job ${b.job} ioengine=${b.engine}: one command runs device jobs on one NVMe engine`,
    hint: 'Run the two engines in two commands (in one lab boot: vfio-node lab run -- sh -c "..."), or compare vfio-nvme with vfio-runtime in one command with --compare=vfio-runtime.',
    details: { jobs: [a.job, b.job] },
  });
}
