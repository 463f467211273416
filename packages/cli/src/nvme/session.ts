// Opening a controller for one subcommand and closing it again (normal shutdown,
// §3.6), whatever happens in between; printing, like nvme-cli does, a command that
// completed with an error status.

import { NvmeController } from '@vfio-node/nvme';
import { toJson, type JsonValue } from './json.js';
import type { OutputFormat } from './args.js';
import { statusLine, statusOfError } from './status.js';

/** Opens ADDR (bound to vfio-pci), runs fn, and closes the controller. */
export async function withController<T>(address: string, fn: (ctrl: NvmeController) => Promise<T>): Promise<T> {
  const ctrl = await NvmeController.open(address);
  // A failure in the background (a reset the watchdog started failed, the device vanished)
  // is said on stderr and makes the exit status 1, even if the subcommand's own commands
  // were not pending then.
  ctrl.on('error', (err) => {
    console.error(`vfio-node: ${address}: ${err.message}`);
    process.exitCode = 1;
  });
  try {
    return await fn(ctrl);
  } finally {
    await ctrl.close();
  }
}

/**
 * Runs a subcommand; an NVMe status error becomes nvme-cli's "NVMe status: ..." line on
 * stderr and exit status 1. Other errors (bad input, VFIO) go up to the dispatcher.
 */
export async function reportingStatus(fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (err) {
    const value = statusOfError(err);
    if (value === null) throw err;
    console.error(statusLine(value));
    return 1;
  }
}

/** Prints normal text or nvme-cli style JSON. */
export function print(format: OutputFormat, normal: () => string, json: () => JsonValue): void {
  console.log(format === 'json' ? toJson(json()) : normal());
}
