// `nvme error-log`: the Error Information log page (Log Identifier 01h, NVM Express Base
// Specification 2.0, "Error Information"), 64 bytes per entry, newest first. nvme-cli
// prints every entry it asked for, the empty ones (error count 0) too.

import { Fields } from './bytes.js';
import { hexAlt } from './cfmt.js';
import type { JsonValue } from './json.js';
import { statusString } from './status.js';

export const ERROR_LOG_ENTRY_SIZE = 64;

/** Byte offsets inside one Error Information log entry. */
const E = { errorCount: 0, sqid: 8, cid: 10, status: 12, parameterErrorLocation: 14, lba: 16, nsid: 24, vs: 28, trtype: 29, csi: 30, opcode: 31, commandSpecific: 32, trtypeSpecific: 40, logPageVersion: 63 } as const;

const TRTYPE: Record<number, string> = {
  0: 'The transport type is not indicated or the error is not transport related',
  1: 'RDMA Transport error',
  2: 'Fibre Channel Transport error',
  3: 'TCP Transport error',
  254: 'Intra-host Transport error',
};

function entries(bytes: Uint8Array): Fields[] {
  const out: Fields[] = [];
  for (let at = 0; at + ERROR_LOG_ENTRY_SIZE <= bytes.byteLength; at += ERROR_LOG_ENTRY_SIZE) out.push(new Fields(bytes.subarray(at, at + ERROR_LOG_ENTRY_SIZE)));
  return out;
}

/** `nvme error-log` normal output for the entries in bytes. */
export function errorLogNormal(bytes: Uint8Array, device: string): string {
  const list = entries(bytes);
  const sep = '.................';
  const lines = [`Error Log Entries for device:${device} entries:${list.length}`, sep];
  list.forEach((e, i) => {
    const sf = e.u16(E.status);
    const status = sf >> 1;
    const trtype = e.u8(E.trtype);
    lines.push(
      ` Entry[${String(i).padStart(2)}]`,
      sep,
      `error_count\t: ${e.u64(E.errorCount)}`,
      `sqid\t\t: ${e.u16(E.sqid)}`,
      `cmdid\t\t: ${hexAlt(e.u16(E.cid))}`,
      `status_field\t: ${hexAlt(status)} (${statusString(status)})`,
      `phase_tag\t: ${hexAlt(sf & 1)}`,
      `parm_err_loc\t: ${hexAlt(e.u16(E.parameterErrorLocation))}`,
      `lba\t\t: ${hexAlt(e.u64(E.lba))}`,
      `nsid\t\t: ${hexAlt(e.u32(E.nsid))}`,
      `vs\t\t: ${e.u8(E.vs)}`,
      `trtype\t\t: ${hexAlt(trtype)} (${TRTYPE[trtype] ?? 'Reserved'})`,
      `csi\t\t: ${e.u8(E.csi)}`,
      `opcode\t\t: ${hexAlt(e.u8(E.opcode))}`,
      `cs\t\t: ${hexAlt(e.u64(E.commandSpecific))}`,
      `trtype_spec_info: ${hexAlt(e.u16(E.trtypeSpecific))}`,
      `log_page_version: ${e.u8(E.logPageVersion)}`,
      sep,
    );
  });
  return lines.join('\n');
}

/** `nvme error-log -o json`: {"errors": [...]}. */
export function errorLogJson(bytes: Uint8Array): JsonValue {
  return {
    errors: entries(bytes).map((e) => ({
      error_count: e.u64(E.errorCount),
      sqid: e.u16(E.sqid),
      cmdid: e.u16(E.cid),
      status_field: e.u16(E.status) >> 1,
      phase_tag: e.u16(E.status) & 1,
      parm_error_location: e.u16(E.parameterErrorLocation),
      lba: e.u64(E.lba),
      nsid: e.u32(E.nsid),
      vs: e.u8(E.vs),
      trtype: e.u8(E.trtype),
      cs: e.u64(E.commandSpecific),
      trtype_spec_info: e.u16(E.trtypeSpecific),
    })),
  };
}
