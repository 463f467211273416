// read-write: the smallest program on the NVMe driver. Opens a controller, prints what
// Identify says about it, writes a random pattern to a few blocks, reads them back into
// another buffer and compares. `await using` closes everything at the end of the scope,
// in reverse order: the buffers go back to the allocator, then the controller shuts down
// (CC.SHN) and the device is released.
//
//   node examples/dist/read-write.js 0000:01:00.0 [NSID] [LBA]
//   npx vfio-node lab run -- node examples/dist/read-write.js     (the lab's first NVMe)
//
// The controller must be bound to vfio-pci (`npx vfio-node bind ADDR`; `npx vfio-node
// doctor ADDR` checks the rest: IOMMU, hugepages, memlock). The blocks at LBA are
// overwritten: use a scratch device. Without an address the first one in $VFIO_LAB_NVME
// is used (the lab sets it). Prints `read back: identical` and exits 0 when the data
// came back unchanged.

import { randomFillSync } from 'node:crypto';
import { NvmeController } from '@vfio-node/nvme';

const address = process.argv[2] ?? process.env.VFIO_LAB_NVME?.split(' ')[0];
if (!address) {
  console.error('usage: node read-write.js PCI_ADDRESS [NSID] [LBA]');
  process.exit(2);
}
const nsid = Number(process.argv[3] ?? 1);
const lba = Number(process.argv[4] ?? 0);

await using ctrl = await NvmeController.open(address);
const id = ctrl.identify;
console.log(`controller ${ctrl.address}: ${id.mn.trim()}, serial ${id.sn.trim()}, firmware ${id.fr.trim()}`);
const ns = ctrl.namespace(nsid);
console.log(`namespace ${ns.nsid}: ${ns.blocks} blocks of ${ns.blockSize} bytes`);

// 16 KiB of DMA memory the controller can reach (hugepages, mapped through the IOMMU).
const bytes = 16 * 1024;
const blocks = bytes / ns.blockSize;
using written = ctrl.allocBuffer(bytes);
using readBack = ctrl.allocBuffer(bytes);
randomFillSync(written.bytes);

await ns.write(lba, blocks, written.bytes);
await ns.read(lba, blocks, readBack.bytes);
const same = Buffer.compare(written.bytes, readBack.bytes) === 0;
console.log(`wrote ${blocks} blocks at LBA ${lba}; read back: ${same ? 'identical' : 'DIFFERENT'}`);
process.exitCode = same ? 0 : 1;
