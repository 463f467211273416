// vfio-node setup: prepare the host the way SPDK's scripts/setup.sh does (without
// binding anything): reserve hugepages, load vfio-pci and vfio_iommu_type1, and say
// what else stands in the way (IOMMU off, a low RLIMIT_MEMLOCK).

import { parseArgs } from 'node:util';
import { checkMemlock, ensureHugetlbfsMount, ensureVfioModules, hostRootsFromEnv, invalidArgument, iommuStatus, reserveHugepages } from '@vfio-node/core';

const USAGE = `usage: vfio-node setup [--hugepages N] [--hugepage-size KiB] [--mount DIR]

Reserves N hugepages (default 256 of 2048 KiB = 512 MiB), loads vfio-pci and
vfio_iommu_type1, and reports the IOMMU and RLIMIT_MEMLOCK. Needs root.
  --hugepages N        pages to have in the pool (never shrinks it; 0 skips)
  --hugepage-size KiB  page size, 2048 or 1048576 (default 2048)
  --mount DIR          also mount hugetlbfs at DIR unless one is mounted
Exit status 1 when fewer pages than asked could be reserved.`;

export async function run(argv: string[]): Promise<number> {
  let values: { hugepages?: string; 'hugepage-size'?: string; mount?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { hugepages: { type: 'string', default: '256' }, 'hugepage-size': { type: 'string', default: '2048' }, mount: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    console.error(`vfio-node setup: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const count = Number(values.hugepages);
  const sizeKiB = Number(values['hugepage-size']);
  if (!/^\d+$/.test(values.hugepages ?? '')) throw invalidArgument('--hugepages', values.hugepages, 'a whole number of pages');
  if (!/^\d+$/.test(values['hugepage-size'] ?? '')) throw invalidArgument('--hugepage-size', values['hugepage-size'], 'a page size in KiB (2048 or 1048576)');
  const roots = hostRootsFromEnv();
  let status = 0;

  if (count > 0) {
    const r = reserveHugepages(count, { ...roots, sizeKiB });
    const size = sizeKiB >= 1048576 ? `${sizeKiB / 1048576} GiB` : `${sizeKiB / 1024} MiB`;
    if (!r.changed) console.log(`hugepages: ${r.total} × ${size} already reserved (${r.free} free), ${count} asked`);
    else if (r.total >= count) console.log(`hugepages: reserved ${r.total} × ${size} (${r.free} free) via ${r.path}`);
    else {
      console.error(`hugepages: only ${r.total} of ${count} × ${size} could be reserved (memory is fragmented or short); try again early after boot, or boot with hugepages=${count}`);
      status = 1;
    }
  }
  if (values.mount) {
    const m = ensureHugetlbfsMount(values.mount, roots);
    console.log(m.mounted ? `hugetlbfs: mounted on ${m.mountPoint}` : `hugetlbfs: already mounted on ${m.mountPoint}`);
  }

  const loaded = ensureVfioModules(roots);
  console.log(loaded.length ? `modules: loaded ${loaded.join(', ')}` : 'modules: vfio-pci and vfio_iommu_type1 already loaded');

  const iommu = iommuStatus(roots);
  if (iommu.enabled) console.log(`iommu: ${iommu.detail}`);
  else {
    console.error(`iommu: ${iommu.detail}\n  fix: ${iommu.fix}`);
    status = 1;
  }
  const ml = checkMemlock(count * sizeKiB * 1024 || 64 * 1024 * 1024, roots);
  console.log(`memlock: ${ml.detail}${ml.ok ? '' : `\n  fix: ${ml.fix}`}`);
  console.log("next: 'vfio-node list' to find a device, 'vfio-node bind ADDR', 'vfio-node doctor ADDR'");
  return status;
}
