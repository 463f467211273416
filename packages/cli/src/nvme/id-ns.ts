// `nvme id-ns`: the Identify Namespace data structure (CNS 00h, NVM Command Set
// Specification 1.0, "Identify Namespace Data Structure"), in nvme-cli's order and
// formats (v2.x normal and `-o json`).

import { Fields } from './bytes.js';
import { hexAlt } from './cfmt.js';
import type { JsonValue } from './json.js';

type Kind = 'x' | 'd' | 'u64' | 'u128';

/** [name, byte offset, size, kind] up to nulbaf; the namespace-feature dependent ones are handled apart. */
const HEAD: Array<[string, number, number, Kind]> = [
  ['nsze', 0, 8, 'u64'], ['ncap', 8, 8, 'u64'], ['nuse', 16, 8, 'u64'], ['nsfeat', 24, 1, 'x'], ['nlbaf', 25, 1, 'd'],
  ['flbas', 26, 1, 'x'], ['mc', 27, 1, 'x'], ['dpc', 28, 1, 'x'], ['dps', 29, 1, 'x'], ['nmic', 30, 1, 'x'],
  ['rescap', 31, 1, 'x'], ['fpi', 32, 1, 'x'], ['dlfeat', 33, 1, 'd'], ['nawun', 34, 2, 'd'], ['nawupf', 36, 2, 'd'],
  ['nacwu', 38, 2, 'd'], ['nabsn', 40, 2, 'd'], ['nabo', 42, 2, 'd'], ['nabspf', 44, 2, 'd'], ['noiob', 46, 2, 'd'],
  ['nvmcap', 48, 16, 'u128'],
];
/** Present when NSFEAT bits 5:4 say so (OPTPERF): NPWG, NPWA, NPDG (bit 4 only), NPDA, NOWS. */
const PERF: Array<[string, number]> = [['npwg', 64], ['npwa', 66], ['npdg', 68], ['npda', 70], ['nows', 72]];
const TAIL: Array<[string, number, number, Kind]> = [
  ['mssrl', 74, 2, 'd'], ['mcl', 76, 4, 'd'], ['msrc', 80, 1, 'd'], ['kpios', 81, 1, 'd'], ['nulbaf', 82, 1, 'd'],
  ['kpiodaag', 84, 4, 'd'], ['anagrpid', 92, 4, 'd'], ['nsattr', 99, 1, 'd'], ['nvmsetid', 100, 2, 'd'], ['endgid', 102, 2, 'd'],
];
/** LBA Format data structures start at byte 128, 4 bytes each: MS (15:0), LBADS (23:16), RP (25:24). */
const LBAF = 128;

function num(f: Fields, at: number, size: number, kind: Kind): number | bigint {
  if (kind === 'u128') return f.u128(at);
  if (size === 8) return f.u64(at);
  return size === 1 ? f.u8(at) : size === 2 ? f.u16(at) : f.u32(at);
}

/** The LBA format in use: FLBAS bits 3:0, and bits 6:5 as bits 5:4 of the index. */
export function lbafInUse(flbas: number): number {
  return (flbas & 0xf) | (((flbas >> 5) & 3) << 4);
}

function perfFields(nsfeat: number): Array<[string, number]> {
  if ((nsfeat & 0x30) === 0) return [];
  return PERF.filter(([name]) => name !== 'npdg' || (nsfeat & 0x10) !== 0);
}

function lbafs(f: Fields): Array<{ i: number; ms: number; ds: number; rp: number; inUse: boolean }> {
  const inUse = lbafInUse(f.u8(26));
  const n = f.u8(25) + f.u8(82);
  const out = [];
  for (let i = 0; i <= n && i < 64; i++) {
    const at = LBAF + 4 * i;
    out.push({ i, ms: f.u16(at), ds: f.u8(at + 2), rp: f.u8(at + 3) & 3, inUse: i === inUse });
  }
  return out;
}

const RP = ['Best', 'Better', 'Good', 'Degraded'];

/** `nvme id-ns -n NSID` normal output; -H adds the size meanings and spells the LBA formats out. */
export function idNsNormal(bytes: Uint8Array, nsid: number, human = false): string {
  const f = new Fields(bytes);
  const lines = [`NVME Identify Namespace ${nsid}:`];
  const label = (name: string) => (name === 'nsattr' ? 'nsattr\t' : name.padEnd(8)); // nvme-cli prints "nsattr\t:"
  const sizeText: Record<string, string> = { nsze: 'Total size in logical blocks', ncap: 'Maximum size in logical blocks', nuse: 'Current size in logical blocks' };
  for (const [name, at, size, kind] of HEAD) {
    const v = num(f, at, size, kind);
    const text = kind === 'u64' || kind === 'x' ? hexAlt(v) : v.toString();
    lines.push(`${label(name)}: ${text}${human && sizeText[name] ? `\t${sizeText[name]}` : ''}`);
  }
  for (const [name, at] of perfFields(f.u8(24))) lines.push(`${label(name)}: ${f.u16(at)}`);
  for (const [name, at, size, kind] of TAIL) lines.push(`${label(name)}: ${num(f, at, size, kind).toString()}`);
  lines.push(`nguid   : ${f.hex(104, 16)}`, `eui64   : ${f.hex(120, 8)}`);
  for (const l of lbafs(f)) {
    if (human) {
      lines.push(
        `LBA Format ${String(l.i).padStart(2)} : Metadata Size: ${String(l.ms).padEnd(3)} bytes - Data Size: ${String(2 ** l.ds).padEnd(2)} bytes - Relative Performance: ${hexAlt(l.rp)} ${RP[l.rp]} ${l.inUse ? '(in use)' : ''}`,
      );
    } else {
      lines.push(`lbaf ${String(l.i).padStart(2)} : ms:${String(l.ms).padEnd(3)} lbads:${String(l.ds).padEnd(2)} rp:${hexAlt(l.rp)} ${l.inUse ? '(in use)' : ''}`);
    }
  }
  return lines.join('\n');
}

/** `nvme id-ns -o json`. */
export function idNsJson(bytes: Uint8Array): JsonValue {
  const f = new Fields(bytes);
  const out: Record<string, JsonValue> = {};
  for (const [name, at, size, kind] of HEAD) out[name] = num(f, at, size, kind);
  for (const [name, at] of perfFields(f.u8(24))) out[name] = f.u16(at);
  for (const [name, at, size, kind] of TAIL) out[name] = num(f, at, size, kind);
  out.nguid = f.hex(104, 16);
  out.eui64 = f.hex(120, 8);
  out.lbafs = lbafs(f).map((l) => ({ lbaf: l.i, ms: l.ms, ds: l.ds, rp: l.rp, in_use: l.inUse ? 1 : 0 }));
  out.vs = [];
  return out;
}
