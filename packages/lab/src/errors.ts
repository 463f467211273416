// Errors the lab raises. Same shape as core's VfioError (a stable `code`, a message that
// says what was wrong, a `hint` that says what to do), but its own class: importing
// @vfio-node/core loads the native addon, and the lab must work on a host where the
// addon is not built (it is what boots the lab that tests the addon).

/**
 * Every code a {@link LabError} carries: the lab's ERR_LAB_* and ERR_INVALID_ARG for an
 * option it cannot use. LabError's constructor takes only these, so a new code must be
 * added here (test/unit/error-codes.test.ts checks the sources against the list too).
 */
export const LAB_ERROR_CODES = [
  'ERR_INVALID_ARG',
  // the host: packages, the kernel and its modules, KVM, tun/tap
  'ERR_LAB_MISSING_PACKAGE',
  'ERR_LAB_KERNEL_UNREADABLE',
  'ERR_LAB_MODULE_NOT_FOUND',
  'ERR_LAB_MODULE_COMPRESSED',
  'ERR_LAB_KVM_UNUSABLE',
  'ERR_LAB_NO_TUN',
  'ERR_LAB_TAP_NEEDS_ROOT',
  // QEMU and the guest
  'ERR_LAB_QEMU_START',
  'ERR_LAB_QMP',
  'ERR_LAB_BOOT_TIMEOUT',
  'ERR_LAB_GUEST_DIED',
  'ERR_LAB_COMMAND_NOT_FOUND',
  'ERR_LAB_TIMEOUT',
  'ERR_LAB_KILLED',
  'ERR_LAB_ENDED',
  // a two-machine lab: machine 1 running commands on machine 2
  'ERR_LAB_MACHINE_UNREACHABLE',
  'ERR_LAB_MACHINE_LOST',
] as const;

/** A code of an error raised by `@vfio-node/lab`. */
export type LabErrorCode = (typeof LAB_ERROR_CODES)[number];

/** What a {@link LabError} is made of. */
export interface LabErrorInit {
  /** One of {@link LAB_ERROR_CODES}. */
  code: LabErrorCode;
  /** What was wrong, in one sentence. */
  message: string;
  /** What to do about it. */
  hint?: string;
  /** The file involved, when there is one. */
  path?: string;
  /** The error this one was made from (Error.cause). */
  cause?: unknown;
  /** Structured context for the error. */
  details?: Record<string, unknown>;
}

/**
 * The error the lab throws: the same shape as core's VfioError (a stable `code`, a message
 * that says what was wrong, a `hint` that says what to do) in a class of its own, so that
 * the lab works on a host where the native addon is not built.
 */
export class LabError extends Error {
  /** The stable code, one of {@link LAB_ERROR_CODES}. */
  readonly code: LabErrorCode;
  /** What to do about it, in one or two sentences. */
  readonly hint: string | undefined;
  /** The file involved, when there is one. */
  readonly path: string | undefined;
  /** Structured context for the error. */
  readonly details: Record<string, unknown> | undefined;

  constructor(init: LabErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'LabError';
    this.code = init.code;
    this.hint = init.hint;
    this.path = init.path;
    this.details = init.details;
  }

  /** The message followed by the hint, as the CLI prints it. */
  describe(): string {
    return this.hint ? `${this.message}\n  hint: ${this.hint}` : this.message;
  }
}

/** ERR_INVALID_ARG: a lab option with a value the lab cannot use. */
export function invalidOption(what: string, value: unknown, expected: string, hint?: string): LabError {
  return new LabError({
    code: 'ERR_INVALID_ARG',
    message: `invalid ${what}: ${typeof value === 'string' ? JSON.stringify(value) : String(value)} (expected ${expected})`,
    hint,
    details: { what, value },
  });
}

/** A host tool or file is missing; `apt` names the Debian package that provides it. */
export function missingPackage(what: string, apt: string, path?: string): LabError {
  return new LabError({
    code: 'ERR_LAB_MISSING_PACKAGE',
    message: `the lab needs ${what} (Debian package ${apt}), which was not found${path ? ` (looked at ${path})` : ''}`,
    hint: `Install it: apt-get install ${apt}`,
    path,
    details: { package: apt },
  });
}
