import { describe, expect, it } from 'vitest';
import { SIGNATURE_WINDOW, describeSignatures, detectSignatures, signatureWindows, windowReader, type ReadBytes } from './signatures.js';

const MiB = 1024 * 1024;

/** A sparse fake device: zeros except where bytes were put. */
class Disk {
  private readonly pokes: Array<[number, Uint8Array]> = [];
  reads: Array<[number, number]> = [];
  constructor(readonly size: number) {}
  put(offset: number, bytes: number[] | string): this {
    this.pokes.push([offset, Uint8Array.from(typeof bytes === 'string' ? [...bytes].map((c) => c.charCodeAt(0)) : bytes)]);
    return this;
  }
  u32le(offset: number, v: number): this {
    return this.put(offset, [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24]);
  }
  read: ReadBytes = (offset, length) => {
    this.reads.push([offset, length]);
    const out = new Uint8Array(Math.max(0, Math.min(length, this.size - offset)));
    for (const [o, b] of this.pokes) {
      for (let i = 0; i < b.length; i++) if (o + i >= offset && o + i < offset + out.length) out[o + i - offset] = b[i]!;
    }
    return out;
  };
  names(): string[] {
    return detectSignatures(this.read, this.size).map((s) => s.name);
  }
}

const SIZE = 64 * MiB;

describe('detectSignatures', () => {
  it('finds nothing on a zeroed device, and reads only the first and last MiB', () => {
    const d = new Disk(SIZE);
    expect(detectSignatures(d.read, SIZE)).toEqual([]);
    for (const [o, l] of d.reads) expect(o + l <= SIGNATURE_WINDOW || o >= SIZE - SIGNATURE_WINDOW).toBe(true);
  });

  it('GPT: "EFI PART" at LBA 1 (512 and 4096-byte sectors) and the backup at the last LBA', () => {
    expect(new Disk(SIZE).put(512, 'EFI PART').names()).toEqual(['GPT']);
    expect(new Disk(SIZE).put(4096, 'EFI PART').names()).toEqual(['GPT']);
    const backup = detectSignatures(new Disk(SIZE).put(SIZE - 512, 'EFI PART').read, SIZE);
    expect(backup).toEqual([{ name: 'GPT', offset: SIZE - 512, at: 'end', detail: 'backup header at the last LBA' }]);
    // One byte off is not a GPT.
    expect(new Disk(SIZE).put(513, 'EFI PART').names()).toEqual([]);
  });

  it('MBR: 0x55AA at 510 with a partition entry; the boot signature alone is not enough', () => {
    const mbr = new Disk(SIZE).put(510, [0x55, 0xaa]);
    expect(mbr.names()).toEqual([]);
    mbr.put(446 + 16 + 4, [0x83]);
    expect(detectSignatures(mbr.read, SIZE)).toEqual([{ name: 'MBR', offset: 510, at: 'start', detail: 'partition types 0x83' }]);
    const protective = new Disk(SIZE).put(510, [0x55, 0xaa]).put(446 + 4, [0xee]).put(512, 'EFI PART');
    expect(describeSignatures(detectSignatures(protective.read, SIZE))).toBe('GPT (header at LBA 1 (512-byte sectors)), MBR (protective MBR of a GPT disk)');
    // A bad boot flag (not 0x00 or 0x80) is no partition entry.
    expect(new Disk(SIZE).put(510, [0x55, 0xaa]).put(446, [0x12, 0, 0, 0, 0x83]).names()).toEqual([]);
  });

  it('ext2, ext3 and ext4 from 0xEF53 at 1024 + 56 and the feature flags', () => {
    const ext = () => new Disk(SIZE).put(1080, [0x53, 0xef]);
    expect(ext().names()).toEqual(['ext2']);
    expect(ext().u32le(1024 + 0x5c, 0x4).names()).toEqual(['ext3']);
    expect(ext().u32le(1024 + 0x5c, 0x3c).u32le(1024 + 0x60, 0x2c2).names()).toEqual(['ext4']);
    expect(detectSignatures(ext().read, SIZE)[0]).toMatchObject({ offset: 1080, at: 'start' });
    // Big-endian bytes are not the magic.
    expect(new Disk(SIZE).put(1080, [0xef, 0x53]).names()).toEqual([]);
  });

  it('xfs "XFSB" at 0, btrfs "_BHRfS_M" at 64 KiB + 64, LUKS at 0', () => {
    expect(new Disk(SIZE).put(0, 'XFSB').names()).toEqual(['xfs']);
    expect(new Disk(SIZE).put(65536 + 64, '_BHRfS_M').names()).toEqual(['btrfs']);
    expect(new Disk(SIZE).put(65536, '_BHRfS_M').names()).toEqual([]);
    expect(new Disk(SIZE).put(0, [0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]).names()).toEqual(['LUKS']);
  });

  it('LVM2: "LABELONE" in one of the first four sectors with "LVM2 001" at +24', () => {
    expect(new Disk(SIZE).put(512, 'LABELONE').put(512 + 24, 'LVM2 001').names()).toEqual(['LVM2']);
    expect(new Disk(SIZE).put(1536, 'LABELONE').put(1536 + 24, 'LVM2 001').names()).toEqual(['LVM2']);
    expect(new Disk(SIZE).put(512, 'LABELONE').names()).toEqual([]);
    expect(new Disk(SIZE).put(2048, 'LABELONE').put(2048 + 24, 'LVM2 001').names()).toEqual([]);
  });

  it('ZFS: uberblock magic 0x00bab10c (either byte order) in L0/L1 and in L2/L3 at the end', () => {
    const le = [0x0c, 0xb1, 0xba, 0, 0, 0, 0, 0];
    const be = [0, 0, 0, 0, 0, 0xba, 0xb1, 0x0c];
    expect(new Disk(SIZE).put(128 * 1024 + 5 * 1024, le).names()).toEqual(['ZFS']);
    expect(new Disk(SIZE).put(256 * 1024 + 128 * 1024, be).names()).toEqual(['ZFS']);
    // An odd size: the end labels sit in the size rounded down to 256 KiB.
    const odd = SIZE + 100 * 1024;
    const tail = new Disk(odd).put(SIZE - 256 * 1024 + 128 * 1024, le);
    expect(detectSignatures(tail.read, odd)).toEqual([{ name: 'ZFS', offset: SIZE - 128 * 1024, at: 'end', detail: 'uberblock in a vdev label' }]);
    // Outside the uberblock ring (the label's first 128 KiB holds the nvlist).
    expect(new Disk(SIZE).put(64 * 1024, le).names()).toEqual([]);
  });

  it('md: 0xa92b4efc at 4 KiB (1.2), 0 (1.1), 8 KiB before the end (1.0), the last 64 KiB (0.90)', () => {
    const md = (o: number, size = SIZE) => detectSignatures(new Disk(size).u32le(o, 0xa92b4efc).read, size).map((s) => `${s.name} ${s.detail}`);
    expect(md(4096)).toEqual(['linux_raid_member md superblock 1.2']);
    expect(md(0)).toEqual(['linux_raid_member md superblock 1.1']);
    expect(md(SIZE - 8192)).toEqual(['linux_raid_member md superblock 1.0']);
    expect(md(SIZE - 65536)).toEqual(['linux_raid_member md superblock 0.90']);
    const odd = SIZE + 12345;
    expect(md(SIZE - 65536, odd)).toEqual(['linux_raid_member md superblock 0.90']);
    expect(md(2048)).toEqual([]);
  });

  it('swap: "SWAPSPACE2" ending the first page (4 KiB or 64 KiB pages)', () => {
    expect(new Disk(SIZE).put(4096 - 10, 'SWAPSPACE2').names()).toEqual(['swap']);
    expect(new Disk(SIZE).put(65536 - 10, 'SWAPSPACE2').names()).toEqual(['swap']);
    expect(new Disk(SIZE).put(4096 - 11, 'SWAPSPACE2').names()).toEqual([]);
  });

  it('a tiny device: nothing read past its end', () => {
    const d = new Disk(1024).put(510, [0x55, 0xaa]).put(446 + 4, [0x83]);
    expect(d.names()).toEqual(['MBR']);
    for (const [o, l] of d.reads) expect(o + l).toBeLessThanOrEqual(1024);
  });
});

describe('signatureWindows and windowReader', () => {
  it('reads the first and last MiB, block aligned, or the whole small device once', () => {
    expect(signatureWindows(SIZE, 512)).toEqual([
      { offset: 0, length: MiB },
      { offset: SIZE - MiB, length: MiB },
    ]);
    expect(signatureWindows(SIZE + 100, 512)).toEqual([
      { offset: 0, length: MiB },
      { offset: SIZE - MiB, length: MiB },
    ]);
    expect(signatureWindows(MiB + 4096, 4096)).toEqual([{ offset: 0, length: MiB + 4096 }]);
  });

  it('answers from the windows and detects through them as from the device', () => {
    const d = new Disk(SIZE).put(1080, [0x53, 0xef]).put(SIZE - 512, 'EFI PART');
    const windows = signatureWindows(SIZE, 512).map((w) => ({ ...w, data: d.read(w.offset, w.length) }));
    const r = windowReader(windows);
    expect(detectSignatures(r, SIZE).map((s) => s.name)).toEqual(['GPT', 'ext2']);
    expect(r(10 * MiB, 8).byteLength).toBe(0);
  });
});
