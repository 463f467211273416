// Errors the lab raises. Same shape as core's VfioError (a stable `code`, a message that
// says what was wrong, a `hint` that says what to do), but its own class: importing
// @vfio-node/core loads the native addon, and the lab must work on a host where the
// addon is not built (it is what boots the lab that tests the addon).

export interface LabErrorInit {
  code: string;
  message: string;
  hint?: string;
  path?: string;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class LabError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly path: string | undefined;
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
