// The codes of the errors the vfio-node command raises itself, and VfioErrorCode: every
// code of every vfio-node package in one union. It lives here because this package is the
// one that depends on all the others (a lower layer naming an upper layer's codes would be
// an import cycle). Types only: importing them loads no driver.

import type { CoreErrorCode, SystemErrorCode } from '@vfio-node/core';
import type { LabErrorCode } from '@vfio-node/lab';
import type { NvmeErrorCode } from '@vfio-node/nvme';
import type { RuntimeErrorCode } from '@vfio-node/runtime';
import type { VirtioNetErrorCode } from '@vfio-node/virtio-net';
import type { BenchErrorCode } from '@vfio-node/bench';
import type { BdevErrorCode } from '@vfio-node/bdev';
import type { NvmfErrorCode } from '@vfio-node/nvmf';

/**
 * The codes the command raises itself (its subcommands pass on the codes of the packages
 * they use). A unit test (test/unit/error-codes.test.ts) fails when the sources raise a
 * code that no list names.
 */
export const CLI_ERROR_CODES = [
  // nvme subcommands
  'ERR_NVME_FORMAT_NOT_CONFIRMED',
  'ERR_NVME_FEATURE_NEEDS_DATA',
  // bench --compare: the kernel and QEMU peers
  'ERR_BENCH_KERNEL_PEER',
  'ERR_BENCH_PEER_SPAWN',
  // a state the command should never reach
  'ERR_INTERNAL',
] as const;

/** A code of an error raised by the vfio-node command itself. */
export type CliErrorCode = (typeof CLI_ERROR_CODES)[number];

/**
 * Every code an error of a vfio-node package can carry: the ERR_* codes of each layer
 * (core with the native core, the NVMe driver with its status codes, virtio-net, the
 * runtime, the lab, the benchmark, the command) and the errno name of a failed system call.
 * Each layer exports its own list (`CORE_ERROR_CODES`, `NVME_ERROR_CODES`,
 * `NVME_STATUS_CODES`, `VIRTIO_NET_ERROR_CODES`, `RUNTIME_ERROR_CODES`, `LAB_ERROR_CODES`,
 * `BENCH_ERROR_CODES`, {@link CLI_ERROR_CODES}).
 */
export type VfioErrorCode =
  | CoreErrorCode
  | SystemErrorCode
  | NvmeErrorCode
  | VirtioNetErrorCode
  | RuntimeErrorCode
  | LabErrorCode
  | BenchErrorCode
  | BdevErrorCode
  | NvmfErrorCode
  | CliErrorCode;
