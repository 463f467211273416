import { describe, expect, it } from 'vitest';
import { parseVirtioCaps, VirtioPciCapType as T } from './pci-caps.js';

/** A configuration space like QEMU's virtio-net-pci (modern): MSI-X at 0x98, then five vendor caps. */
function qemuLikeConfig(): Uint8Array {
  const c = new Uint8Array(256);
  const v = new DataView(c.buffer);
  v.setUint16(0, 0x1af4, true);
  v.setUint16(2, 0x1041, true);
  v.setUint16(6, 0x0010, true); // Status: capability list
  c[0x34] = 0x98;
  c[0x98] = 0x11; // MSI-X
  c[0x99] = 0x84;
  const vndr = (at: number, next: number, len: number, type: number, bar: number, offset: number, length: number) => {
    c[at] = 0x09;
    c[at + 1] = next;
    c[at + 2] = len;
    c[at + 3] = type;
    c[at + 4] = bar;
    v.setUint32(at + 8, offset, true);
    v.setUint32(at + 12, length, true);
  };
  vndr(0x84, 0x70, 20, T.VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0);
  vndr(0x70, 0x60, 20, T.VIRTIO_PCI_CAP_NOTIFY_CFG, 4, 0x3000, 0x1000);
  v.setUint32(0x70 + 16, 4, true); // notify_off_multiplier
  vndr(0x60, 0x50, 16, T.VIRTIO_PCI_CAP_DEVICE_CFG, 4, 0x2000, 0x1000);
  vndr(0x50, 0x40, 16, T.VIRTIO_PCI_CAP_ISR_CFG, 4, 0x1000, 0x1000);
  vndr(0x40, 0x00, 16, T.VIRTIO_PCI_CAP_COMMON_CFG, 4, 0x0000, 0x1000);
  return c;
}

describe('virtio_pci_cap walk (virtio 1.2 §4.1.4)', () => {
  it('finds the common, notify, ISR, device and PCI-config structures with BAR, offset, length', () => {
    const caps = parseVirtioCaps(qemuLikeConfig());
    expect(caps.common).toEqual({ at: 0x40, cfgType: 1, bar: 4, offset: 0, length: 0x1000 });
    expect(caps.isr).toEqual({ at: 0x50, cfgType: 3, bar: 4, offset: 0x1000, length: 0x1000 });
    expect(caps.device).toEqual({ at: 0x60, cfgType: 4, bar: 4, offset: 0x2000, length: 0x1000 });
    expect(caps.notify).toEqual({ at: 0x70, cfgType: 2, bar: 4, offset: 0x3000, length: 0x1000, notifyOffMultiplier: 4 });
    expect(caps.pciCfg?.at).toBe(0x84);
    expect(caps.all).toHaveLength(5);
  });

  it('ignores a capability naming a reserved BAR and keeps the first usable one of a type', () => {
    const c = qemuLikeConfig();
    c[0x40 + 4] = 6; // reserved BAR value: the driver must ignore this capability
    const caps = parseVirtioCaps(c);
    expect(caps.common).toBeUndefined();
    expect(caps.all).toHaveLength(5);
  });

  it('stops on a loop in the list and returns nothing without a capability list', () => {
    const c = qemuLikeConfig();
    c[0x41] = 0x84; // common → PCI_CFG again: a loop
    expect(parseVirtioCaps(c).all).toHaveLength(5);
    c[6] = 0;
    expect(parseVirtioCaps(c).all).toEqual([]);
  });
});
