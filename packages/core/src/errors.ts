// Every error vfio-node throws is a VfioError: a stable `code`, a message that says
// what was wrong, a `hint` that says what to do, and the system call context when one
// failed. The native core throws this class too (see setErrorFactory in native.ts).

export interface VfioErrorInit {
  /** Stable code: an errno name from a failed system call ('EBUSY') or ERR_* for our own checks. */
  code: string;
  message: string;
  /** What to do about it, in one or two sentences. */
  hint?: string;
  syscall?: string;
  errno?: number;
  path?: string;
  /** The PCI address of the device involved. */
  device?: string;
  cause?: unknown;
  /** Extra structured context (an NVMe status: sct, sc, dnr; an offset; a size). */
  details?: Record<string, unknown>;
}

export class VfioError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly syscall: string | undefined;
  readonly errno: number | undefined;
  readonly path: string | undefined;
  readonly device: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(init: VfioErrorInit) {
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

// ---- factories for the errors several layers raise -----------------------------------

export function invalidArgument(what: string, value: unknown, expected: string, hint?: string): VfioError {
  return new VfioError({
    code: 'ERR_INVALID_ARG',
    message: `invalid ${what}: ${formatValue(value)} (expected ${expected})`,
    hint,
    details: { what, value },
  });
}

export function outOfRange(what: string, offset: number | bigint, length: number | bigint, limit: number | bigint, hint?: string): VfioError {
  return new VfioError({
    code: 'ERR_OUT_OF_RANGE',
    message: `${what}: offset ${hex(offset)} + length ${length} is outside the ${limit}-byte range`,
    hint,
    details: { offset, length, limit },
  });
}

export function misaligned(what: string, value: number | bigint, alignment: number, hint?: string): VfioError {
  return new VfioError({
    code: 'ERR_MISALIGNED',
    message: `${what}: ${hex(value)} is not aligned to ${alignment} bytes`,
    hint,
    details: { value, alignment },
  });
}

export function closed(what: string): VfioError {
  return new VfioError({ code: 'ERR_CLOSED', message: `${what} is closed`, hint: 'Open it again; a closed handle cannot be reused.' });
}

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
