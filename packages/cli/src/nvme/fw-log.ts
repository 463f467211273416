// `nvme fw-log`: the Firmware Slot Information log page (Log Identifier 03h, NVM Express
// Base Specification 2.0, "Firmware Slot Information"): AFI, then FRS1..FRS7 (8 bytes each
// from byte 8); an empty slot starts with a zero byte and is not printed.

import { Fields } from './bytes.js';
import { hexAlt } from './cfmt.js';
import type { JsonValue } from './json.js';

function slots(f: Fields): Array<{ slot: number; raw: bigint; text: string }> {
  const out = [];
  for (let i = 0; i < 7; i++) {
    const at = 8 + 8 * i;
    if (f.u8(at) === 0) continue;
    let text = '';
    for (let k = 0; k < 8; k++) {
      const c = f.u8(at + k);
      text += c >= 0x21 && c <= 0x7e ? String.fromCharCode(c) : '.'; // nvme-cli shows unprintable bytes as '.'
    }
    out.push({ slot: i + 1, raw: f.u64(at), text });
  }
  return out;
}

/** `nvme fw-log` normal output. */
export function fwLogNormal(bytes: Uint8Array, device: string): string {
  const f = new Fields(bytes);
  const lines = [`Firmware Log for device:${device}`, `afi  : ${hexAlt(f.u8(0))}`];
  for (const s of slots(f)) lines.push(`frs${s.slot} : 0x${s.raw.toString(16).padStart(14, '0')} (${s.text})`);
  return lines.join('\n');
}

/** `nvme fw-log -o json`: one object named after the device. */
export function fwLogJson(bytes: Uint8Array, device: string): JsonValue {
  const f = new Fields(bytes);
  const info: Record<string, JsonValue> = { 'Active Firmware Slot (afi)': f.u8(0) };
  for (const s of slots(f)) info[`Firmware Rev Slot ${s.slot}`] = `${s.raw} (${s.text})`;
  return { [device]: info };
}
