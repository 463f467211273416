// Errors: VFIO ioctls on a non-VFIO fd report errno and the ioctl's name; bad arguments
// of every kind throw ERR_* codes and never crash; setErrorFactory is per thread.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import native from '@vfio-node/native';
import { exited, nextMessage, startWorker, thrown } from './helpers.js';

const { O_RDWR } = native.constants as Record<string, number>;
let devnull: number;
beforeAll(() => {
  devnull = native.open('/dev/null', O_RDWR!);
});
afterAll(() => native.close(devnull));

describe('VFIO ioctls on a non-VFIO fd (/dev/null)', () => {
  const calls: Array<[string, (fd: number) => unknown]> = [
    ['VFIO_GET_API_VERSION', (fd) => native.vfioGetApiVersion(fd)],
    ['VFIO_CHECK_EXTENSION', (fd) => native.vfioCheckExtension(fd, 3)],
    ['VFIO_SET_IOMMU', (fd) => native.vfioSetIommu(fd, 3)],
    ['VFIO_IOMMU_GET_INFO', (fd) => native.vfioIommuGetInfo(fd)],
    ['VFIO_IOMMU_UNMAP_DMA', (fd) => native.vfioUnmapDma(fd, 0x10000n, 4096)],
    ['VFIO_GROUP_GET_STATUS', (fd) => native.vfioGroupGetStatus(fd)],
    ['VFIO_GROUP_SET_CONTAINER', (fd) => native.vfioGroupSetContainer(fd, fd)],
    ['VFIO_GROUP_UNSET_CONTAINER', (fd) => native.vfioGroupUnsetContainer(fd)],
    ['VFIO_GROUP_GET_DEVICE_FD', (fd) => native.vfioGroupGetDeviceFd(fd, '0000:00:04.0')],
    ['VFIO_DEVICE_GET_INFO', (fd) => native.vfioDeviceGetInfo(fd)],
    ['VFIO_DEVICE_GET_REGION_INFO', (fd) => native.vfioDeviceGetRegionInfo(fd, 0)],
    ['VFIO_DEVICE_GET_IRQ_INFO', (fd) => native.vfioDeviceGetIrqInfo(fd, 2)],
    ['VFIO_DEVICE_SET_IRQS', (fd) => native.vfioDeviceSetIrqsEventfd(fd, 2, 0, [-1])],
    ['VFIO_DEVICE_SET_IRQS', (fd) => native.vfioDeviceSetIrqs(fd, 0, 0, 1, native.constants.VFIO_IRQ_SET_ACTION_UNMASK!)],
    ['VFIO_DEVICE_RESET', (fd) => native.vfioDeviceReset(fd)],
  ];
  for (const [name, call] of calls) {
    it(`${name} throws ENOTTY naming the ioctl and the fd`, () => {
      const e = thrown(() => call(devnull));
      expect(e).toBeInstanceOf(Error);
      expect(e.code).toBe('ENOTTY');
      expect(e.errno).toBe(25);
      expect(e.syscall).toBe(name);
      expect(e.message).toBe(`${name} on fd ${devnull} failed: Inappropriate ioctl for device`);
    });
  }

  it('VFIO_IOMMU_MAP_DMA reaches the kernel only with a live, aligned, in-range DmaBuffer', () => {
    const buf = native.DmaBuffer.alloc(4 * native.pageSize, { hugepages: false });
    const page = native.pageSize;
    const e = thrown(() => native.vfioMapDma(devnull, buf, page, 2 * page, 0x100000n));
    expect(e.code).toBe('ENOTTY');
    expect(e.syscall).toBe('VFIO_IOMMU_MAP_DMA');
    expect(thrown(() => native.vfioMapDma(devnull, buf, 1, page, 0n)).code).toBe('ERR_MISALIGNED');
    expect(thrown(() => native.vfioMapDma(devnull, buf, 0, 5 * page, 0n)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => native.vfioMapDma(devnull, buf, 0, 100, 0n)).code).toBe('ERR_MISALIGNED');
    expect(thrown(() => native.vfioMapDma(devnull, buf, 0, page, 0x123n)).code).toBe('ERR_MISALIGNED');
    expect(thrown(() => native.vfioMapDma(devnull, buf, 3 * page, 2 * page, 0n)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => native.vfioMapDma(devnull, buf, 0, 0, 0n)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => native.vfioMapDma(devnull, buf, 0, page, -1n)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => native.vfioMapDma(devnull, buf, 0, 2 * page, 2n ** 64n - BigInt(page))).code).toBe('ERR_OUT_OF_RANGE');
    // Not a DmaBuffer: a plain object, one with DmaBuffer's prototype, a Mapping, an ArrayBuffer.
    const fake = Object.create(native.DmaBuffer.prototype) as never;
    for (const notBuffer of [{}, fake, buf.buffer, null, 5]) {
      expect(thrown(() => native.vfioMapDma(devnull, notBuffer as never, 0, page, 0n)).code).toBe('ERR_INVALID_ARG');
    }
    buf.release();
    expect(thrown(() => native.vfioMapDma(devnull, buf, 0, page, 0n)).code).toBe('ERR_CLOSED');
    expect(thrown(() => native.vfioUnmapDma(devnull, 1n, page)).code).toBe('ERR_MISALIGNED');
  });
});

describe('bad arguments throw, never crash', () => {
  const junk: unknown[] = ['7', -1, 1.5, NaN, Infinity, -Infinity, 2 ** 53, 2 ** 64, {}, [], null, undefined, true, Symbol('s'), 10n ** 30n, -1n];
  const entryPoints: Array<[string, (x: unknown) => unknown]> = [
    ['close', (x) => native.close(x as never)],
    ['open flags', (x) => native.open('/dev/null', x as never)],
    ['pread fd', (x) => native.pread(x as never, new Uint8Array(1), 0)],
    ['pread buffer', (x) => native.pread(devnull, x as never, 0)],
    ['pread offset', (x) => native.pread(devnull, new Uint8Array(1), x as never)],
    ['preadWidth width', (x) => native.preadWidth(devnull, 0, x as never)],
    ['pwriteWidth value', (x) => native.pwriteWidth(devnull, 0, 1, x as never)],
    ['vfioCheckExtension', (x) => native.vfioCheckExtension(devnull, x as never)],
    ['vfioGroupGetDeviceFd name', (x) => native.vfioGroupGetDeviceFd(devnull, x as never)],
    ['vfioDeviceGetRegionInfo index', (x) => native.vfioDeviceGetRegionInfo(devnull, x as never)],
    ['vfioDeviceSetIrqsEventfd list', (x) => native.vfioDeviceSetIrqsEventfd(devnull, 2, 0, x as never)],
    ['vfioDeviceSetIrqsEventfd entry', (x) => native.vfioDeviceSetIrqsEventfd(devnull, 2, 0, [3, x as never])],
    ['vfioDeviceSetIrqs action', (x) => native.vfioDeviceSetIrqs(devnull, 0, 0, 1, x as never)],
    ['vfioUnmapDma size', (x) => native.vfioUnmapDma(devnull, 0n, x as never)],
    ['Mapping size', (x) => new native.Mapping(devnull, 0, x as never)],
    ['DmaBuffer.alloc', (x) => native.DmaBuffer.alloc(x as never, { hugepages: false })],
    ['DmaBuffer.open', (x) => native.DmaBuffer.open(x as never)],
    ['eventfdWrite', (x) => native.eventfdWrite(devnull, x as never)],
    ['eventfdWait timeout', (x) => native.eventfdWait([devnull], x as never)],
    ['EventfdWatcher fd', (x) => new native.EventfdWatcher(x as never, () => {})],
    ['setErrorFactory', (x) => native.setErrorFactory(x as never)],
  ];
  const allowed = ['ERR_INVALID_ARG', 'ERR_OUT_OF_RANGE', 'ERR_MISALIGNED'];
  for (const [name, call] of entryPoints) {
    it(`${name}: every junk value is refused with an ERR_* code`, () => {
      for (const value of junk) {
        // Values that happen to be valid for this parameter are not junk for it.
        if (name === 'eventfdWrite' && (value === undefined || value === 2 ** 53)) continue;
        if (name.startsWith('pread offset') && value === 2 ** 53) continue;
        if (name === 'pwriteWidth value' && (value === -1 || value === -1n)) continue;
        if (name === 'vfioDeviceSetIrqsEventfd entry' && value === -1) continue;
        if (name === 'vfioGroupGetDeviceFd name' && typeof value === 'string') continue;
        if (name === 'eventfdWait timeout' && value === -1) continue;
        if (name === 'vfioDeviceSetIrqsEventfd list' && Array.isArray(value)) continue;
        let e: Record<string, unknown>;
        try {
          call(value);
          throw new Error(`${name} accepted ${String(value)}`);
        } catch (err) {
          e = err as Record<string, unknown>;
        }
        expect(allowed, `${name}(${typeof value} ${String(value)}): ${String(e.message)}`).toContain(e.code);
      }
    });
  }

  it('messages name the argument and the value', () => {
    expect(thrown(() => native.close('7' as never)).message).toBe('fd must be a number (got string)');
    expect(thrown(() => native.close(-1)).message).toBe('fd must be an integer in [0, 2147483647] (got number -1)');
    expect(thrown(() => native.pread(devnull, new Uint8Array(1), -5n)).message).toBe(
      'offset must be in [0, 9223372036854775807] (got bigint -5n)',
    );
  });
});

describe('setErrorFactory', () => {
  it('before registration errors are plain Errors with the fields; after, the factory builds them (per thread)', async () => {
    const worker = startWorker(`
      const summary = (e) => ({ name: e.constructor.name, code: e.code, syscall: e.syscall, errno: e.errno, path: e.path, message: e.message });
      const before = (() => { try { native.open('/nonexistent/x', 0); } catch (e) { return summary(e); } })();
      class VfioError extends Error {
        constructor(init) { super(init.message); Object.assign(this, init); this.hint = 'check the path'; }
      }
      native.setErrorFactory((init) => new VfioError(init));
      const after = (() => { try { native.open('/nonexistent/x', 0); } catch (e) { return { ...summary(e), hint: e.hint, isVfioError: e instanceof VfioError }; } })();
      const arg = (() => { try { native.close(-1); } catch (e) { return { ...summary(e), isVfioError: e instanceof VfioError }; } })();
      native.setErrorFactory(() => { throw new TypeError('factory broke'); });
      const broken = (() => { try { native.close(-1); } catch (e) { return summary(e); } })();
      parentPort.postMessage({ before, after, arg, broken });`);
    const r = await nextMessage<Record<string, Record<string, unknown>>>(worker);
    expect(await exited(worker)).toBe(0);
    const message = 'open /nonexistent/x failed: No such file or directory';
    expect(r.before).toEqual({ name: 'Error', code: 'ENOENT', syscall: 'open', errno: 2, path: '/nonexistent/x', message });
    expect(r.after).toEqual({
      name: 'VfioError', code: 'ENOENT', syscall: 'open', errno: 2, path: '/nonexistent/x', message,
      hint: 'check the path', isVfioError: true,
    });
    expect(r.arg).toMatchObject({ name: 'VfioError', code: 'ERR_OUT_OF_RANGE', isVfioError: true });
    expect(r.arg!.syscall).toBeUndefined();
    expect(r.broken).toMatchObject({ name: 'TypeError', message: 'factory broke' });
    // The worker's factory is its own: this thread still throws plain Errors.
    const e = thrown(() => native.close(-1));
    expect(e.constructor).toBe(Error);
    expect(e.code).toBe('ERR_OUT_OF_RANGE');
  });
});

describe('constants', () => {
  it('has the linux/vfio.h and fcntl.h values, frozen', () => {
    const c = native.constants;
    expect(Object.isFrozen(c)).toBe(true);
    expect(c).toMatchObject({
      O_RDONLY: 0, O_WRONLY: 1, O_RDWR: 2, VFIO_API_VERSION: 0, VFIO_TYPE1_IOMMU: 1, VFIO_TYPE1v2_IOMMU: 3,
      VFIO_NOIOMMU_IOMMU: 8, VFIO_PCI_BAR0_REGION_INDEX: 0, VFIO_PCI_BAR5_REGION_INDEX: 5,
      VFIO_PCI_ROM_REGION_INDEX: 6, VFIO_PCI_CONFIG_REGION_INDEX: 7, VFIO_PCI_VGA_REGION_INDEX: 8,
      VFIO_PCI_INTX_IRQ_INDEX: 0, VFIO_PCI_MSI_IRQ_INDEX: 1, VFIO_PCI_MSIX_IRQ_INDEX: 2, VFIO_PCI_ERR_IRQ_INDEX: 3,
      VFIO_PCI_REQ_IRQ_INDEX: 4, VFIO_GROUP_FLAGS_VIABLE: 1, VFIO_GROUP_FLAGS_CONTAINER_SET: 2,
      VFIO_DEVICE_FLAGS_RESET: 1, VFIO_DEVICE_FLAGS_PCI: 2, VFIO_REGION_INFO_FLAG_READ: 1,
      VFIO_REGION_INFO_FLAG_WRITE: 2, VFIO_REGION_INFO_FLAG_MMAP: 4, VFIO_REGION_INFO_FLAG_CAPS: 8,
      VFIO_IRQ_INFO_EVENTFD: 1, VFIO_IRQ_INFO_MASKABLE: 2, VFIO_IRQ_INFO_AUTOMASKED: 4, VFIO_IRQ_INFO_NORESIZE: 8,
      VFIO_IRQ_SET_DATA_NONE: 1, VFIO_IRQ_SET_DATA_BOOL: 2, VFIO_IRQ_SET_DATA_EVENTFD: 4,
      VFIO_IRQ_SET_ACTION_MASK: 8, VFIO_IRQ_SET_ACTION_UNMASK: 16, VFIO_IRQ_SET_ACTION_TRIGGER: 32,
    });
    expect(native.pageSize).toBe(4096);
  });
});
