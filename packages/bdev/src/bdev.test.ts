import { describe, expect, it } from 'vitest';
import { BDEV_ERROR_CODES, MallocBdev, NullBdev, NvmeBdev, openBdev, openBdevs, parseBdevName, parseSize } from './index.js';
import { checkRange } from './checks.js';

async function rejection(p: Promise<unknown>): Promise<{ code: string; message: string; hint?: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code: string; message: string; hint?: string };
  }
  throw new Error('did not reject');
}

describe('bdev names', () => {
  it('parse into RAM disks, null devices and NVMe namespaces', () => {
    expect(parseBdevName('malloc:64M')).toEqual({ kind: 'malloc', name: 'malloc:64M', bytes: 64 << 20, blockSize: 512 });
    expect(parseBdevName('malloc:1M:4096')).toEqual({ kind: 'malloc', name: 'malloc:1M:4096', bytes: 1 << 20, blockSize: 4096 });
    expect(parseBdevName('null:2T')).toEqual({ kind: 'null', name: 'null:2T', bytes: 2n << 40n, blockSize: 512 });
    expect(parseBdevName('0000:00:03.0/1')).toEqual({ kind: 'nvme', name: '0000:00:03.0/1', address: '0000:00:03.0', nsid: 1 });
    expect(parseBdevName('00:04.0/2')).toMatchObject({ address: '0000:00:04.0', nsid: 2 });
    expect(parseSize('4096')).toBe(4096n);
    expect(parseSize('1GiB')).toBe(1n << 30n);
  });

  it.each([
    ['', 'ERR_BDEV_NAME', /empty/],
    ['malloc:', 'ERR_BDEV_NAME', /needs a size/],
    ['disk:1G', 'ERR_BDEV_NAME', /unknown kind 'disk'/],
    ['0000:00:03.0', 'ERR_BDEV_NAME', /ADDRESS\/NSID/],
    ['0000:00:03.0/0', 'ERR_BDEV_NAME', /namespace id '0'/],
    ['0000:00:03.0/x', 'ERR_BDEV_NAME', /namespace id 'x'/],
    ['malloc:12Q', 'ERR_BDEV_SIZE', /'12Q' is not a size/],
    ['malloc:0', 'ERR_BDEV_SIZE', /zero/],
    ['malloc:1000', 'ERR_BDEV_SIZE', /not a whole number of 512-byte blocks/],
    ['malloc:1M:1024', 'ERR_BDEV_SIZE', /neither 512 nor 4096/],
    ['malloc:1T', 'ERR_BDEV_SIZE', /more than the 16 GiB/],
  ])('%j is refused with %s and a hint', (name, code, message) => {
    let err: { code?: string; message?: string; hint?: string } = {};
    try {
      parseBdevName(name);
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
    expect(err.hint).toBeTruthy();
    expect(BDEV_ERROR_CODES).toContain(code);
  });
});

describe('a RAM disk (malloc)', () => {
  it('reads back what was written, block by block, and nothing else moves', async () => {
    await using dev = await openBdev('malloc:1M');
    expect(dev).toBeInstanceOf(MallocBdev);
    expect([dev.blockSize, dev.blocks]).toEqual([512, 2048n]);
    const pattern = Uint8Array.from({ length: 1024 }, (_, i) => (i * 7 + 3) & 0xff);
    await dev.write(10n, 2, pattern);
    const back = new Uint8Array(1536).fill(0xee);
    await dev.read(9n, 3, back);
    expect(back.subarray(0, 512).every((b) => b === 0)).toBe(true);
    expect(back.subarray(512)).toEqual(pattern);
    // the last block is usable
    await dev.write(2047n, 1, pattern.subarray(0, 512));
    const last = new Uint8Array(512);
    await dev.read(2047n, 1, last);
    expect(last).toEqual(pattern.subarray(0, 512));
  });

  it('write zeroes and deallocate leave zeroes in their ranges only', async () => {
    const dev = new MallocBdev('m', 64 * 4096, 4096);
    const ones = new Uint8Array(64 * 4096).fill(1);
    await dev.write(0n, 64, ones);
    await dev.writeZeroes(2n, 2);
    await dev.deallocate([{ lba: 10n, blocks: 1 }, { lba: 63n, blocks: 1 }]);
    const back = new Uint8Array(64 * 4096);
    await dev.read(0n, 64, back);
    const zeroBlocks = [...Array(64).keys()].filter((b) => back[b * 4096] === 0 && back[b * 4096 + 4095] === 0);
    expect(zeroBlocks).toEqual([2, 3, 10, 63]);
    await dev.flush();
    await dev.close();
  });

  it('refuses ranges past the end, wrong buffer lengths, and use after close', async () => {
    const dev = new MallocBdev('malloc:8K', 8192);
    expect(await rejection(dev.read(16n, 1, new Uint8Array(512)))).toMatchObject({ code: 'ERR_BDEV_OUT_OF_RANGE', message: /outside its 16 blocks/ });
    expect(await rejection(dev.write(15n, 2, new Uint8Array(1024)))).toMatchObject({ code: 'ERR_BDEV_OUT_OF_RANGE' });
    expect(await rejection(dev.writeZeroes(0n, 0))).toMatchObject({ code: 'ERR_BDEV_OUT_OF_RANGE' });
    expect(await rejection(dev.deallocate([{ lba: 0n, blocks: 1 }, { lba: 16n, blocks: 1 }]))).toMatchObject({ code: 'ERR_BDEV_OUT_OF_RANGE' });
    expect(await rejection(dev.write(0n, 2, new Uint8Array(512)))).toMatchObject({ code: 'ERR_BDEV_BUFFER', message: /512 bytes for 2 blocks/ });
    // a refused deallocate changed nothing
    const b = new Uint8Array(512).fill(9);
    await dev.write(0n, 1, b);
    await rejection(dev.deallocate([{ lba: 0n, blocks: 1 }, { lba: 99n, blocks: 1 }]));
    const back = new Uint8Array(512);
    await dev.read(0n, 1, back);
    expect(back[0]).toBe(9);
    await dev.close();
    expect(await rejection(dev.read(0n, 1, back))).toMatchObject({ code: 'ERR_CLOSED' });
  });
});

describe('a null device', () => {
  it('reads zeroes after any write and checks ranges like a disk', async () => {
    const [dev] = await openBdevs(['null:1G:4096']);
    expect(dev).toBeInstanceOf(NullBdev);
    expect([dev!.blockSize, dev!.blocks]).toEqual([4096, 262144n]);
    await dev!.write(5n, 1, new Uint8Array(4096).fill(7));
    const back = new Uint8Array(4096).fill(0xff);
    await dev!.read(5n, 1, back);
    expect(back.every((x) => x === 0)).toBe(true);
    expect(await rejection(dev!.read(262144n, 1, back))).toMatchObject({ code: 'ERR_BDEV_OUT_OF_RANGE' });
    await dev!.close();
    expect(await rejection(dev!.flush())).toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('openBdevs closes what it opened when a later name is bad', async () => {
    expect(await rejection(openBdevs(['malloc:1M', 'nope']))).toMatchObject({ code: 'ERR_BDEV_NAME' });
  });
});

describe('the NVMe bdev over a runtime namespace (a stand-in here: the lab tests use the real one)', () => {
  function standIn() {
    const calls: Array<[string, bigint, number, Uint8Array]> = [];
    const dma = new WeakSet<ArrayBufferLike>();
    const ns = {
      blockSize: 512,
      blocks: 1024n,
      read: async (lba: bigint, blocks: number, buf: Uint8Array) => {
        calls.push(['read', lba, blocks, buf]);
        buf.fill(0x5a);
      },
      write: async (lba: bigint, blocks: number, buf: Uint8Array) => void calls.push(['write', lba, blocks, buf]),
    };
    const rt = {
      controller: { maxTransfer: 1 << 17, identify: { vwc: 1 } },
      allocBuffer(size: number) {
        const bytes = new Uint8Array(size);
        dma.add(bytes.buffer);
        return { bytes, release() {} };
      },
    };
    const dev = new NvmeBdev('0000:00:03.0/1', rt as never, ns as never, 255, async () => {});
    return { dev, calls, dma };
  }

  it('hands its own DMA buffers to the namespace as they are, and bounces other memory through DMA memory', async () => {
    const { dev, calls, dma } = standIn();
    const own = dev.allocBuffer(1024).bytes;
    await dev.read(8n, 2, own);
    expect(calls[0]![3]).toBe(own);
    const plain = new Uint8Array(1024);
    await dev.read(8n, 2, plain);
    expect(calls[1]![3]).not.toBe(plain);
    expect(dma.has(calls[1]![3].buffer)).toBe(true);
    expect(plain.every((b) => b === 0x5a)).toBe(true); // copied back from the bounce buffer
    await dev.write(0n, 1, new Uint8Array(512).fill(3));
    expect(calls[2]![3].every((b) => b === 3)).toBe(true);
  });

  it('refuses bad requests with a rejected promise (never a throw), before the namespace sees them', async () => {
    const { dev, calls } = standIn();
    const buf = dev.allocBuffer(1024).bytes;
    let promise: Promise<void> | undefined;
    expect(() => (promise = dev.read(1023n, 2, buf))).not.toThrow();
    expect(await rejection(promise!)).toMatchObject({ code: 'ERR_BDEV_OUT_OF_RANGE' });
    expect(await rejection(dev.write(2n ** 60n, 1, buf.subarray(0, 512)))).toMatchObject({ code: 'ERR_BDEV_OUT_OF_RANGE' });
    expect(await rejection(dev.read(0n, 1, buf))).toMatchObject({ code: 'ERR_BDEV_BUFFER' });
    expect(await rejection(dev.read(5 as unknown as bigint, 1, buf.subarray(0, 512)))).toMatchObject({ code: 'ERR_BDEV_OUT_OF_RANGE' });
    await dev.close();
    expect(await rejection(dev.read(0n, 1, buf.subarray(0, 512)))).toMatchObject({ code: 'ERR_CLOSED' });
    expect(calls).toEqual([]);
  });
});

describe('range checks at the edges of exact numbers', () => {
  it('a capacity of 2^53 blocks or more is checked with BigInt; below, the last block is allowed and one past it refused', async () => {
    const small = new NullBdev('null:4K', 4096, 512);
    await expect(small.read(7n, 1, new Uint8Array(512))).resolves.toBeUndefined();
    expect(await rejection(small.read(7n, 2, new Uint8Array(1024)))).toMatchObject({ code: 'ERR_BDEV_OUT_OF_RANGE' });
    const huge = { name: 'huge', blockSize: 512, blocks: 2n ** 60n };
    expect(() => checkRange(huge, 2n ** 60n - 1n, 1)).not.toThrow();
    expect(() => checkRange(huge, 2n ** 60n - 1n, 2)).toThrow(expect.objectContaining({ code: 'ERR_BDEV_OUT_OF_RANGE' }));
  });
});
