// `nvme id-ctrl`: the Identify Controller data structure (CNS 01h, NVM Express Base
// Specification 2.0, "Identify Controller Data Structure"), printed field by field in
// nvme-cli's order and formats (v2.x `nvme id-ctrl` normal and `-o json`).

import { Fields } from './bytes.js';
import { hexAlt } from './cfmt.js';
import { bitLines, type BitField } from './human.js';
import type { JsonValue } from './json.js';

/** How a field prints: x = %#x, d = decimal, s = ASCII, u128 = 128-bit decimal, ieee = 3-byte OUI, uuid. */
type Kind = 'x' | 'd' | 's' | 'u128' | 'ieee' | 'uuid';

/** [name, byte offset, size in bytes, kind]: the fields nvme-cli prints, in its order. */
const FIELDS: Array<[string, number, number, Kind]> = [
  ['vid', 0, 2, 'x'], ['ssvid', 2, 2, 'x'], ['sn', 4, 20, 's'], ['mn', 24, 40, 's'], ['fr', 64, 8, 's'],
  ['rab', 72, 1, 'd'], ['ieee', 73, 3, 'ieee'], ['cmic', 76, 1, 'x'], ['mdts', 77, 1, 'd'], ['cntlid', 78, 2, 'x'],
  ['ver', 80, 4, 'x'], ['rtd3r', 84, 4, 'x'], ['rtd3e', 88, 4, 'x'], ['oaes', 92, 4, 'x'], ['ctratt', 96, 4, 'x'],
  ['rrls', 100, 2, 'x'], ['bpcap', 102, 1, 'x'], ['nssl', 104, 4, 'x'], ['plsi', 110, 1, 'd'], ['cntrltype', 111, 1, 'd'],
  ['fguid', 112, 16, 'uuid'], ['crdt1', 128, 2, 'd'], ['crdt2', 130, 2, 'd'], ['crdt3', 132, 2, 'd'], ['crcap', 134, 1, 'd'],
  ['nvmsr', 253, 1, 'd'], ['vwci', 254, 1, 'd'], ['mec', 255, 1, 'd'],
  ['oacs', 256, 2, 'x'], ['acl', 258, 1, 'd'], ['aerl', 259, 1, 'd'], ['frmw', 260, 1, 'x'], ['lpa', 261, 1, 'x'],
  ['elpe', 262, 1, 'd'], ['npss', 263, 1, 'd'], ['avscc', 264, 1, 'x'], ['apsta', 265, 1, 'x'], ['wctemp', 266, 2, 'd'],
  ['cctemp', 268, 2, 'd'], ['mtfa', 270, 2, 'd'], ['hmpre', 272, 4, 'd'], ['hmmin', 276, 4, 'd'], ['tnvmcap', 280, 16, 'u128'],
  ['unvmcap', 296, 16, 'u128'], ['rpmbs', 312, 4, 'x'], ['edstt', 316, 2, 'd'], ['dsto', 318, 1, 'd'], ['fwug', 319, 1, 'd'],
  ['kas', 320, 2, 'd'], ['hctma', 322, 2, 'x'], ['mntmt', 324, 2, 'd'], ['mxtmt', 326, 2, 'd'], ['sanicap', 328, 4, 'x'],
  ['hmminds', 332, 4, 'd'], ['hmmaxd', 336, 2, 'd'], ['nsetidmax', 338, 2, 'd'], ['endgidmax', 340, 2, 'd'], ['anatt', 342, 1, 'd'],
  ['anacap', 343, 1, 'd'], ['anagrpmax', 344, 4, 'd'], ['nanagrpid', 348, 4, 'd'], ['pels', 352, 4, 'd'], ['domainid', 356, 2, 'd'],
  ['kpioc', 358, 1, 'd'], ['mptfawr', 360, 2, 'd'], ['megcap', 368, 16, 'u128'], ['tmpthha', 384, 1, 'x'], ['cqt', 386, 2, 'd'],
  ['sqes', 512, 1, 'x'], ['cqes', 513, 1, 'x'], ['maxcmd', 514, 2, 'd'], ['nn', 516, 4, 'd'], ['oncs', 520, 2, 'x'],
  ['fuses', 522, 2, 'x'], ['fna', 524, 1, 'x'], ['vwc', 525, 1, 'x'], ['awun', 526, 2, 'd'], ['awupf', 528, 2, 'd'],
  ['icsvscc', 530, 1, 'd'], ['nwpc', 531, 1, 'd'], ['acwu', 532, 2, 'd'], ['ocfs', 534, 2, 'x'], ['sgls', 536, 4, 'x'],
  ['mnan', 540, 4, 'd'], ['maxdna', 544, 16, 'u128'], ['maxcna', 560, 4, 'd'], ['oaqd', 564, 4, 'd'], ['rhiri', 568, 1, 'd'],
  ['hirt', 569, 1, 'd'], ['cmmrtd', 570, 2, 'd'], ['nmmrtd', 572, 2, 'd'], ['minmrtg', 574, 1, 'd'], ['maxmrtg', 575, 1, 'd'],
  ['trattr', 576, 1, 'd'], ['mcudmq', 578, 2, 'd'], ['mnsudmq', 580, 2, 'd'], ['mcmr', 582, 2, 'd'], ['nmcmr', 584, 2, 'd'],
  ['mcdqpc', 586, 2, 'd'], ['subnqn', 768, 256, 's'], ['ioccsz', 1792, 4, 'd'], ['iorcsz', 1796, 4, 'd'], ['icdoff', 1800, 2, 'd'],
  ['fcatt', 1802, 1, 'x'], ['msdbd', 1803, 1, 'd'], ['ofcs', 1804, 2, 'd'],
];

/** Power State Descriptors start at byte 2048, 32 bytes each. */
const PSD = 2048;
const PSD_SIZE = 32;

function read(f: Fields, at: number, size: number): number {
  return size === 1 ? f.u8(at) : size === 2 ? f.u16(at) : f.u32(at);
}

function uuid(f: Fields, at: number): string {
  const h = f.hex(at, 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function ieee(f: Fields, at: number): number {
  return f.u8(at) | (f.u8(at + 1) << 8) | (f.u8(at + 2) << 16);
}

function normalValue(f: Fields, at: number, size: number, kind: Kind): string {
  switch (kind) {
    case 's': return f.ascii(at, size);
    case 'u128': return f.u128(at).toString();
    case 'uuid': return uuid(f, at);
    case 'ieee': return ieee(f, at).toString(16).padStart(6, '0');
    case 'x': return hexAlt(read(f, at, size));
    case 'd': return String(read(f, at, size));
  }
}

function jsonValue(f: Fields, at: number, size: number, kind: Kind): JsonValue {
  switch (kind) {
    case 's': return f.ascii(at, size);
    case 'u128': return f.u128(at);
    case 'uuid': return uuid(f, at);
    case 'ieee': return ieee(f, at);
    default: return read(f, at, size);
  }
}

// ---- -H: a few bit fields decoded as nvme-cli does ---------------------------------

const supported = (name: string): BitField['text'] => (v) => `${name} ${v ? '' : 'Not '}Supported`;

const HUMAN: Record<string, (v: number) => string[]> = {
  oacs: (v) => bitLines(v, [
    { hi: 15, lo: 12, text: () => 'Reserved', onlyIfSet: true },
    { hi: 11, lo: 11, text: supported('Host Managed Live Migration') },
    { hi: 10, lo: 10, text: supported('Lockdown Command and Feature') },
    { hi: 9, lo: 9, text: supported('Get LBA Status Capability') },
    { hi: 8, lo: 8, text: supported('Doorbell Buffer Config') },
    { hi: 7, lo: 7, text: supported('Virtualization Management') },
    { hi: 6, lo: 6, text: supported('NVMe-MI Send and Receive') },
    { hi: 5, lo: 5, text: supported('Directives') },
    { hi: 4, lo: 4, text: supported('Device Self-test') },
    { hi: 3, lo: 3, text: supported('NS Management and Attachment') },
    { hi: 2, lo: 2, text: supported('FW Commit and Download') },
    { hi: 1, lo: 1, text: supported('Format NVM') },
    { hi: 0, lo: 0, text: supported('Security Send and Receive') },
  ]),
  oncs: (v) => bitLines(v, [
    { hi: 15, lo: 13, text: () => 'Reserved', onlyIfSet: true },
    { hi: 12, lo: 12, text: supported('Namespace Zeroes') },
    { hi: 11, lo: 11, text: supported('Maximum Write Zeroes with Deallocate') },
    { hi: 10, lo: 10, text: supported('All Fast Copy') },
    { hi: 9, lo: 9, text: supported('Copy Single Atomicity') },
    { hi: 8, lo: 8, text: supported('Copy') },
    { hi: 7, lo: 7, text: supported('Verify') },
    { hi: 6, lo: 6, text: supported('Timestamp') },
    { hi: 5, lo: 5, text: supported('Reservations') },
    { hi: 4, lo: 4, text: supported('Save and Select') },
    { hi: 3, lo: 3, text: supported('Write Zeroes') },
    { hi: 2, lo: 2, text: supported('Data Set Management') },
    { hi: 1, lo: 1, text: supported('Write Uncorrectable') },
    { hi: 0, lo: 0, text: supported('Compare') },
  ]),
  fuses: (v) => bitLines(v, [
    { hi: 15, lo: 1, text: () => 'Reserved', onlyIfSet: true },
    { hi: 0, lo: 0, text: supported('Fused Compare and Write') },
  ]),
  vwc: (v) => bitLines(v, [
    { hi: 7, lo: 3, text: () => 'Reserved', onlyIfSet: true },
    {
      hi: 2, lo: 1,
      text: (f) => [
        'Support for the NSID field set to FFFFFFFFh is not indicated',
        'Reserved',
        'The Flush command does not support NSID set to FFFFFFFFh',
        'The Flush command supports NSID set to FFFFFFFFh',
      ][f]!,
    },
    { hi: 0, lo: 0, text: (f) => `Volatile Write Cache ${f ? '' : 'Not '}Present` },
  ]),
  sqes: (v) => bitLines(v, [
    { hi: 7, lo: 4, text: (f) => `Max SQ Entry Size (${2 ** f})` },
    { hi: 3, lo: 0, text: (f) => `Min SQ Entry Size (${2 ** f})` },
  ]),
  cqes: (v) => bitLines(v, [
    { hi: 7, lo: 4, text: (f) => `Max CQ Entry Size (${2 ** f})` },
    { hi: 3, lo: 0, text: (f) => `Min CQ Entry Size (${2 ** f})` },
  ]),
};

// ---- power states -------------------------------------------------------------------

function watts(p: number, scale: number): string {
  if (scale === 0) return '-';
  if (scale === 1) return `${Math.floor(p / 10000)}.${String(p % 10000).padStart(4, '0')}W`;
  if (scale === 2) return `${Math.floor(p / 100)}.${String(p % 100).padStart(2, '0')}W`;
  return 'reserved';
}

const WORKLOADS = ['-', '1MiB 32 RW, 30s idle', '80K 128KiB SW'];
const TIME_SCALES = ['1 microsecond', '10 microseconds', '100 microseconds', '1 millisecond', '10 milliseconds', '100 milliseconds', '1 second', '10 seconds', '100 seconds'];

function psdTime(desc: string, time: number, ts: number): string {
  const value = time === 0 ? '-' : time <= 99 ? `${time} (unit: ${TIME_SCALES[ts] ?? 'reserved'})` : 'reserved';
  return `${desc.padStart(12 + desc.length)}: ${value}`;
}

function powerStates(f: Fields): string[] {
  const out: string[] = [];
  const npss = f.u8(263);
  for (let i = 0; i <= npss && i < 32; i++) {
    const at = PSD + PSD_SIZE * i;
    const mp = f.u16(at);
    const flags = f.u8(at + 3);
    const max = flags & 1 ? watts(mp, 1) : watts(mp, 2);
    const ips = (f.u8(at + 18) >> 6) & 3;
    const apws = f.u8(at + 22);
    const ts = f.u8(at + 26);
    out.push(
      `ps   ${String(i).padStart(4)} : mp:${max} ${flags & 2 ? 'non-' : ''}operational enlat:${f.u32(at + 4)} exlat:${f.u32(at + 8)} rrt:${f.u8(at + 12)} rrl:${f.u8(at + 13)}`,
      `            rwt:${f.u8(at + 14)} rwl:${f.u8(at + 15)} idle_power:${watts(f.u16(at + 16), ips)} active_power:${watts(f.u16(at + 20), (apws >> 6) & 3)}`,
      `            active_power_workload:${WORKLOADS[apws & 7] ?? 'reserved'}`,
      psdTime('emergency power fail recovery time', f.u8(at + 23), ts & 0xf),
      psdTime('forced quiescence vault time', f.u8(at + 24), ts >> 4),
      psdTime('emergency power fail vault time', f.u8(at + 25), f.u8(at + 27) & 0xf),
    );
  }
  return out;
}

/** `nvme id-ctrl` normal output (with -H, the decoded bit fields nvme-cli prints under oacs, oncs, fuses, vwc, sqes, cqes). */
export function idCtrlNormal(bytes: Uint8Array, human = false): string {
  const f = new Fields(bytes);
  const lines = ['NVME Identify Controller:'];
  for (const [name, at, size, kind] of FIELDS) {
    lines.push(`${name.padEnd(10)}: ${normalValue(f, at, size, kind)}`);
    const decode = HUMAN[name];
    if (human && decode) lines.push(...decode(read(f, at, size)));
  }
  lines.push(...powerStates(f));
  return lines.join('\n');
}

/** `nvme id-ctrl -o json`: every field by its name, counters as numbers, and the psds array. */
export function idCtrlJson(bytes: Uint8Array): JsonValue {
  const f = new Fields(bytes);
  const out: Record<string, JsonValue> = {};
  for (const [name, at, size, kind] of FIELDS) {
    if (name === 'subnqn' && f.ascii(at, size) === '') continue; // nvme-cli leaves an empty subnqn out
    out[name] = jsonValue(f, at, size, kind);
  }
  const psds: JsonValue[] = [];
  for (let i = 0; i <= f.u8(263) && i < 32; i++) {
    const at = PSD + PSD_SIZE * i;
    const flags = f.u8(at + 3);
    const apws = f.u8(at + 22);
    const ts = f.u8(at + 26);
    psds.push({
      max_power: f.u16(at),
      max_power_scale: flags & 1,
      'non-operational_state': (flags >> 1) & 1,
      entry_lat: f.u32(at + 4),
      exit_lat: f.u32(at + 8),
      read_tput: f.u8(at + 12),
      read_lat: f.u8(at + 13),
      write_tput: f.u8(at + 14),
      write_lat: f.u8(at + 15),
      idle_power: f.u16(at + 16),
      idle_scale: (f.u8(at + 18) >> 6) & 3,
      active_power: f.u16(at + 20),
      active_power_work: apws & 7,
      active_scale: (apws >> 6) & 3,
      emerg_power_fail_recover_time: f.u8(at + 23),
      emerg_power_fail_recover_scale: ts & 0xf,
      force_quiesce_vault_time: f.u8(at + 24),
      force_quiesce_vault_scale: ts >> 4,
      emerg_power_fail_vault_time: f.u8(at + 25),
      emerg_power_fail_vault_scale: f.u8(at + 27) & 0xf,
    });
  }
  out.psds = psds;
  return out;
}
