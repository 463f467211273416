// Every error vfio-node throws is a VfioError: a stable `code`, a message that says
// what was wrong, a `hint` that says what to do, and the system call context when one
// failed. The native core throws this class too (see setErrorFactory in native.ts).

/** What a {@link VfioError} is made of; `C` is its code's type (string unless the factory knows it). */
export interface VfioErrorInit<C extends string = string> {
  /** Stable code: an errno name from a failed system call ('EBUSY') or ERR_* for our own checks. */
  code: C;
  /** What was wrong, in one sentence. */
  message: string;
  /** What to do about it, in one or two sentences. */
  hint?: string;
  /** The system call or ioctl that failed ('open', 'VFIO_GROUP_SET_CONTAINER'). */
  syscall?: string;
  /** The errno number of a failed system call. */
  errno?: number;
  /** The file involved (/dev/vfio/3, a sysfs attribute), when there is one. */
  path?: string;
  /** The PCI address of the device involved. */
  device?: string;
  /** The error this one was made from (Error.cause). */
  cause?: unknown;
  /** Extra structured context (an NVMe status: sct, sc, dnr; an offset; a size). */
  details?: Record<string, unknown>;
}

/**
 * The error every vfio-node layer throws (the native core too): a stable `code`, a message
 * that says what was wrong, a `hint` that says what to do, and the failed system call's
 * `errno`/`syscall`/`path` when there was one. Each layer creates them through the
 * factories of its `errors.ts`; its codes are listed there (`CORE_ERROR_CODES`,
 * `NVME_ERROR_CODES`, ...), and `VfioErrorCode` from the `vfio-node` package unites them.
 * `C` is the code's type (string unless known: core's factories declare the code they give).
 */
export class VfioError<C extends string = string> extends Error {
  /** The stable code: an errno name (see {@link SystemErrorCode}) or one of the layers' ERR_* codes. */
  readonly code: C;
  /** What to do about it, in one or two sentences. */
  readonly hint: string | undefined;
  /** The system call or ioctl that failed, when one did. */
  readonly syscall: string | undefined;
  /** The errno number of a failed system call. */
  readonly errno: number | undefined;
  /** The file involved, when there is one. */
  readonly path: string | undefined;
  /** The PCI address of the device involved. */
  readonly device: string | undefined;
  /** Structured context: an NVMe status (sct, sc, dnr), an offset, a size. */
  readonly details: Record<string, unknown> | undefined;

  constructor(init: VfioErrorInit<C>) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'VfioError';
    this.code = init.code;
    this.hint = init.hint;
    this.syscall = init.syscall;
    this.errno = init.errno;
    this.path = init.path;
    this.device = init.device;
    this.details = init.details;
  }

  /** The message followed by the hint, as the CLI prints it. */
  describe(): string {
    return this.hint ? `${this.message}\n  hint: ${this.hint}` : this.message;
  }
}

/** True when err is a VfioError (or any error) with the given code. */
export function hasCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

// ---- the codes ----------------------------------------------------------------------

/**
 * The ERR_* codes that `@vfio-node/core` raises for its own checks, with those of the native
 * core under it (argument errors from native/src/errors.h, ERR_NATIVE_NOT_BUILT from
 * native/index.js). A system call that fails gives its errno name instead
 * ({@link SystemErrorCode}). A unit test (test/unit/error-codes.test.ts) fails when the
 * sources raise a code that is not listed here or in another layer's list.
 */
export const CORE_ERROR_CODES = [
  // arguments and handles (several layers raise these through the factories below)
  'ERR_INVALID_ARG',
  'ERR_OUT_OF_RANGE',
  'ERR_MISALIGNED',
  'ERR_CLOSED',
  // the native core
  'ERR_INVALID_RECEIVER',
  'ERR_NATIVE_NOT_BUILT',
  // PCI addresses, discovery and binding, host preparation
  'ERR_INVALID_PCI_ADDRESS',
  'ERR_NO_SUCH_DEVICE',
  'ERR_NO_SUCH_DRIVER',
  'ERR_DEVICE_IN_USE',
  'ERR_NOT_BOUND_TO_VFIO',
  'ERR_BIND_FAILED',
  'ERR_MODPROBE_FAILED',
  'ERR_NO_IOMMU_GROUP',
  'ERR_SIGNATURES_FOUND',
  'ERR_SHORT_INPUT',
  // the VFIO chain, regions and the device
  'ERR_VFIO_API_VERSION',
  'ERR_VFIO_NO_TYPE1',
  'ERR_VFIO_GROUP_NOT_VIABLE',
  'ERR_IOVA_EXHAUSTED',
  'ERR_REGION_NOT_ACCESSIBLE',
  'ERR_REGION_NOT_MAPPED',
  'ERR_REGION_TOO_LARGE',
  'ERR_NO_SUCH_BAR',
  'ERR_NOT_PCI',
  'ERR_NO_RESET',
  // interrupts
  'ERR_IRQ_COUNT',
  'ERR_IRQ_TIMEOUT',
  'ERR_IRQ_UNSUPPORTED',
  // DMA memory
  'ERR_NO_HUGEPAGES',
  'ERR_DMA_TOO_LARGE',
  'ERR_DMA_ARENA_FULL',
  'ERR_DOUBLE_FREE',
  // caller memory registered for DMA (registerMemory)
  'ERR_DMA_REGISTER_MISALIGNED',
  'ERR_DMA_REGISTER_DETACHABLE',
  'ERR_DMA_REGISTER_OVERLAP',
  'ERR_DMA_ENTRY_LIMIT',
] as const;

/** A code of an error raised by `@vfio-node/core` or the native core for its own checks. */
export type CoreErrorCode = (typeof CORE_ERROR_CODES)[number];

/**
 * The errno name of a failed system call ('EBUSY', 'ENOENT', 'EACCES'; glibc's
 * strerrorname_np), carried as `code` with `errno` and `syscall`.
 */
export type SystemErrorCode = `E${Uppercase<string>}`;

// ---- factories for the errors several layers raise -----------------------------------

/** ERR_INVALID_ARG: an argument or option `what` with a value that is not `expected`. */
export function invalidArgument(what: string, value: unknown, expected: string, hint?: string): VfioError<'ERR_INVALID_ARG'> {
  return new VfioError({
    code: 'ERR_INVALID_ARG',
    message: `invalid ${what}: ${formatValue(value)} (expected ${expected})`,
    hint,
    details: { what, value },
  });
}

/** ERR_OUT_OF_RANGE: an access of `length` bytes at `offset` that does not fit in `limit` bytes. */
export function outOfRange(what: string, offset: number | bigint, length: number | bigint, limit: number | bigint, hint?: string): VfioError<'ERR_OUT_OF_RANGE'> {
  return new VfioError({
    code: 'ERR_OUT_OF_RANGE',
    message: `${what}: offset ${hex(offset)} + length ${length} is outside the ${limit}-byte range`,
    hint,
    details: { offset, length, limit },
  });
}

/** ERR_MISALIGNED: `what` is not a multiple of `alignment` bytes. */
export function misaligned(what: string, value: number | bigint, alignment: number, hint?: string): VfioError<'ERR_MISALIGNED'> {
  return new VfioError({
    code: 'ERR_MISALIGNED',
    message: `${what}: ${hex(value)} is not aligned to ${alignment} bytes`,
    hint,
    details: { value, alignment },
  });
}

/** ERR_CLOSED: `what` was used after close(). */
export function closed(what: string): VfioError<'ERR_CLOSED'> {
  return new VfioError({ code: 'ERR_CLOSED', message: `${what} is closed`, hint: 'Open it again; a closed handle cannot be reused.' });
}

/** v in hex with a 0x prefix, zero-padded to width digits (for messages). */
export function hex(v: number | bigint, width = 0): string {
  const s = v.toString(16);
  return '0x' + (width ? s.padStart(width, '0') : s);
}

function formatValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  try {
    return String(v);
  } catch {
    return '(unprintable)';
  }
}

// ---- PCI addresses, discovery and binding (packages/core/src/pci) --------------------

/** A string that is not a PCI address in `DDDD:BB:DD.F` or `BB:DD.F` form. */
export function invalidPciAddress(value: unknown, why?: string): VfioError<'ERR_INVALID_PCI_ADDRESS'> {
  return new VfioError({
    code: 'ERR_INVALID_PCI_ADDRESS',
    message: `invalid PCI address ${formatValue(value)}${why ? ` (${why})` : ''}: expected DDDD:BB:DD.F or BB:DD.F in hex, e.g. 0000:00:03.0`,
    hint: "Copy the address from 'vfio-node list' (bus 00-ff, device 00-1f, function 0-7).",
    details: { value },
  });
}

/** No /sys/bus/pci/devices/<address>. */
export function noSuchDevice(address: string, path: string): VfioError<'ERR_NO_SUCH_DEVICE'> {
  return new VfioError({
    code: 'ERR_NO_SUCH_DEVICE',
    message: `no PCI device ${address} (${path} does not exist)`,
    hint: "Run 'vfio-node list' to see the PCI devices of this machine.",
    device: address,
    path,
  });
}

/** The device backs a mounted filesystem, an active swap area or a dm/md device. */
export function deviceInUse(address: string, uses: string[]): VfioError<'ERR_DEVICE_IN_USE'> {
  return new VfioError({
    code: 'ERR_DEVICE_IN_USE',
    message: `${address} is in use: ${uses.join('; ')}`,
    hint: '--force takes it anyway (the kernel loses the device under whatever uses it: expect data loss).',
    device: address,
    details: { uses },
  });
}

/** The device is bound to a driver other than vfio-pci (or to none). */
export function notBoundToVfio(address: string, driver: string | null): VfioError<'ERR_NOT_BOUND_TO_VFIO'> {
  return new VfioError({
    code: 'ERR_NOT_BOUND_TO_VFIO',
    message: driver === null ? `${address} is bound to no driver, not vfio-pci` : `${address} is bound to ${driver}, not vfio-pci`,
    hint: `Run 'vfio-node bind ${address}' (as root) first.`,
    device: address,
    details: { driver },
  });
}

/** Binding or unbinding did not end with the driver we asked for. */
export function bindFailed(address: string, wanted: string, got: string | null, hint?: string): VfioError<'ERR_BIND_FAILED'> {
  return new VfioError({
    code: 'ERR_BIND_FAILED',
    message: `${address}: expected driver ${wanted} after probing, found ${got ?? 'no driver'}`,
    hint: hint ?? "Check 'dmesg | tail' for the kernel's reason, and 'vfio-node doctor " + address + "'.",
    device: address,
    details: { wanted, got },
  });
}

/** A write to sysfs/procfs failed (usually EACCES: not root). */
export function hostWriteFailed(path: string, cause: unknown, device?: string): VfioError {
  const c = cause as NodeJS.ErrnoException | undefined;
  const code = typeof c?.code === 'string' ? c.code : 'EIO';
  const denied = code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
  return new VfioError({
    code,
    message: `cannot write ${path}: ${c?.message ?? String(cause)}`,
    hint: denied ? 'Run as root (sudo vfio-node ...): sysfs and /proc/sys are writable only by root.' : "Check 'dmesg | tail' for the kernel's reason.",
    syscall: 'write',
    errno: typeof c?.errno === 'number' ? Math.abs(c.errno) : undefined,
    path,
    device,
    cause,
  });
}

/** modprobe failed or is missing. */
export function modprobeFailed(module: string, detail: string): VfioError<'ERR_MODPROBE_FAILED'> {
  return new VfioError({
    code: 'ERR_MODPROBE_FAILED',
    message: `cannot load kernel module ${module}: ${detail}`,
    hint: `Run 'sudo modprobe ${module}' and read its error; the module must exist under /lib/modules/$(uname -r).`,
    details: { module },
  });
}

/** The device has no iommu_group link: no IOMMU is on, so VFIO cannot take it. */
export function noIommuGroup(address: string): VfioError<'ERR_NO_IOMMU_GROUP'> {
  return new VfioError({
    code: 'ERR_NO_IOMMU_GROUP',
    message: `${address} has no IOMMU group (no IOMMU is enabled)`,
    hint: 'Enable VT-d/AMD-Vi in the firmware and boot with intel_iommu=on (Intel) or amd_iommu=on (AMD); see vfio-node doctor.',
    device: address,
  });
}

// ---- data that a write would destroy (packages/core/src/block, the CLI's writes) -----

/** A destructive command found a partition table, filesystem or volume member where it would write. */
export function signaturesFound(target: string, found: string, command: string): VfioError<'ERR_SIGNATURES_FOUND'> {
  return new VfioError({
    code: 'ERR_SIGNATURES_FOUND',
    message: `${command} refused: ${target} holds ${found}`,
    hint: `Check that ${target} is the namespace you mean to overwrite; --force writes anyway (what is there is lost).`,
    details: { target, found },
  });
}

/** bind --driver names no PCI driver registered under /sys/bus/pci/drivers. */
export function noSuchDriver(driver: string, available: string[]): VfioError<'ERR_NO_SUCH_DRIVER'> {
  return new VfioError({
    code: 'ERR_NO_SUCH_DRIVER',
    message: `no PCI driver ${formatValue(driver)} is registered (/sys/bus/pci/drivers)`,
    hint: available.length ? `Registered PCI drivers: ${available.join(', ')}. Load a driver's module first (modprobe) to bind to it.` : 'No PCI driver is registered: load one with modprobe.',
    details: { driver, available },
  });
}

/** The data given for a write is shorter than the transfer. */
export function shortInput(source: string, have: number, need: number, padOption: string): VfioError<'ERR_SHORT_INPUT'> {
  return new VfioError({
    code: 'ERR_SHORT_INPUT',
    message: `${source} holds ${have} bytes, the transfer writes ${need}`,
    hint: `Give ${need} bytes of data, a smaller size, or ${padOption} to fill the rest with zeros.`,
    details: { have, need },
  });
}

// ---- DMA memory ----------------------------------------------------------------------

/** Fewer free 2 MiB hugepages than a DMA chunk needs. */
export function noHugepages(bytes: number, free: number, total: number, cause?: unknown): VfioError<'ERR_NO_HUGEPAGES'> {
  const asked = Math.ceil(bytes / (2 * 1024 * 1024));
  return new VfioError({
    code: 'ERR_NO_HUGEPAGES',
    message: `DMA memory of ${bytes} bytes needs ${asked} free 2 MiB hugepages; ${free} of the ${total} reserved are free`,
    hint:
      `Reserve more: \`vfio-node setup --hugepages ${total + asked - Math.min(free, asked)}\` ` +
      '(or write the count to /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages), ask for less memory, or allow 4 KiB pages with allowSmallPages.',
    cause,
    details: { bytes, asked, free, total },
  });
}

/** A DMA chunk of 4 KiB pages larger than this process can pin. */
export function dmaTooLarge(bytes: number, limit: number, limitName: string, hint?: string): VfioError<'ERR_DMA_TOO_LARGE'> {
  return new VfioError({
    code: 'ERR_DMA_TOO_LARGE',
    message: `DMA memory of ${bytes} bytes in 4 KiB pages is more than ${limit} bytes (${limitName})`,
    hint: hint ?? 'Ask for less DMA memory, or reserve 2 MiB hugepages (`vfio-node setup --hugepages N`) and leave hugepages on.',
    details: { bytes, limit },
  });
}

// ---- caller memory registered for DMA (DmaAllocator.register) -------------------------

const REGISTER_ALIGNED_HINT =
  'VFIO maps whole pages only, and a page shared with other objects must not reach the device: ' +
  'allocate the memory with allocUserMemory(size) from @vfio-node/core (page-aligned, yours to keep), ' +
  'or register pageAlignedSubarray(view), the page-aligned part of a larger buffer.';

/** Caller memory that does not start and end on page boundaries. */
export function registerMisaligned(what: string, pageSize: number): VfioError {
  return new VfioError({
    code: 'ERR_DMA_REGISTER_MISALIGNED',
    message: `cannot register the memory for DMA: ${what} (page size ${pageSize} bytes)`,
    hint: REGISTER_ALIGNED_HINT,
    details: { pageSize },
  });
}

/**
 * Caller memory in a plain ArrayBuffer from the JavaScript heap: it can be transferred away
 * (ArrayBuffer.prototype.transfer, postMessage) and its pages handed back to the heap while
 * the device still maps them.
 */
export function registerDetachable(): VfioError {
  return new VfioError({
    code: 'ERR_DMA_REGISTER_DETACHABLE',
    message: 'cannot register the memory for DMA: it is a plain ArrayBuffer from the JavaScript heap, which can be transferred away and its memory reused by the heap while the device still maps it',
    hint: 'Register memory that cannot end up back in the heap: allocUserMemory(size) from @vfio-node/core (page-aligned, yours to keep), or a SharedArrayBuffer (it cannot be transferred; pageAlignedSubarray(new Uint8Array(sab)) gives its whole pages).',
  });
}

/** Caller memory that overlaps memory already registered, or is DMA memory of the allocator. */
export function registerOverlap(what: string): VfioError {
  return new VfioError({
    code: 'ERR_DMA_REGISTER_OVERLAP',
    message: `cannot register the memory for DMA: ${what}`,
    hint: 'Register each range of a buffer once (release the registration that covers it first); DMA memory from alloc() needs no registration.',
  });
}

/** One more IOMMU mapping would pass the kernel's vfio_iommu_type1 dma_entry_limit. */
export function dmaEntryLimit(mappings: number, limit: number): VfioError {
  return new VfioError({
    code: 'ERR_DMA_ENTRY_LIMIT',
    message: `the container already holds ${mappings} IOMMU mappings; the kernel allows ${limit} (vfio_iommu_type1 dma_entry_limit)`,
    hint: 'Register fewer, larger buffers (one registration of a large buffer serves many I/Os), release registrations you no longer use, or raise /sys/module/vfio_iommu_type1/parameters/dma_entry_limit (as root).',
    details: { mappings, limit },
  });
}
