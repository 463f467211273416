// `vfio-node nvme smart-log | error-log | fw-log ADDR`: Get Log Page (NVM Express Base
// Specification 2.0, "Get Log Page command") for log identifiers 02h, 01h and 03h.

import { VfioError } from '@vfio-node/core';
import { LogId } from '@vfio-node/nvme';
import { NSID_OPTION, addressArg, optUint, parseNvmeArgs } from './args.js';
import { ERROR_LOG_ENTRY_SIZE, errorLogJson, errorLogNormal } from './error-log.js';
import { fwLogJson, fwLogNormal } from './fw-log.js';
import { usage } from './run-identify.js';
import { print, withController } from './session.js';
import { smartLogJson, smartLogNormal } from './smart-log.js';

const SMART_LOG_SIZE = 512;
const FW_LOG_SIZE = 512;
/** The driver moves admin data through at most two pages (8 KiB): 128 error log entries. */
const MAX_ERROR_ENTRIES = 8192 / ERROR_LOG_ENTRY_SIZE;

export const SMART_LOG_USAGE = `usage: vfio-node nvme smart-log ADDR [-n NSID] [-H] [-o normal|json]

SMART / Health Information log (02h), for the controller (default, NSID ffffffff) or a namespace.
  -n, --namespace-id     the namespace (default 0xffffffff: the whole controller)
  -H, --human-readable   decode the critical warning bits
  -o, --output-format    normal (default) or json`;

export async function smartLog(argv: string[]): Promise<number> {
  const p = parseNvmeArgs('smart-log', argv, { ...NSID_OPTION, 'human-readable': { type: 'boolean', short: 'H' } });
  if (p.help) return usage(SMART_LOG_USAGE);
  const address = addressArg('smart-log', p);
  const nsid = optUint(p, 'namespace-id', 0xffffffff) ?? 0xffffffff;
  const data = await withController(address, (ctrl) => ctrl.admin.getLogPage(LogId.SmartHealthInformation, SMART_LOG_SIZE, { nsid }));
  print(p.format, () => smartLogNormal(data, address, nsid, p.values['human-readable'] === true), () => smartLogJson(data));
  return 0;
}

export const ERROR_LOG_USAGE = `usage: vfio-node nvme error-log ADDR [-e N] [-o normal|json]

Error Information log (01h): N entries (default 64, at most ELPE + 1), newest first.
  -e, --log-entries      how many entries to read
  -o, --output-format    normal (default) or json`;

export async function errorLog(argv: string[]): Promise<number> {
  const p = parseNvmeArgs('error-log', argv, { 'log-entries': { type: 'string', short: 'e' } });
  if (p.help) return usage(ERROR_LOG_USAGE);
  const address = addressArg('error-log', p);
  const asked = optUint(p, 'log-entries', 0xffffffff) ?? 64;
  if (asked === 0) throw new VfioError({ code: 'ERR_INVALID_ARG', message: 'nvme error-log: non-zero log-entries is required param', hint: 'Give -e N with N >= 1 (default 64).' });
  const data = await withController(address, (ctrl) => {
    // nvme-cli reads min(N, ELPE + 1) entries (ELPE is 0's based).
    const entries = Math.min(asked, ctrl.identify.elpe + 1, MAX_ERROR_ENTRIES);
    return ctrl.admin.getLogPage(LogId.ErrorInformation, entries * ERROR_LOG_ENTRY_SIZE);
  });
  print(p.format, () => errorLogNormal(data, address), () => errorLogJson(data));
  return 0;
}

export const FW_LOG_USAGE = `usage: vfio-node nvme fw-log ADDR [-o normal|json]

Firmware Slot Information log (03h): the active slot and the revision in each slot.`;

export async function fwLog(argv: string[]): Promise<number> {
  const p = parseNvmeArgs('fw-log', argv, {});
  if (p.help) return usage(FW_LOG_USAGE);
  const address = addressArg('fw-log', p);
  const data = await withController(address, (ctrl) => ctrl.admin.getLogPage(LogId.FirmwareSlotInformation, FW_LOG_SIZE));
  print(p.format, () => fwLogNormal(data, address), () => fwLogJson(data, address));
  return 0;
}
