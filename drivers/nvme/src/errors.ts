// The NVMe driver's error factories: one per code, so that every place that raises a
// code says the same thing and gives the same hint (STYLE.md §7). Errors the core
// raises for every layer (invalid argument, closed) come from @vfio-node/core.

import { invalidArgument, VfioError } from '@vfio-node/core';
import type { CoreErrorCode, SystemErrorCode } from '@vfio-node/core';

const hex2 = (v: number) => v.toString(16).padStart(2, '0') + 'h';

// ---- the codes ----------------------------------------------------------------------

/**
 * The ERR_NVME_* codes the driver raises for its own checks (the NVMe driver also raises
 * core's codes, {@link CoreErrorCode}, and the status codes below). Where a check of its own
 * means what a status means, it uses the status's code (ERR_NVME_LBA_OUT_OF_RANGE before
 * the command is sent). A unit test (test/unit/error-codes.test.ts) fails when the sources
 * raise a code that no list names.
 */
export const NVME_ERROR_CODES = [
  // bring-up and the controller's state
  'ERR_NVME_PAGE_SIZE',
  'ERR_NVME_ENTRY_SIZE',
  'ERR_NVME_NO_NVM_COMMAND_SET',
  'ERR_NVME_NO_IO_QUEUES',
  'ERR_NVME_NO_VECTOR',
  'ERR_NVME_READY_TIMEOUT',
  'ERR_NVME_CONTROLLER_FATAL',
  'ERR_NVME_RESET',
  'ERR_NVME_RESET_FAILED',
  'ERR_NVME_ASYNC_EVENTS_STOPPED',
  'ERR_DEVICE_GONE',
  // commands and queues
  'ERR_NVME_TIMEOUT',
  'ERR_NVME_QUEUE_FULL',
  'ERR_NVME_BAR_NOT_MAPPED',
  'ERR_NVME_NO_SUCH_NAMESPACE',
  'ERR_NVME_UNSUPPORTED_COMMAND',
  'ERR_NVME_SGL_UNSUPPORTED',
  'ERR_NVME_METADATA_UNSUPPORTED',
  // buffers and transfers
  'ERR_NVME_BUFFER_NOT_DMA',
  'ERR_NVME_BUFFER_MISALIGNED',
  'ERR_NVME_BUFFER_TOO_SMALL',
  'ERR_NVME_TRANSFER_TOO_LARGE',
  'ERR_NVME_VECTOR_INVALID',
  'ERR_NVME_VECTOR_MISALIGNED',
  'ERR_NVME_SIGNAL_UNSUPPORTED',
  // passthrough
  'ERR_NVME_PASSTHRU_INVALID',
  'ERR_NVME_PASSTHRU_MANAGED_OPCODE',
  'ERR_NVME_PASSTHRU_DIRECTION',
] as const;

/**
 * The code of an {@link NvmeStatusError} for each status the NVM Express Base Specification
 * 2.0 and the NVM Command Set Specification 1.0 name: ERR_NVME_ and the status's name in
 * upper snake case (statusCode() in status.ts makes them; a unit test checks that every
 * named status gives one of these).
 */
export const NVME_STATUS_CODES = [
  'ERR_NVME_INVALID_COMMAND_OPCODE',
  'ERR_NVME_INVALID_FIELD_IN_COMMAND',
  'ERR_NVME_COMMAND_ID_CONFLICT',
  'ERR_NVME_DATA_TRANSFER_ERROR',
  'ERR_NVME_COMMANDS_ABORTED_DUE_TO_POWER_LOSS_NOTIFICATION',
  'ERR_NVME_INTERNAL_ERROR',
  'ERR_NVME_COMMAND_ABORT_REQUESTED',
  'ERR_NVME_COMMAND_ABORTED_DUE_TO_SQ_DELETION',
  'ERR_NVME_COMMAND_ABORTED_DUE_TO_FAILED_FUSED_COMMAND',
  'ERR_NVME_COMMAND_ABORTED_DUE_TO_MISSING_FUSED_COMMAND',
  'ERR_NVME_INVALID_NAMESPACE_OR_FORMAT',
  'ERR_NVME_COMMAND_SEQUENCE_ERROR',
  'ERR_NVME_INVALID_SGL_SEGMENT_DESCRIPTOR',
  'ERR_NVME_INVALID_NUMBER_OF_SGL_DESCRIPTORS',
  'ERR_NVME_DATA_SGL_LENGTH_INVALID',
  'ERR_NVME_METADATA_SGL_LENGTH_INVALID',
  'ERR_NVME_SGL_DESCRIPTOR_TYPE_INVALID',
  'ERR_NVME_INVALID_USE_OF_CONTROLLER_MEMORY_BUFFER',
  'ERR_NVME_PRP_OFFSET_INVALID',
  'ERR_NVME_ATOMIC_WRITE_UNIT_EXCEEDED',
  'ERR_NVME_OPERATION_DENIED',
  'ERR_NVME_SGL_OFFSET_INVALID',
  'ERR_NVME_HOST_IDENTIFIER_INCONSISTENT_FORMAT',
  'ERR_NVME_KEEP_ALIVE_TIMER_EXPIRED',
  'ERR_NVME_KEEP_ALIVE_TIMEOUT_INVALID',
  'ERR_NVME_COMMAND_ABORTED_DUE_TO_PREEMPT_AND_ABORT',
  'ERR_NVME_SANITIZE_FAILED',
  'ERR_NVME_SANITIZE_IN_PROGRESS',
  'ERR_NVME_SGL_DATA_BLOCK_GRANULARITY_INVALID',
  'ERR_NVME_COMMAND_NOT_SUPPORTED_FOR_QUEUE_IN_CMB',
  'ERR_NVME_NAMESPACE_IS_WRITE_PROTECTED',
  'ERR_NVME_COMMAND_INTERRUPTED',
  'ERR_NVME_TRANSIENT_TRANSPORT_ERROR',
  'ERR_NVME_COMMAND_PROHIBITED_BY_COMMAND_AND_FEATURE_LOCKDOWN',
  'ERR_NVME_ADMIN_COMMAND_MEDIA_NOT_READY',
  'ERR_NVME_LBA_OUT_OF_RANGE',
  'ERR_NVME_CAPACITY_EXCEEDED',
  'ERR_NVME_NAMESPACE_NOT_READY',
  'ERR_NVME_RESERVATION_CONFLICT',
  'ERR_NVME_FORMAT_IN_PROGRESS',
  'ERR_NVME_COMPLETION_QUEUE_INVALID',
  'ERR_NVME_INVALID_QUEUE_IDENTIFIER',
  'ERR_NVME_INVALID_QUEUE_SIZE',
  'ERR_NVME_ABORT_COMMAND_LIMIT_EXCEEDED',
  'ERR_NVME_ASYNCHRONOUS_EVENT_REQUEST_LIMIT_EXCEEDED',
  'ERR_NVME_INVALID_FIRMWARE_SLOT',
  'ERR_NVME_INVALID_FIRMWARE_IMAGE',
  'ERR_NVME_INVALID_INTERRUPT_VECTOR',
  'ERR_NVME_INVALID_LOG_PAGE',
  'ERR_NVME_INVALID_FORMAT',
  'ERR_NVME_FIRMWARE_ACTIVATION_REQUIRES_CONVENTIONAL_RESET',
  'ERR_NVME_INVALID_QUEUE_DELETION',
  'ERR_NVME_FEATURE_IDENTIFIER_NOT_SAVEABLE',
  'ERR_NVME_FEATURE_NOT_CHANGEABLE',
  'ERR_NVME_FEATURE_NOT_NAMESPACE_SPECIFIC',
  'ERR_NVME_FIRMWARE_ACTIVATION_REQUIRES_NVM_SUBSYSTEM_RESET',
  'ERR_NVME_FIRMWARE_ACTIVATION_REQUIRES_CONTROLLER_LEVEL_RESET',
  'ERR_NVME_FIRMWARE_ACTIVATION_REQUIRES_MAXIMUM_TIME_VIOLATION',
  'ERR_NVME_FIRMWARE_ACTIVATION_PROHIBITED',
  'ERR_NVME_OVERLAPPING_RANGE',
  'ERR_NVME_NAMESPACE_INSUFFICIENT_CAPACITY',
  'ERR_NVME_NAMESPACE_IDENTIFIER_UNAVAILABLE',
  'ERR_NVME_NAMESPACE_ALREADY_ATTACHED',
  'ERR_NVME_NAMESPACE_IS_PRIVATE',
  'ERR_NVME_NAMESPACE_NOT_ATTACHED',
  'ERR_NVME_THIN_PROVISIONING_NOT_SUPPORTED',
  'ERR_NVME_CONTROLLER_LIST_INVALID',
  'ERR_NVME_DEVICE_SELF_TEST_IN_PROGRESS',
  'ERR_NVME_BOOT_PARTITION_WRITE_PROHIBITED',
  'ERR_NVME_INVALID_CONTROLLER_IDENTIFIER',
  'ERR_NVME_INVALID_SECONDARY_CONTROLLER_STATE',
  'ERR_NVME_INVALID_NUMBER_OF_CONTROLLER_RESOURCES',
  'ERR_NVME_INVALID_RESOURCE_IDENTIFIER',
  'ERR_NVME_SANITIZE_PROHIBITED_WHILE_PERSISTENT_MEMORY_REGION_IS_ENABLED',
  'ERR_NVME_ANA_GROUP_IDENTIFIER_INVALID',
  'ERR_NVME_ANA_ATTACH_FAILED',
  'ERR_NVME_CONFLICTING_ATTRIBUTES',
  'ERR_NVME_INVALID_PROTECTION_INFORMATION',
  'ERR_NVME_ATTEMPTED_WRITE_TO_READ_ONLY_RANGE',
  'ERR_NVME_COMMAND_SIZE_LIMIT_EXCEEDED',
  'ERR_NVME_WRITE_FAULT',
  'ERR_NVME_UNRECOVERED_READ_ERROR',
  'ERR_NVME_END_TO_END_GUARD_CHECK_ERROR',
  'ERR_NVME_END_TO_END_APPLICATION_TAG_CHECK_ERROR',
  'ERR_NVME_END_TO_END_REFERENCE_TAG_CHECK_ERROR',
  'ERR_NVME_COMPARE_FAILURE',
  'ERR_NVME_ACCESS_DENIED',
  'ERR_NVME_DEALLOCATED_OR_UNWRITTEN_LOGICAL_BLOCK',
  'ERR_NVME_END_TO_END_STORAGE_TAG_CHECK_ERROR',
  'ERR_NVME_INTERNAL_PATH_ERROR',
  'ERR_NVME_ASYMMETRIC_ACCESS_PERSISTENT_LOSS',
  'ERR_NVME_ASYMMETRIC_ACCESS_INACCESSIBLE',
  'ERR_NVME_ASYMMETRIC_ACCESS_TRANSITION',
  'ERR_NVME_CONTROLLER_PATHING_ERROR',
  'ERR_NVME_HOST_PATHING_ERROR',
  'ERR_NVME_COMMAND_ABORTED_BY_HOST',
] as const;

/** A code of an error raised by the NVMe driver's own checks. */
export type NvmeDriverErrorCode = (typeof NVME_ERROR_CODES)[number];

/**
 * The code of an {@link NvmeStatusError}: a named status, or, for a status the
 * specifications do not name (vendor specific, reserved), ERR_NVME_STATUS_SCT<sct>_SC<sc in hex>.
 */
export type NvmeStatusCode = (typeof NVME_STATUS_CODES)[number] | `ERR_NVME_STATUS_SCT${number}_SC${string}`;

/** Every code `@vfio-node/nvme` raises: its own, the status codes, and core's (with errno names). */
export type NvmeErrorCode = NvmeDriverErrorCode | NvmeStatusCode | CoreErrorCode | SystemErrorCode;

/** A field of a passthrough command is not what the command format allows. */
export function passthruInvalid(field: string, value: unknown, expected: string, hint?: string): VfioError {
  return new VfioError({
    code: 'ERR_NVME_PASSTHRU_INVALID',
    message: `passthrough command: invalid ${field} ${describeValue(value)} (expected ${expected})`,
    hint: hint ?? 'See the PassthruCommand fields: opcode 0-255, nsid and cdw2-cdw15 32-bit unsigned integers, data a DMA buffer or a byte length.',
    details: { field, value: typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean' ? value : String(value) },
  });
}

/**
 * A passthrough command the driver sends itself: carried out behind its back, it would
 * make the driver's idea of the controller (its queues, its shadow doorbells, its
 * outstanding commands) wrong.
 */
export function passthruManagedOpcode(opcode: number, name: string, why: string, instead: string): VfioError {
  return new VfioError({
    code: 'ERR_NVME_PASSTHRU_MANAGED_OPCODE',
    message: `passthrough of admin opcode ${hex2(opcode)} (${name}) refused: the driver manages it itself, and ${why}`,
    hint: instead,
    details: { opcode, name },
  });
}

/** The data direction disagrees with the opcode's data transfer bits (1:0). */
export function passthruDirection(opcode: number, direction: string, expected: string): VfioError {
  return new VfioError({
    code: 'ERR_NVME_PASSTHRU_DIRECTION',
    message: `passthrough opcode ${hex2(opcode)}: data direction '${direction}' disagrees with the opcode's data transfer bits 1:0 (${(opcode & 3).toString(2).padStart(2, '0')}b: ${expected})`,
    hint: "By the NVMe convention 01b is host to controller ('write'), 10b controller to host ('read'), 00b no data. For a vendor command that does not follow it, pass force: true (CLI: --force).",
    details: { opcode, direction, bits: opcode & 3 },
  });
}

/** A transfer larger than the controller takes in one command (MDTS), where splitting it is not possible. */
export function transferTooLarge(what: string, bytes: number, maxTransfer: number): VfioError {
  return new VfioError({
    code: 'ERR_NVME_TRANSFER_TOO_LARGE',
    message: `${what}: ${bytes} bytes is more than the controller transfers in one command (${maxTransfer} bytes, from MDTS), and a raw command cannot be split`,
    hint: `Transfer at most ${maxTransfer} bytes per command (the command's own fields, e.g. an offset, say where the next part starts).`,
    details: { bytes, maxTransfer },
  });
}

/** A buffer the controller cannot reach: not DMA memory of this device (or released). */
export function bufferNotDma(refusal: string | undefined): VfioError {
  return new VfioError({
    code: 'ERR_NVME_BUFFER_NOT_DMA',
    message: `the buffer cannot be used for I/O: ${refusal ?? 'it is not DMA memory of this device'}`,
    hint: 'Allocate I/O buffers with controller.allocBuffer(size) (or device.dma.alloc) and pass mem.bytes or a subarray of it.',
  });
}

/** PRP entries need dword-aligned addresses. */
export function bufferMisaligned(iova: number): VfioError {
  return new VfioError({
    code: 'ERR_NVME_BUFFER_MISALIGNED',
    message: `the buffer starts at IOVA 0x${iova.toString(16)}, which is not dword aligned as PRP entries require`,
    hint: 'Start the buffer at a multiple of 4 bytes (best: of the page size); a namespace read or write also takes { sgl: true } on a controller with SGLs.',
    details: { iova },
  });
}

function describeValue(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return `${v} (0x${v.toString(16)})`;
  return String(v);
}

// ---- queue pairs (queue.ts) -----------------------------------------------------------

/** BAR0 is not mmapped as a whole, so the hot path cannot write its doorbells. */
export function barNotMapped(): VfioError {
  return new VfioError({
    code: 'ERR_NVME_BAR_NOT_MAPPED',
    message: 'BAR0 of the NVMe controller is not mapped as a whole, so its doorbells cannot be written from the hot path',
    hint: 'The kernel did not allow an mmap of the whole BAR (sparse mmap areas); a kernel with VFIO_REGION_INFO_CAP_MSIX_MAPPABLE (4.16+) allows it.',
  });
}

/** Every CID of a queue pair is outstanding. */
export function queueFull(qid: number, depth: number): VfioError {
  return new VfioError({
    code: 'ERR_NVME_QUEUE_FULL',
    message: `queue pair ${qid} has all ${depth - 1} command identifiers outstanding`,
    hint: 'Poll for completions before submitting more, or create the queue pair with a larger depth.',
    details: { qid, depth },
  });
}

/**
 * ERR_NVME_RESET, the one way it is built: a command that was in flight when the controller
 * was reset. `subject` names the command or its queue, `why` what started the reset.
 */
export function commandReset(subject: string, why?: string, device?: string): VfioError {
  return new VfioError({
    code: 'ERR_NVME_RESET',
    message: `${subject}: the controller was reset${why ? ` (${why})` : ''} with the command in flight`,
    hint: 'The command may or may not have been carried out; retry it.',
    ...(device ? { device } : {}),
  });
}

/** A command in flight on a queue pair whose controller was reset (told by another thread: the runtime's reset handshake). */
export function queueReset(qid: number): VfioError {
  return commandReset(`queue pair ${qid}`);
}

/**
 * A queue pair's completion ring or shadow doorbell pages that are not a region of a native
 * DMA buffer: the hot path's handle pins that memory by the buffer's id.
 */
export function queueMemoryNotDma(qid: number, what: string, value: unknown): VfioError {
  return invalidArgument(
    `queue pair ${qid}: ${what}`,
    value,
    'DmaMemory of a DmaAllocator or DmaArena (with native.id)',
    'Allocate the rings with device.dma (or a DmaArena) and pass the shadow doorbells with their memory; unit tests pass QueuePairInit.handle, a fake of the native handle.',
  );
}

/** deleteQueuePair() given a queue pair it may not delete (not made by createQueuePair, or the namespaces' own). */
export function notDeletableQueuePair(address: string, qid: number, why: string): VfioError {
  return new VfioError({ code: 'ERR_INVALID_ARG', message: `queue pair ${qid} of ${address} ${why}`, hint: 'deleteQueuePair() takes only a pair made by createQueuePair() on the same controller.', device: address });
}

/** A command pending on a queue pair that deleteQueuePair() took away. */
export function queuePairDeleted(address: string, qid: number): VfioError {
  return new VfioError({ code: 'ERR_CLOSED', message: `queue pair ${qid} of ${address} was deleted with the command pending`, hint: 'Wait for (or abort) the commands of a queue pair before deleting it; the command may or may not have been carried out.', device: address });
}

// ---- vectored I/O (readv/writev) -----------------------------------------------------

/** readv/writev given something other than a non-empty array of non-empty Uint8Arrays, or a total that is not whole blocks. */
export function vectorInvalid(what: string): VfioError {
  return new VfioError({
    code: 'ERR_NVME_VECTOR_INVALID',
    message: `readv/writev: ${what}`,
    hint: 'Pass a non-empty array of Uint8Arrays of DMA memory (controller.allocBuffer or controller.registerMemory) whose lengths add up to whole logical blocks.',
  });
}

/** A buffer of a vector that the controller cannot reach. */
export function vectorBufferNotDma(index: number, refusal: string | undefined): VfioError {
  return new VfioError({
    code: 'ERR_NVME_BUFFER_NOT_DMA',
    message: `buffer ${index} of the vector cannot be used for I/O: ${refusal ?? 'it is not DMA memory of this device'}`,
    hint: 'Use memory from controller.allocBuffer(size), or register memory you own with controller.registerMemory(view) (page-aligned: allocUserMemory from @vfio-node/core).',
    details: { index },
  });
}

/** A vector PRPs cannot describe, on a controller without SGLs (or with { sgl: false }). */
export function vectorMisaligned(index: number, why: string, pageSize: number, sglSupported: boolean): VfioError {
  return new VfioError({
    code: 'ERR_NVME_VECTOR_MISALIGNED',
    message: `buffer ${index} of the vector ${why}: PRP entries cannot describe it (NVMe base spec §4.1.1)`,
    hint: sglSupported
      ? 'Align the buffers to pages, or leave sgl unset (the driver then uses SGLs, which this controller supports).'
      : `This controller has no SGLs (Identify Controller SGLS): start every buffer after the first on a ${pageSize}-byte page boundary and end every buffer before the last on one, or do one read/write per buffer.`,
    details: { index, pageSize },
  });
}

/** SGLs asked for on a controller that has none. */
export function sglUnsupported(address: string, sgls: number): VfioError {
  return new VfioError({
    code: 'ERR_NVME_SGL_UNSUPPORTED',
    message: `${address} does not support SGLs (SGLS = ${sgls})`,
    hint: 'Use PRPs (leave sgl off).',
    device: address,
  });
}

/** One vectored command larger than MDTS (or than NLB's 65536 blocks): readv/writev are one command each. */
export function vectorTooLarge(bytes: number, limit: number, why: string): VfioError {
  return new VfioError({
    code: 'ERR_NVME_TRANSFER_TOO_LARGE',
    message: `readv/writev: ${bytes} bytes is more than one command carries (${limit} bytes, ${why})`,
    hint: `A vector goes to the controller as one command: split it into vectors of at most ${limit} bytes.`,
    details: { bytes, maxTransfer: limit },
  });
}

/** A signal given to a call that cannot abort yet (readv/writev): refused rather than ignored. */
export function signalUnsupported(call: string): VfioError {
  return new VfioError({
    code: 'ERR_NVME_SIGNAL_UNSUPPORTED',
    message: `${call} does not take a signal yet (an aborted vector would have to keep every one of its buffers out of reuse)`,
    hint: 'Leave the signal out, or use read/write (one buffer each), which take { signal }.',
  });
}

/** An I/O call's signal option that is not an AbortSignal. */
export function invalidSignal(value: unknown): VfioError {
  return new VfioError({
    code: 'ERR_INVALID_ARG',
    message: `invalid option signal: ${describeValue(value)} (expected an AbortSignal)`,
    hint: 'Pass controller.signal of an AbortController, AbortSignal.timeout(ms), or leave it out.',
  });
}

/** The controller's watchdog (or a reset it started) failed to bring the controller back: the 'error' event. */
export function resetFailed(address: string, cause: unknown): VfioError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new VfioError({
    code: 'ERR_NVME_RESET_FAILED',
    message: `${address}: a controller reset the driver started on its own (a timeout, CSTS.CFS) failed: ${why}`,
    hint: 'Pending commands failed. Try controller.reset(); if it fails too, close the controller and open it again (closing resets the PCI function).',
    device: address,
    cause,
  });
}

/** The Asynchronous Event Request loop stopped on an error: no more asyncEvent events (the 'error' event). */
export function asyncEventsStopped(address: string, cause: unknown): VfioError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new VfioError({
    code: 'ERR_NVME_ASYNC_EVENTS_STOPPED',
    message: `${address}: the Asynchronous Event Request failed (${why}): asynchronous events are no longer reported`,
    hint: 'The controller is still usable for I/O. Subscribe to asyncEvent again to send a new request; a controller that keeps refusing it does not report events.',
    device: address,
    cause,
  });
}

// ---- the controller's life: bring-up, timeouts, resets, removal (controller.ts) ----------

/** The controller's registers read all ones: the device left the bus or stopped decoding memory. */
export function deviceGone(address: string): VfioError {
  return new VfioError({
    code: 'ERR_DEVICE_GONE',
    message: `${address}: the controller's registers read all ones: the device is gone`,
    hint: 'The device was removed, fell off the bus (surprise removal, link down) or stopped decoding memory (Memory Space Enable cleared, a PCIe error). Pending commands failed; open it again once it is back (closing it resets the function).',
    device: address,
  });
}

/** A command that was in flight when the controller was reset (why: what started the reset). */
export function resetError(address: string, why: string): VfioError {
  return commandReset(address, why, address);
}

/** A command outlived the controller's timeout: aborted (or not), then the controller was stopped and reset. */
export function timeoutError(address: string, qid: number, cid: number, t: { opcode: number; abort: string }, timeoutMs: number): VfioError {
  const abort = t.abort === 'not sent' ? 'no Abort sent (an admin command)' : `Abort: ${t.abort}`;
  return new VfioError({
    code: 'ERR_NVME_TIMEOUT',
    message: `${address}: a command (opcode ${t.opcode}) on queue ${qid} did not complete within ${timeoutMs} ms (${abort}); the controller was stopped and reset, then in-flight commands failed`,
    hint: 'Retry the I/O: its buffer is no longer the controller\'s. If it keeps happening, raise timeoutMs or check the device.',
    device: address,
    details: { qid, cid, opcode: t.opcode, abort: t.abort },
  });
}

/** An admin command of close() (queue deletion) that the controller did not answer in time. */
export function closeCommandTimeout(address: string, name: string, ms: number): VfioError {
  return new VfioError({
    code: 'ERR_NVME_TIMEOUT',
    message: `${address}: ${name} did not complete within ${ms} ms during close`,
    hint: 'The controller is not processing its admin queue; close goes on with the shutdown notification (CC.SHN), then disables the controller.',
    device: address,
  });
}

/** CSTS.CFS: the controller reports a fatal error. */
export function controllerFatal(address: string): VfioError {
  return new VfioError({
    code: 'ERR_NVME_CONTROLLER_FATAL',
    message: `${address}: the controller reports a fatal error (CSTS.CFS = 1)`,
    hint: 'The controller was reset; retry the failed commands. If it repeats, the device is faulty.',
    device: address,
  });
}

/** CSTS.RDY did not follow CC.EN within CAP.TO. */
export function readyTimeout(address: string, rdy: number, ms: number, csts: number): VfioError {
  return new VfioError({
    code: 'ERR_NVME_READY_TIMEOUT',
    message: `${address}: CSTS.RDY did not become ${rdy} within CAP.TO (${ms} ms); CSTS = 0x${csts.toString(16)}`,
    hint: `The controller did not respond to CC.EN. Reset the PCI function (as root: echo 1 > /sys/bus/pci/devices/${address}/reset), then try again; if it stays stuck, power-cycle the machine.`,
    device: address,
    details: { csts },
  });
}

/** Interrupts asked for on a queue pair whose MSI-X vector is not enabled (the vectors are enabled at open). */
export function noVector(address: string, what: string, enabled?: number): VfioError {
  return new VfioError({
    code: 'ERR_NVME_NO_VECTOR',
    message: `${address}: no MSI-X vector for ${what}${enabled === undefined ? '' : ` (${enabled} enabled)`}`,
    hint: 'Vectors are enabled at open, one per queue pair the controller is opened for: open it with ioQueues or maxIoQueues covering every queue pair, or use polling (completion: "poll", or no interrupts option).',
    device: address,
  });
}

/** A command waited for synchronously (an admin command of bring-up or close) that did not complete in time. */
export function adminCommandTimeout(address: string, name: string, timeoutMs: number): VfioError {
  return new VfioError({ code: 'ERR_NVME_TIMEOUT', message: `${name} did not complete within ${timeoutMs} ms`, device: address, hint: 'The controller is not processing its admin queue; reset it or check CSTS.CFS.' });
}

/** The removal request (VFIO's device request interrupt): the kernel takes the device back. */
export function deviceRemoved(address: string): VfioError {
  return new VfioError({
    code: 'ERR_DEVICE_GONE',
    message: `${address} is being removed`,
    hint: 'The device was unplugged or unbound; open it again once it is back.',
    device: address,
  });
}

/** CAP.CSS without the NVM command set (bit 0): this driver speaks no other. */
export function noNvmCommandSet(address: string): VfioError {
  return new VfioError({ code: 'ERR_NVME_NO_NVM_COMMAND_SET', message: `${address}: CAP.CSS does not include the NVM command set`, hint: 'This driver speaks the NVM command set only; check that the address is the NVMe controller you meant (vfio-node list).', device: address });
}

/** No memory page size both the host (4 KiB pages) and the controller (CAP.MPSMIN..MPSMAX) can use. */
export function pageSizeUnusable(address: string, mpsMinBytes: number, mpsMaxBytes: number): VfioError {
  return new VfioError({ code: 'ERR_NVME_PAGE_SIZE', message: `${address}: no usable memory page size (CAP.MPSMIN ${mpsMinBytes}, MPSMAX ${mpsMaxBytes})`, device: address, hint: 'The driver uses max(4 KiB, CAP.MPSMIN) as its page size (CC.MPS), which must not exceed CAP.MPSMAX; this controller reports a range that allows none. Check the controller (its firmware, or the options of the emulator).' });
}

/** The queueDepth option exceeds CAP.MQES + 1. */
export function queueDepthTooLarge(depth: number, maxQueueEntries: number): VfioError {
  return new VfioError({
    code: 'ERR_INVALID_ARG',
    message: `queueDepth ${depth} is larger than the controller allows (CAP.MQES + 1 = ${maxQueueEntries})`,
    hint: `Use a queueDepth of 2 to ${maxQueueEntries}.`,
  });
}

/** A queue depth outside 2 .. CAP.MQES + 1 (createQueuePair, createExternalQueuePair). */
export function invalidQueueDepth(depth: number, maxQueueEntries: number): VfioError {
  return new VfioError({ code: 'ERR_INVALID_ARG', message: `invalid queue depth ${depth} (expected 2 to ${maxQueueEntries}, CAP.MQES + 1)`, hint: 'Pass a queueDepth within that range (the controller caps it at CAP.MQES + 1).' });
}

/** Identify Controller SQES/CQES do not allow the 64-byte SQEs and 16-byte CQEs this driver uses. */
export function entrySizeUnsupported(address: string, sqes: number, cqes: number): VfioError {
  return new VfioError({ code: 'ERR_NVME_ENTRY_SIZE', message: `${address}: SQES ${sqes.toString(16)}h / CQES ${cqes.toString(16)}h do not allow 64/16-byte entries`, device: address, hint: 'This driver uses 64-byte submission and 16-byte completion entries, as every NVMe controller of the NVM command set must allow.' });
}

/**
 * ERR_NVME_NO_IO_QUEUES, the one way it is built: no I/O queue pair for what was asked
 * (the controller granted none, all are in use, or no such pair has a promise layer).
 */
export function noIoQueues(address: string, message: string): VfioError {
  return new VfioError({
    code: 'ERR_NVME_NO_IO_QUEUES',
    message,
    hint: 'Open the controller with ioQueues and maxIoQueues covering every queue pair you use (Set Features – Number of Queues may grant fewer).',
    device: address,
  });
}

/** A namespace ID that is not active on the controller. */
export function noSuchNamespace(address: string, nsid: number, active: readonly number[]): VfioError {
  return new VfioError({
    code: 'ERR_NVME_NO_SUCH_NAMESPACE',
    message: `${address} has no active namespace ${nsid}`,
    hint: `Active namespaces: ${active.join(', ') || 'none'}.`,
    device: address,
  });
}

/** createExternalQueuePair given a queue id reserveQueueId() did not hand out. */
export function queueIdNotReserved(qid: number): VfioError {
  return new VfioError({ code: 'ERR_INVALID_ARG', message: `queue id ${qid} was not reserved with reserveQueueId()`, hint: 'Call reserveQueueId() first and pass the id it returned.' });
}

/** deleteExternalQueuePair given a queue id that is no external queue pair. */
export function notExternalQueuePair(address: string, qid: number): VfioError {
  return new VfioError({ code: 'ERR_INVALID_ARG', message: `queue ${qid} is not an external queue pair of ${address}`, hint: 'Only a queue id from reserveQueueId() whose pair was created with createExternalQueuePair() can be deleted this way.' });
}

/** An option of NvmeController.open() outside what it allows (`expected` says what). */
export function invalidControllerOption(name: string, value: string, expected: string): VfioError {
  return new VfioError({ code: 'ERR_INVALID_ARG', message: `invalid option ${name}: ${value} (expected ${expected})`, hint: 'Fix that option of NvmeController.open() (see NvmeControllerOptions).' });
}

/** controller.timeoutMs set to something other than 1 .. 3 600 000. */
export function invalidTimeoutMs(ms: number): VfioError {
  return new VfioError({ code: 'ERR_INVALID_ARG', message: `invalid timeoutMs: ${ms} (expected an integer from 1 to 3600000)`, hint: 'Give timeoutMs in milliseconds, for example 30000.' });
}

/** A call on a controller that was closed. */
export function controllerClosed(address: string): VfioError {
  return new VfioError({ code: 'ERR_CLOSED', message: `NVMe controller ${address} is closed`, device: address, hint: 'Open the controller again with NvmeController.open().' });
}

/** A command still pending when the controller was closed. */
export function closedWithCommandPending(address: string): VfioError {
  return new VfioError({ code: 'ERR_CLOSED', message: `NVMe controller ${address} was closed with the command pending`, device: address, hint: 'Wait for outstanding commands before close(); the command may or may not have been carried out.' });
}

// ---- namespaces (namespace.ts) --------------------------------------------------------

/** Dataset Management given no range. */
export function noRanges(): VfioError {
  return new VfioError({ code: 'ERR_INVALID_ARG', message: 'deallocate needs at least one range', hint: 'Pass at least one { lba, blocks } range.' });
}

/** A block count that is not a positive integer. */
export function invalidBlockCount(blocks: unknown): VfioError {
  return new VfioError({ code: 'ERR_INVALID_ARG', message: `invalid block count ${String(blocks)} (expected an integer >= 1)`, hint: 'Give the number of logical blocks as a positive integer.' });
}

/** An LBA that is not a non-negative safe integer. */
export function invalidLba(lba: unknown): VfioError {
  return new VfioError({ code: 'ERR_INVALID_ARG', message: `invalid LBA ${String(lba)} (expected a non-negative integer)`, hint: 'Give the starting LBA as a non-negative integer (below the namespace size).' });
}

/** An LBA range past NSZE, checked before the command is sent (the status's own code). */
export function lbaOutOfRange(address: string, nsid: number, lba: number, blocks: number, nsze: number, blockSize: number): VfioError {
  return new VfioError({
    code: 'ERR_NVME_LBA_OUT_OF_RANGE',
    message: `LBA ${lba} + ${blocks} blocks is beyond the end of namespace ${nsid} (NSZE ${nsze} blocks of ${blockSize} bytes)`,
    hint: `Valid LBAs are 0 to ${nsze - 1}.`,
    device: address,
    details: { nsid, lba, blocks, nsze },
  });
}

/** A namespace formatted with metadata, which the driver does not transfer. */
export function metadataUnsupported(nsid: number, metadataSize: number): VfioError {
  return new VfioError({
    code: 'ERR_NVME_METADATA_UNSUPPORTED',
    message: `namespace ${nsid} is formatted with ${metadataSize} bytes of metadata per block, which this driver does not handle`,
    hint: 'Format the namespace to an LBA format without metadata (admin.formatNvm).',
  });
}

/** An I/O buffer that is no ArrayBufferView at all. */
export function bufferNotView(buffer: unknown): VfioError {
  return new VfioError({ code: 'ERR_INVALID_ARG', message: `the buffer must be a Uint8Array of DMA memory, got ${typeof buffer}`, hint: 'Allocate it with controller.allocBuffer(size) and pass its .bytes.' });
}

/** An I/O buffer smaller than the blocks it must hold. */
export function bufferTooSmall(size: number, blocks: number, blockSize: number): VfioError {
  const need = blocks * blockSize;
  return new VfioError({
    code: 'ERR_NVME_BUFFER_TOO_SMALL',
    message: `the buffer holds ${size} bytes; ${blocks} blocks of ${blockSize} bytes need ${need}`,
    hint: 'Pass a larger buffer or fewer blocks.',
    details: { size, need },
  });
}

/** A byte offset or length (readBytes/writeBytes) that is not whole blocks. */
export function bytesNotBlocks(offset: number | bigint, length: number, blockSize: number): VfioError {
  return new VfioError({
    code: 'ERR_MISALIGNED',
    message: `byte offset ${String(offset)} and length ${length} must be non-zero multiples of the block size ${blockSize}`,
    hint: 'Use read/write with LBAs, or align offset and length to the block size.',
  });
}

/** An optional command the controller does not have (Identify Controller ONCS). */
export function unsupportedCommand(address: string, name: string, oncs: number): VfioError {
  return new VfioError({
    code: 'ERR_NVME_UNSUPPORTED_COMMAND',
    message: `${address} does not support ${name} (Identify Controller ONCS = 0x${oncs.toString(16)})`,
    hint: `Check controller.identify.oncs before using ${name}.`,
  });
}
