// Runs inside the QEMU lab guest (see lab-probe.sh): binds the emulated NVMe to vfio-pci
// and drives every VFIO entry point of the native addon against it, checking what comes
// back. Prints one line per check; exits 1 at the first failure.
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import native from '../index.js';

const c = native.constants;
const check = (what, ok, detail = '') => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? ': ' + detail : ''}`);
  if (!ok) process.exit(1);
};
const json = (v) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? '0x' + x.toString(16) : x));

// Find the NVMe by class (01 08 02) and bind it to vfio-pci.
const dev = readdirSync('/sys/bus/pci/devices').find(
  (d) => readFileSync(`/sys/bus/pci/devices/${d}/class`, 'utf8').trim() === '0x010802',
);
check('found the NVMe', !!dev, dev);
const sys = `/sys/bus/pci/devices/${dev}`;
writeFileSync(`${sys}/driver_override`, 'vfio-pci');
try { writeFileSync(`${sys}/driver/unbind`, dev); } catch {}
writeFileSync('/sys/bus/pci/drivers_probe', dev);
writeFileSync('/proc/sys/vm/nr_hugepages', '16');
const group = readlinkSync(`${sys}/iommu_group`).split('/').pop();

// Container and group.
const container = native.open('/dev/vfio/vfio', c.O_RDWR);
check('VFIO_GET_API_VERSION', native.vfioGetApiVersion(container) === c.VFIO_API_VERSION);
check('VFIO_CHECK_EXTENSION(TYPE1v2)', native.vfioCheckExtension(container, c.VFIO_TYPE1v2_IOMMU) === true);
check('VFIO_CHECK_EXTENSION(NOIOMMU) false', native.vfioCheckExtension(container, c.VFIO_NOIOMMU_IOMMU) === false);
const groupFd = native.open(`/dev/vfio/${group}`, c.O_RDWR);
check('group viable', (native.vfioGroupGetStatus(groupFd) & c.VFIO_GROUP_FLAGS_VIABLE) !== 0);
native.vfioGroupSetContainer(groupFd, container);
check('CONTAINER_SET', (native.vfioGroupGetStatus(groupFd) & c.VFIO_GROUP_FLAGS_CONTAINER_SET) !== 0);
try { native.vfioGroupSetContainer(groupFd, container); check('second SET_CONTAINER fails', false); }
catch (e) { check('second SET_CONTAINER throws', e.syscall === 'VFIO_GROUP_SET_CONTAINER' && typeof e.errno === 'number', `${e.code} ${e.message}`); }
native.vfioSetIommu(container, c.VFIO_TYPE1v2_IOMMU);
const iommu = native.vfioIommuGetInfo(container);
check('VFIO_IOMMU_GET_INFO', iommu.pageSizes !== 0n && iommu.iovaRanges.length > 0 && iommu.dmaAvail > 0, json(iommu));

// Device.
const device = native.vfioGroupGetDeviceFd(groupFd, dev);
const fdflags = readFileSync(`/proc/self/fdinfo/${device}`, 'utf8');
check('device fd is O_CLOEXEC', (parseInt(/flags:\s+(\d+)/.exec(fdflags)[1], 8) & 0o2000000) !== 0);
const info = native.vfioDeviceGetInfo(device);
check('VFIO_DEVICE_GET_INFO', (info.flags & c.VFIO_DEVICE_FLAGS_PCI) !== 0 && info.numRegions >= 9 && info.numIrqs >= 5, json(info));
const regions = [];
for (let i = 0; i < info.numRegions; i++) {
  try {
    regions.push(native.vfioDeviceGetRegionInfo(device, i));
    console.log('     region', json(regions[i]));
  } catch (e) {
    // vfio-pci answers EINVAL for the VGA region of a device that has none.
    check(`region ${i}: ${e.message}`, i === c.VFIO_PCI_VGA_REGION_INDEX && e.code === 'EINVAL');
  }
}
const bar0 = regions[c.VFIO_PCI_BAR0_REGION_INDEX];
check('BAR0 is mmappable', (bar0.flags & c.VFIO_REGION_INFO_FLAG_MMAP) !== 0 && bar0.size >= 0x2000n);
const cfg = regions[c.VFIO_PCI_CONFIG_REGION_INDEX];
const vendor = native.preadWidth(device, cfg.offset, 2);
const devid = native.preadWidth(device, cfg.offset + 2n, 2);
check('config space vendor/device', vendor === 0x1b36n && devid === 0x10n, `${vendor.toString(16)}:${devid.toString(16)}`);
const cmd = native.preadWidth(device, cfg.offset + 4n, 2);
native.pwriteWidth(device, cfg.offset + 4n, 2, cmd | 0x6n); // Memory Space + Bus Master
check('PCI COMMAND write', (native.preadWidth(device, cfg.offset + 4n, 2) & 0x6n) === 0x6n);

// BAR0 registers: CAP (0x0, 64-bit), VS (0x8).
const area = bar0.sparseMmap?.[0] ?? { offset: 0n, size: bar0.size };
const map = new native.Mapping(device, bar0.offset + area.offset, Number(area.size));
const cap = map.read64(0);
const vs = map.read32(8);
check('BAR0 CAP/VS through Mapping', vs === 0x10400 && (cap & 0xffffn) > 0n, `CAP 0x${cap.toString(16)} VS 0x${vs.toString(16)}`);
check('Mapping.buffer sees the same VS', new DataView(map.buffer).getUint32(8, true) === vs);
check('pread of BAR0 agrees', native.preadWidth(device, bar0.offset + 8n, 4) === BigInt(vs));

// DMA.
const buf = native.DmaBuffer.alloc(2 * 1024 * 1024);
check('hugepage DmaBuffer', buf.hugepages && buf.size === 2 * 1024 * 1024);
native.vfioMapDma(container, buf, 0, buf.size, 0x10000000n);
const after = native.vfioIommuGetInfo(container);
check('MAP_DMA used one mapping', after.dmaAvail === iommu.dmaAvail - 1, `${iommu.dmaAvail} -> ${after.dmaAvail}`);
try { native.vfioMapDma(container, buf, 0, buf.size, 0x10000000n); check('overlapping MAP_DMA fails', false); }
catch (e) { check('overlapping MAP_DMA throws EEXIST', e.code === 'EEXIST' && e.syscall === 'VFIO_IOMMU_MAP_DMA', e.message); }
check('UNMAP_DMA returns the size', native.vfioUnmapDma(container, 0x10000000n, buf.size) === buf.size);

// Interrupts: MSI-X vector 0 wired to an eventfd, triggered by software (DATA_NONE|TRIGGER).
const msix = native.vfioDeviceGetIrqInfo(device, c.VFIO_PCI_MSIX_IRQ_INDEX);
check('MSI-X irq info', msix.count > 1 && (msix.flags & c.VFIO_IRQ_INFO_EVENTFD) !== 0, json(msix));
const efd = native.eventfdCreate();
native.vfioDeviceSetIrqsEventfd(device, c.VFIO_PCI_MSIX_IRQ_INDEX, 0, [efd]);
native.vfioDeviceSetIrqs(device, c.VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, c.VFIO_IRQ_SET_ACTION_TRIGGER);
check('triggered vector 0 reaches eventfdWait', native.eventfdWait([efd], 2000) === 0);
const count = await new Promise((resolve) => {
  const w = new native.EventfdWatcher(efd, (n) => { w.stop(); resolve(n); });
  native.vfioDeviceSetIrqs(device, c.VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, c.VFIO_IRQ_SET_ACTION_TRIGGER);
});
check('triggered vector 0 reaches EventfdWatcher', count === 1n);
native.vfioDeviceSetIrqsEventfd(device, c.VFIO_PCI_MSIX_IRQ_INDEX, 0, []);
check('MSI-X disabled', true);

if (info.flags & c.VFIO_DEVICE_FLAGS_RESET) { native.vfioDeviceReset(device); check('VFIO_DEVICE_RESET', true); }

map.unmap();
buf.release();
native.close(efd);
native.close(device);
native.vfioGroupUnsetContainer(groupFd);
check('UNSET_CONTAINER', (native.vfioGroupGetStatus(groupFd) & c.VFIO_GROUP_FLAGS_CONTAINER_SET) === 0);
native.close(groupFd);
native.close(container);
console.log('probe done');
