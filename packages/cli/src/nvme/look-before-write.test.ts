import { describe, expect, it } from 'vitest';
import type { Namespace, NvmeController } from '@vfio-node/nvme';
import { dsm } from './run-io.js';
import { namespaceSignatures, refuseIfNamespaceHoldsData } from './look-before-write.js';

const MiB = 1024 * 1024;

/** A namespace in memory behind the two calls the look uses: allocBuffer and readAt. */
function fakeNamespace(size: number, blockSize = 512) {
  const medium = new Uint8Array(size);
  const reads: Array<[number, number]> = [];
  const ns = {
    nsid: 1,
    blockSize,
    size: BigInt(size),
    async readAt(offset: number, buffer: Uint8Array) {
      expect(offset % blockSize).toBe(0);
      expect(buffer.byteLength % blockSize).toBe(0);
      reads.push([offset, buffer.byteLength]);
      buffer.set(medium.subarray(offset, offset + buffer.byteLength));
    },
  } as unknown as Namespace;
  let released = 0;
  const ctrl = {
    address: '0000:00:03.0',
    pageSize: 4096,
    allocBuffer: (n: number) => ({ bytes: new Uint8Array(n), release: () => void released++ }),
  } as unknown as NvmeController;
  return { medium, reads, ns, ctrl, released: () => released };
}

describe('look before write', () => {
  it('reads the first and last MiB through Namespace.readAt in 128 KiB commands and names an ext4 superblock', async () => {
    const f = fakeNamespace(64 * MiB);
    f.medium.set([0x53, 0xef], 1080);
    f.medium.set([0x40, 0, 0, 0], 1024 + 0x60); // INCOMPAT_EXTENTS
    const found = await namespaceSignatures(f.ctrl, f.ns);
    expect(found.map((s) => s.name)).toEqual(['ext4']);
    expect(f.reads).toHaveLength(16);
    expect(f.reads[0]).toEqual([0, 128 * 1024]);
    expect(f.reads[8]).toEqual([63 * MiB, 128 * 1024]);
    expect(f.released()).toBe(1);
    await expect(refuseIfNamespaceHoldsData(f.ctrl, f.ns, 'nvme write', false)).rejects.toMatchObject({
      code: 'ERR_SIGNATURES_FOUND',
      message: 'nvme write refused: namespace 1 of 0000:00:03.0 holds ext4 (at byte 1080)',
      hint: expect.stringContaining('--force writes anyway'),
    });
  });

  it('finds a backup GPT header at the end; lets a blank namespace through; --force does not look', async () => {
    const f = fakeNamespace(8 * MiB, 4096);
    await expect(refuseIfNamespaceHoldsData(f.ctrl, f.ns, 'nvme dsm', false)).resolves.toBeUndefined();
    f.medium.set([...'EFI PART'].map((c) => c.charCodeAt(0)), 8 * MiB - 4096);
    await expect(refuseIfNamespaceHoldsData(f.ctrl, f.ns, 'nvme dsm', false)).rejects.toMatchObject({ message: 'nvme dsm refused: namespace 1 of 0000:00:03.0 holds GPT (backup header at the last LBA)' });
    const before = f.reads.length;
    await expect(refuseIfNamespaceHoldsData(f.ctrl, f.ns, 'nvme dsm', true)).resolves.toBeUndefined();
    expect(f.reads.length).toBe(before);
  });

  it('a namespace smaller than two windows is read once', async () => {
    const f = fakeNamespace(1536 * 1024);
    await namespaceSignatures(f.ctrl, f.ns);
    expect(f.reads.reduce((n, [, l]) => n + l, 0)).toBe(1536 * 1024);
  });
});

describe('nvme dsm range lengths', () => {
  it('refuses a count above 2^32 - 1 before opening the controller (it would be truncated to 32 bits)', async () => {
    await expect(dsm(['0000:00:03.0', '-n', '1', '--slbs', '0,8', '--blocks', '8,4294967296', '--ad'])).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG',
      message: 'invalid --blocks: "4294967296" (expected at most 4294967295 per range (the Dataset Management range length is 32 bits))',
      hint: 'Split the range into several ranges, each of at most 4294967295 blocks.',
    });
  });
});
