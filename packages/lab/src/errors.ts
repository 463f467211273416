// Errors the lab raises: VfioError (stable `code`, a message that says what was wrong,
// a `hint` that says what to do) from @vfio-node/core, under the lab's own name.

import { VfioError, type VfioErrorInit } from '@vfio-node/core';

export type LabErrorInit = VfioErrorInit;

export class LabError extends VfioError {
  constructor(init: LabErrorInit) {
    super(init);
    this.name = 'LabError';
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
