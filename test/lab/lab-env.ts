// What the lab tells a test about its devices. Outside the lab these throw: a lab test
// must fail, never skip, when it has no device.

function list(name: string): string[] {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set: lab tests run inside the lab (npm test boots it)`);
  return v.split(/\s+/).filter(Boolean);
}

/** PCI addresses of the lab's NVMe controllers, bound to vfio-pci. */
export function labNvme(): string[] {
  const l = list('VFIO_LAB_NVME');
  if (!l.length) throw new Error('the lab has no NVMe controller');
  return l;
}

/** PCI addresses of the lab's virtio-net NICs. */
export function labNics(): string[] {
  return list('VFIO_LAB_NICS');
}
