// `vfio-node nvme list`: every NVMe controller (class 010802h) bound to vfio-pci, opened
// one at a time to identify it and its namespaces, then closed again.

import { PCI_CLASS_NVME, hostRootsFromEnv, listPciDevices } from '@vfio-node/core';
import { parseNvmeArgs } from './args.js';
import { listJson, listNormal, type ListRow } from './list.js';
import { usage } from './run-identify.js';
import { print, withController } from './session.js';

export const LIST_USAGE = `usage: vfio-node nvme list [-o normal|json]

Lists the namespaces of every NVMe controller bound to vfio-pci, like 'nvme list'
(Node is the controller's PCI address). Each controller is opened in turn.`;

export async function list(argv: string[]): Promise<number> {
  const p = parseNvmeArgs('list', argv, {});
  if (p.help) return usage(LIST_USAGE);
  const addresses = listPciDevices(hostRootsFromEnv())
    .filter((d) => d.classCode === PCI_CLASS_NVME && d.driver === 'vfio-pci')
    .map((d) => d.address);
  const rows: ListRow[] = [];
  let failed = 0;
  for (const address of addresses) {
    try {
      await withController(address, async (ctrl) => {
        for (const nsid of ctrl.namespaceIds) {
          const info = ctrl.namespace(nsid).info;
          rows.push({
            node: address, sn: ctrl.identify.sn, model: ctrl.identify.mn, fw: ctrl.identify.fr, nsid,
            nuse: info.nuse, nsze: info.nsze, blockSize: info.blockSize, metadataSize: info.metadataSize,
          });
        }
      });
    } catch (err) {
      failed++;
      const e = err as { message?: string; hint?: string };
      console.error(`vfio-node nvme list: skipping ${address}: ${e?.message ?? String(err)}${e?.hint ? `\n  hint: ${e.hint}` : ''}`);
    }
  }
  if (addresses.length === 0) console.error("No NVMe controller is bound to vfio-pci (see 'vfio-node list --class nvme', then 'vfio-node bind ADDR').");
  print(p.format, () => listNormal(rows), () => listJson(rows));
  return failed > 0 && rows.length === 0 ? 1 : 0;
}
