// What a block device already holds, from the magic numbers at its start and end: a
// partition table, a filesystem, an LVM, ZFS or md member, swap, LUKS. Destructive
// commands look here before they write, so that a typo in an address costs a refusal,
// not a filesystem. Pure: the caller supplies the bytes (through its own read path).
//
// Offsets are the formats' public on-disk layouts: UEFI 2.10 §5.3 (GPT), the MBR boot
// sector, the ext4 and XFS disk layouts, btrfs's superblock, LVM2's label, the ZFS
// on-disk format (labels and uberblocks), md(4) superblocks, mkswap's header, LUKS1/2.

/** One signature found. */
export interface Signature {
  /** GPT, MBR, ext2, ext3, ext4, xfs, btrfs, LVM2, ZFS, linux_raid_member, swap, LUKS. */
  name: string;
  /** Byte offset of the magic on the device. */
  offset: number;
  /** 'start' for the first 1 MiB, 'end' for the last. */
  at: 'start' | 'end';
  /** More words for people: "backup header", "md superblock 1.2". */
  detail?: string;
}

/** Reads `length` bytes at `offset`; may return fewer (or none) outside what it has. */
export type ReadBytes = (offset: number, length: number) => Uint8Array;

/** How much of each end of the device the detector looks at. */
export const SIGNATURE_WINDOW = 1024 * 1024;

const KiB = 1024;
const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

/** GPT header signature (UEFI §5.3.2). */
const GPT_SIGNATURE = ascii('EFI PART');
const XFS_MAGIC = ascii('XFSB');
const BTRFS_MAGIC = ascii('_BHRfS_M');
const LVM_LABEL = ascii('LABELONE');
const LVM_TYPE = ascii('LVM2 001');
const LUKS_MAGIC = [...ascii('LUKS'), 0xba, 0xbe];
const SWAP_MAGICS = [ascii('SWAPSPACE2'), ascii('SWAP-SPACE')];
/** ext2/3/4 s_magic, little endian, at superblock (1024) + 0x38. */
const EXT_MAGIC = 0xef53;
/** md superblock magic (0.90 and 1.x), little endian on x86. */
const MD_MAGIC = 0xa92b4efc;
/** ZFS uberblock ub_magic ("oo-ba-bloc"), in the pool's byte order. */
const ZFS_UB_MAGIC = 0x00bab10cn;
/** A ZFS label is 256 KiB; its uberblock ring is its second 128 KiB, slots of 1 KiB or more. */
const ZFS_LABEL = 256 * KiB;
const ZFS_UB_RING = 128 * KiB;
/** Logical block sizes a GPT may be written for (LBA 1 is at one of these). */
const SECTOR_SIZES = [512, 4096];
/** Page sizes mkswap may have used: the magic ends the first page. */
const PAGE_SIZES = [4096, 8192, 16384, 65536];

function bytesAt(read: ReadBytes, size: number, offset: number, length: number): Uint8Array | null {
  if (offset < 0 || offset + length > size) return null;
  const b = read(offset, length);
  return b.byteLength >= length ? b : null;
}

function matches(read: ReadBytes, size: number, offset: number, magic: number[]): boolean {
  const b = bytesAt(read, size, offset, magic.length);
  return b !== null && magic.every((v, i) => b[i] === v);
}

function u16le(read: ReadBytes, size: number, offset: number): number | null {
  const b = bytesAt(read, size, offset, 2);
  return b && b[0]! | (b[1]! << 8);
}

function u32le(read: ReadBytes, size: number, offset: number): number | null {
  const b = bytesAt(read, size, offset, 4);
  return b && new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
}

/** ext2, ext3 or ext4 from the feature flags (s_feature_compat 0x5C, s_feature_incompat 0x60). */
function extFlavour(read: ReadBytes, size: number): string {
  const compat = u32le(read, size, 1024 + 0x5c) ?? 0;
  const incompat = u32le(read, size, 1024 + 0x60) ?? 0;
  // INCOMPAT_EXTENTS 0x40, 64BIT 0x80, FLEX_BG 0x200: ext4 only; COMPAT_HAS_JOURNAL 0x4: ext3.
  if (incompat & (0x40 | 0x80 | 0x200)) return 'ext4';
  return compat & 0x4 ? 'ext3' : 'ext2';
}

/** MBR: 0x55AA at 510 and at least one partition entry (446 + 16 × i) with a type and a valid boot flag. */
function mbrEntries(read: ReadBytes, size: number): number[] | null {
  const b = bytesAt(read, size, 0, 512);
  if (!b || b[510] !== 0x55 || b[511] !== 0xaa) return null;
  const types: number[] = [];
  for (let i = 0; i < 4; i++) {
    const e = 446 + 16 * i;
    if (b[e + 4] !== 0 && (b[e] === 0x00 || b[e] === 0x80)) types.push(b[e + 4]!);
  }
  return types.length ? types : null;
}

function zfsLabel(read: ReadBytes, size: number, labelStart: number): number | null {
  // Uberblock slots are 2^ashift bytes, at least 1 KiB: a magic at any 1 KiB step counts.
  for (let o = labelStart + ZFS_UB_RING; o < labelStart + ZFS_LABEL; o += KiB) {
    const b = bytesAt(read, size, o, 8);
    if (!b) return null;
    const v = new DataView(b.buffer, b.byteOffset, 8);
    if (v.getBigUint64(0, true) === ZFS_UB_MAGIC || v.getBigUint64(0, false) === ZFS_UB_MAGIC) return o;
  }
  return null;
}

/**
 * Looks for partition tables, filesystems and volume-manager members at the start and
 * end of a device of `sizeBytes` bytes.
 * @param read returns the device's bytes; only the first and last SIGNATURE_WINDOW bytes are asked for
 * @returns what was found, in the order of the checks (empty: nothing known)
 */
export function detectSignatures(read: ReadBytes, sizeBytes: number): Signature[] {
  const size = sizeBytes;
  const found: Signature[] = [];
  const at = (offset: number): 'start' | 'end' => (offset < SIGNATURE_WINDOW ? 'start' : 'end');
  const add = (name: string, offset: number, detail?: string) => found.push({ name, offset, at: at(offset), ...(detail ? { detail } : {}) });

  // Partition tables: GPT's header at LBA 1, its backup at the last LBA; the MBR's boot signature.
  for (const s of SECTOR_SIZES) if (matches(read, size, s, GPT_SIGNATURE)) add('GPT', s, `header at LBA 1 (${s}-byte sectors)`);
  for (const s of SECTOR_SIZES) if (size >= 2 * s && matches(read, size, size - s, GPT_SIGNATURE)) add('GPT', size - s, 'backup header at the last LBA');
  const mbr = mbrEntries(read, size);
  if (mbr) add('MBR', 510, mbr.includes(0xee) ? 'protective MBR of a GPT disk' : `partition types ${mbr.map((t) => '0x' + t.toString(16)).join(', ')}`);

  // Filesystems.
  if (u16le(read, size, 1024 + 0x38) === EXT_MAGIC) add(extFlavour(read, size), 1024 + 0x38);
  if (matches(read, size, 0, XFS_MAGIC)) add('xfs', 0);
  if (matches(read, size, 64 * KiB + 64, BTRFS_MAGIC)) add('btrfs', 64 * KiB + 64);

  // Volume managers: an LVM2 label in one of the first four sectors, type "LVM2 001" at +24.
  for (let sector = 0; sector < 4; sector++) {
    const o = sector * 512;
    if (matches(read, size, o, LVM_LABEL) && matches(read, size, o + 24, LVM_TYPE)) {
      add('LVM2', o, `physical volume label in sector ${sector}`);
      break;
    }
  }
  // ZFS: labels L0, L1 at the start; L2, L3 in the last 512 KiB of the size rounded down to 256 KiB.
  const zfsEnd = size - (size % ZFS_LABEL);
  for (const label of [0, ZFS_LABEL, zfsEnd - 2 * ZFS_LABEL, zfsEnd - ZFS_LABEL]) {
    if (label < 0) continue;
    const o = zfsLabel(read, size, label);
    if (o !== null) {
      add('ZFS', o, 'uberblock in a vdev label');
      break;
    }
  }
  // md: 1.1 at 0, 1.2 at 4 KiB, 1.0 at 8 KiB before the end (4 KiB aligned), 0.90 in the last 64 KiB-aligned 64 KiB.
  const mdPlaces: Array<[number, string]> = [
    [0, '1.1'],
    [4 * KiB, '1.2'],
    [Math.floor((size - 8 * KiB) / (4 * KiB)) * 4 * KiB, '1.0'],
    [Math.floor(size / (64 * KiB)) * 64 * KiB - 64 * KiB, '0.90'],
  ];
  for (const [o, version] of mdPlaces) {
    if (u32le(read, size, o) === MD_MAGIC) {
      add('linux_raid_member', o, `md superblock ${version}`);
      break;
    }
  }

  // Swap: the magic fills the last 10 bytes of the first page.
  for (const page of PAGE_SIZES) {
    if (SWAP_MAGICS.some((m) => matches(read, size, page - 10, m))) {
      add('swap', page - 10, `${page}-byte pages`);
      break;
    }
  }
  if (matches(read, size, 0, LUKS_MAGIC)) add('LUKS', 0);
  return found;
}

/** "ext4 (byte 1080), GPT (header at LBA 1 (512-byte sectors))" for messages. */
export function describeSignatures(found: readonly Signature[]): string {
  return found.map((s) => `${s.name} (${s.detail ?? `at byte ${s.offset}`})`).join(', ');
}

/** A byte range of the device that the detector reads. */
export interface ByteWindow {
  offset: number;
  length: number;
}

/**
 * The ranges to read so that detectSignatures sees everything it checks: the first and
 * the last SIGNATURE_WINDOW bytes, aligned to `blockSize` (one range when they overlap).
 */
export function signatureWindows(sizeBytes: number, blockSize: number): ByteWindow[] {
  const len = Math.min(SIGNATURE_WINDOW, sizeBytes - (sizeBytes % blockSize));
  const tail = sizeBytes - (sizeBytes % blockSize) - len;
  if (len <= 0) return [];
  if (tail <= len) return [{ offset: 0, length: sizeBytes - (sizeBytes % blockSize) }];
  return [
    { offset: 0, length: len },
    { offset: tail, length: len },
  ];
}

/** A ReadBytes over windows already read: bytes outside them read as missing. */
export function windowReader(windows: ReadonlyArray<ByteWindow & { data: Uint8Array }>): ReadBytes {
  return (offset, length) => {
    for (const w of windows) {
      if (offset >= w.offset && offset + length <= w.offset + w.data.byteLength) return w.data.subarray(offset - w.offset, offset - w.offset + length);
    }
    return new Uint8Array(0);
  };
}
