// Mapping over a regular temp file (a stand-in for a BAR: MAP_SHARED, so stores reach
// the file), and the fd helpers open/close/pread/pwrite/preadWidth/pwriteWidth.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import native from '@vfio-node/native';
import { thrown } from './helpers.js';

const { O_RDWR, O_RDONLY } = native.constants as Record<string, number>;
let dir: string;
let path: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vfio-native-'));
  path = join(dir, 'bar.bin');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function freshFile(): number {
  writeFileSync(path, Buffer.alloc(8192));
  return native.open(path, O_RDWR!);
}

describe('open/close', () => {
  it('opens close-on-exec and closes', () => {
    const fd = freshFile();
    const fdinfo = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    expect(parseInt(/flags:\s+(\d+)/.exec(fdinfo)![1]!, 8) & 0o2000000).toBe(0o2000000);
    native.close(fd);
    const e = thrown(() => native.close(fd));
    expect(e.code).toBe('EBADF');
    expect(e.syscall).toBe('close');
  });

  it('open of /dev/vfio/vfio on this host (no VFIO) throws ENOENT with the path', () => {
    const e = thrown(() => native.open('/dev/vfio/vfio', O_RDWR!));
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe('ENOENT');
    expect(e.errno).toBe(2);
    expect(e.syscall).toBe('open');
    expect(e.path).toBe('/dev/vfio/vfio');
    expect(e.message).toBe('open /dev/vfio/vfio failed: No such file or directory');
  });

  it('rejects paths with NUL bytes and non-string paths', () => {
    expect(thrown(() => native.open('/tmp/a\0b', O_RDONLY!)).code).toBe('ERR_INVALID_ARG');
    expect(thrown(() => native.open(42 as never, O_RDONLY!)).code).toBe('ERR_INVALID_ARG');
    expect(thrown(() => native.open('/tmp', -1)).code).toBe('ERR_OUT_OF_RANGE');
  });
});

describe('pread/pwrite and the single-access widths', () => {
  it('round-trips whole buffers and stops short only at end of file', () => {
    const fd = freshFile();
    expect(native.pwrite(fd, new Uint8Array([1, 2, 3, 4]), 100)).toBe(4);
    const back = new Uint8Array(4);
    expect(native.pread(fd, back, 100n)).toBe(4);
    expect([...back]).toEqual([1, 2, 3, 4]);
    const tail = new Uint8Array(16);
    expect(native.pread(fd, tail, 8192 - 6)).toBe(6);
    native.close(fd);
  });

  it('preadWidth/pwriteWidth move exactly width bytes, little-endian', () => {
    const fd = freshFile();
    native.pwriteWidth(fd, 16, 4, 0x11223344);
    native.pwriteWidth(fd, 20, 2, 0xbeef);
    native.pwriteWidth(fd, 22, 1, 0x7f);
    native.pwriteWidth(fd, 24, 8, 0x0102030405060708n);
    const bytes = readFileSync(path).subarray(16, 32);
    expect([...bytes]).toEqual([0x44, 0x33, 0x22, 0x11, 0xef, 0xbe, 0x7f, 0, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(native.preadWidth(fd, 16, 4)).toBe(0x11223344n);
    expect(native.preadWidth(fd, 20n, 2)).toBe(0xbeefn);
    expect(native.preadWidth(fd, 22, 1)).toBe(0x7fn);
    expect(native.preadWidth(fd, 24, 8)).toBe(0x0102030405060708n);
    native.pwriteWidth(fd, 16, 4, -1); // two's complement: all ones
    expect(native.preadWidth(fd, 16, 4)).toBe(0xffffffffn);
    // Past the end: a short read is an error, not a partial value.
    const e = thrown(() => native.preadWidth(fd, 8190, 4));
    expect(e.code).toBe('EIO');
    expect(e.syscall).toBe('pread');
    expect(thrown(() => native.preadWidth(fd, 0, 3 as never)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => native.pwriteWidth(fd, 0, 1, 256)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => native.pwriteWidth(fd, 0, 2, 0x1_0000n)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => native.pwriteWidth(fd, -1, 4, 0)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => native.pwriteWidth(fd, 2n ** 63n, 4, 0)).code).toBe('ERR_OUT_OF_RANGE');
    native.close(fd);
  });
});

describe('Mapping', () => {
  it('maps 8 KiB MAP_SHARED: register writes reach the file and the buffer', () => {
    const fd = freshFile();
    const m = new native.Mapping(fd, 0, 8192);
    expect(m.size).toBe(8192);
    expect(m.buffer.byteLength).toBe(8192);
    m.write32(4, 0xdeadbeef);
    expect(m.read32(4)).toBe(0xdeadbeef);
    m.write8(8191, 0xa5);
    m.write16(4094, 0x1234);
    m.write64(4096, 0xfedcba9876543210n);
    m.write32(0, -2); // int32 results of JS bitwise ops are accepted as two's complement
    expect(m.read8(8191)).toBe(0xa5);
    expect(m.read16(4094)).toBe(0x1234);
    expect(m.read64(4096)).toBe(0xfedcba9876543210n);
    expect(m.read32(0)).toBe(0xfffffffe);
    const view = new DataView(m.buffer);
    expect(view.getUint32(4, true)).toBe(0xdeadbeef);
    view.setUint32(12, 0xcafef00d, true);
    expect(m.read32(12)).toBe(0xcafef00d);
    const file = readFileSync(path);
    expect(file.readUInt32LE(4)).toBe(0xdeadbeef);
    expect(file[8191]).toBe(0xa5);
    m.unmap();
    native.close(fd);
  });

  it('throws ERR_OUT_OF_RANGE and ERR_MISALIGNED for bad offsets and values', () => {
    const fd = freshFile();
    const m = new native.Mapping(fd, 0n, 8192);
    expect(thrown(() => m.read32(8192)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => m.read32(8190)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => m.read64(8188)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => m.read8(-1)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => m.read8(1.5)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => m.read8(2 ** 60)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => m.read32(2)).code).toBe('ERR_MISALIGNED');
    expect(thrown(() => m.read16(1)).code).toBe('ERR_MISALIGNED');
    expect(thrown(() => m.write64(4, 0n)).code).toBe('ERR_MISALIGNED');
    expect(thrown(() => m.read32('4' as never)).code).toBe('ERR_INVALID_ARG');
    expect(thrown(() => m.write8(0, 256)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => m.write32(0, 2 ** 32)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => m.write64(0, 2n ** 64n)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => m.write16(0, 'x' as never)).code).toBe('ERR_INVALID_ARG');
    const e = thrown(() => m.read32(8192));
    expect(e.message).toBe('32-bit access at offset 8192 is outside the mapping of 8192 bytes');
    m.unmap();
    native.close(fd);
  });

  it('after unmap: the ArrayBuffer is detached and every method throws ERR_CLOSED', () => {
    const fd = freshFile();
    const m = new native.Mapping(fd, 0, 8192);
    const buffer = m.buffer;
    const bytes = new Uint8Array(buffer);
    m.unmap();
    expect(buffer.byteLength).toBe(0);
    expect(bytes.length).toBe(0);
    expect(bytes[0]).toBeUndefined(); // no fault: the view is empty
    for (const call of [() => m.read8(0), () => m.read16(0), () => m.read32(0), () => m.read64(0),
      () => m.write8(0, 0), () => m.write16(0, 0), () => m.write32(0, 0), () => m.write64(0, 0n)]) {
      expect(thrown(call).code).toBe('ERR_CLOSED');
    }
    m.unmap(); // idempotent
    native.close(fd);
  });

  it('checks the constructor: alignment, range, fd', () => {
    const fd = freshFile();
    expect(thrown(() => new native.Mapping(fd, 100, 4096)).code).toBe('ERR_MISALIGNED');
    expect(thrown(() => new native.Mapping(fd, 0, 0)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => new native.Mapping(fd, 0, -4096)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => new native.Mapping(fd, 0, 2 ** 53)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => new native.Mapping(fd, -1n, 4096)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => new native.Mapping('3' as never, 0, 4096)).code).toBe('ERR_INVALID_ARG');
    // Larger than the address space: mmap itself refuses.
    const big = thrown(() => new native.Mapping(fd, 0, 2 ** 52));
    expect(big.code).toBe('ENOMEM');
    expect(big.syscall).toBe('mmap');
    const ro = native.open(path, O_RDONLY!);
    const e = thrown(() => new native.Mapping(ro, 0, 4096)); // PROT_WRITE on a read-only fd
    expect(e.code).toBe('EACCES');
    expect(e.syscall).toBe('mmap');
    native.close(ro);
    native.close(fd);
    expect(thrown(() => new native.Mapping(fd, 0, 4096)).code).toBe('EBADF');
  });
});
