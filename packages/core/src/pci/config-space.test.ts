// Config spaces built by hand. The layouts are illustrative: plausible for QEMU's
// emulated NVMe (1b36:0010) and virtio-net (1af4:1041), not dumps of a real device.
import { describe, expect, it } from 'vitest';
import { PCI_CAP_ID, VIRTIO_PCI_CAP, decodeVirtioPciCap, findCapability, parseConfigSpace } from './config-space.js';

class Cfg {
  readonly b: Uint8Array;
  constructor(size: number) {
    this.b = new Uint8Array(size);
  }
  u8(o: number, v: number) {
    this.b[o] = v;
    return this;
  }
  u16(o: number, v: number) {
    this.b[o] = v & 0xff;
    this.b[o + 1] = (v >> 8) & 0xff;
    return this;
  }
  u32(o: number, v: number) {
    this.u16(o, v & 0xffff);
    this.u16(o + 2, (v >>> 16) & 0xffff);
    return this;
  }
  /** Standard header: vendor, device, class 0xCCSSPP, status with the capability list bit. */
  header(vendor: number, device: number, classCode: number, capPtr: number) {
    this.u16(0x00, vendor).u16(0x02, device).u16(0x04, 0x0000).u16(0x06, capPtr ? 0x0010 : 0);
    this.u8(0x08, 0x02).u8(0x09, classCode & 0xff).u8(0x0a, (classCode >> 8) & 0xff).u8(0x0b, classCode >> 16);
    this.u8(0x0e, 0x00).u8(0x34, capPtr).u8(0x3d, 1);
    return this;
  }
  cap(off: number, id: number, next: number) {
    return this.u8(off, id).u8(off + 1, next);
  }
  ext(off: number, id: number, version: number, next: number) {
    return this.u32(off, (id | (version << 16) | (next << 20)) >>> 0);
  }
}

function qemuNvme(size = 4096): Cfg {
  const c = new Cfg(size).header(0x1b36, 0x0010, 0x010802, 0x40);
  c.u32(0x10, 0xfebf0004).u32(0x14, 0x00000001); // BAR0: 64-bit memory at 0x1_febf0000
  c.u16(0x2c, 0x1af4).u16(0x2e, 0x1100);
  c.cap(0x40, PCI_CAP_ID.PM, 0x50).u16(0x42, 0x0003).u16(0x44, 0x0000);
  // MSI-X: Table Size field 64 → 65 vectors; table in BAR0 at 0x2000, PBA in BAR0 at 0x3000
  c.cap(0x50, PCI_CAP_ID.MSIX, 0x60).u16(0x52, 0x0040).u32(0x54, 0x00002000).u32(0x58, 0x00003000);
  // PCI Express v2 endpoint: FLR capable, MPS 128; link x1 at 2.5 GT/s
  c.cap(0x60, PCI_CAP_ID.EXP, 0x00).u16(0x62, 0x0002).u32(0x64, 0x10008000).u32(0x6c, 0x00000011).u16(0x72, 0x0011);
  if (size >= 4096) {
    c.ext(0x100, 0x0001, 2, 0x148); // Advanced Error Reporting
    c.ext(0x148, 0x0003, 1, 0x000); // Device Serial Number
  }
  return c;
}

describe('parseConfigSpace: an NVMe controller (illustrative QEMU layout)', () => {
  const cs = parseConfigSpace(qemuNvme().b);

  it('decodes the header and BARs', () => {
    expect(cs.header).toMatchObject({ vendorId: 0x1b36, deviceId: 0x0010, classCode: 0x010802, revisionId: 2, headerType: 0, multiFunction: false, subsystemVendorId: 0x1af4, subsystemId: 0x1100, interruptPin: 1 });
    expect(cs.header.bars[0]).toEqual({ index: 0, type: 'mem64', prefetchable: false, address: 0x1_febf_0000n });
    expect(cs.header.bars.map((b) => b.index)).toEqual([0, 2, 3, 4, 5]); // BAR1 is BAR0's upper half
  });

  it('walks PM → MSI-X → PCI Express', () => {
    expect(cs.capabilities.map((c) => [c.offset, c.id, c.name])).toEqual([
      [0x40, 0x01, 'PCI Power Management Interface'],
      [0x50, 0x11, 'MSI-X'],
      [0x60, 0x10, 'PCI Express'],
    ]);
    expect(cs.warnings).toEqual([]);
  });

  it('decodes MSI-X: 65 vectors, table BIR 0 offset 0x2000, PBA BIR 0 offset 0x3000', () => {
    expect(findCapability(cs, PCI_CAP_ID.MSIX)?.msix).toEqual({ enabled: false, functionMask: false, tableSize: 65, tableBir: 0, tableOffset: 0x2000, pbaBir: 0, pbaOffset: 0x3000 });
  });

  it('decodes PM and PCI Express', () => {
    expect(findCapability(cs, PCI_CAP_ID.PM)?.pm).toEqual({ version: 3, powerState: 0 });
    expect(findCapability(cs, PCI_CAP_ID.EXP)?.pcie).toEqual({
      version: 2,
      portType: 0,
      portTypeName: 'PCI Express Endpoint',
      flr: true,
      maxPayloadSupported: 128,
      maxLinkSpeed: 1,
      maxLinkWidth: 1,
      linkSpeed: 1,
      linkWidth: 1,
    });
  });

  it('walks the extended capabilities from 0x100', () => {
    expect(cs.extendedCapabilities).toEqual([
      { id: 0x0001, name: 'Advanced Error Reporting', version: 2, offset: 0x100, next: 0x148 },
      { id: 0x0003, name: 'Device Serial Number', version: 1, offset: 0x148, next: 0 },
    ]);
  });

  it('reads no extended capabilities from 256 bytes', () => {
    const short = parseConfigSpace(qemuNvme(256).b);
    expect(short.capabilities).toHaveLength(3);
    expect(short.extendedCapabilities).toEqual([]);
  });

  it('decodes MSI-X enable, function mask and a BIR other than 0', () => {
    const c = qemuNvme();
    c.u16(0x52, 0xc000 | 0x7ff).u32(0x54, 0x00010004).u32(0x58, 0x00018005);
    expect(findCapability(parseConfigSpace(c.b), PCI_CAP_ID.MSIX)?.msix).toEqual({ enabled: true, functionMask: true, tableSize: 2048, tableBir: 4, tableOffset: 0x10000, pbaBir: 5, pbaOffset: 0x18000 });
  });
});

describe('parseConfigSpace: MSI and a virtio-net device (illustrative QEMU layout)', () => {
  it('decodes MSI Message Control', () => {
    const c = new Cfg(256).header(0x8086, 0x10d3, 0x020000, 0xd0);
    c.cap(0xd0, PCI_CAP_ID.MSI, 0).u16(0xd2, 0x0181 | (2 << 1)); // enabled, 4 vectors capable, 64-bit, per-vector masking
    expect(findCapability(parseConfigSpace(c.b), PCI_CAP_ID.MSI)?.msi).toEqual({ enabled: true, vectors: 4, address64: true, perVectorMasking: true });
  });

  it('decodes each virtio_pci_cap', () => {
    const c = new Cfg(256).header(0x1af4, 0x1041, 0x020000, 0x98);
    c.cap(0x98, PCI_CAP_ID.MSIX, 0x84).u16(0x9a, 0x0002).u32(0x9c, 0x00000001).u32(0xa0, 0x00000801);
    const vcap = (off: number, next: number, len: number, type: number, bar: number, offset: number, length: number) => {
      c.cap(off, PCI_CAP_ID.VNDR, next).u8(off + 2, len).u8(off + 3, type).u8(off + 4, bar).u32(off + 8, offset).u32(off + 12, length);
    };
    vcap(0x84, 0x70, 16, VIRTIO_PCI_CAP.COMMON_CFG, 4, 0x0000, 0x1000);
    vcap(0x70, 0x60, 20, VIRTIO_PCI_CAP.NOTIFY_CFG, 4, 0x3000, 0x1000);
    c.u32(0x70 + 16, 4); // notify_off_multiplier
    vcap(0x60, 0x50, 16, VIRTIO_PCI_CAP.ISR_CFG, 4, 0x1000, 0x1000);
    vcap(0x50, 0x40, 16, VIRTIO_PCI_CAP.DEVICE_CFG, 4, 0x2000, 0x1000);
    vcap(0x40, 0x00, 20, VIRTIO_PCI_CAP.PCI_CFG, 0, 0, 0);
    const cs = parseConfigSpace(c.b);
    expect(cs.capabilities.map((x) => x.name)).toEqual(['MSI-X', 'Vendor Specific', 'Vendor Specific', 'Vendor Specific', 'Vendor Specific', 'Vendor Specific']);
    expect(cs.capabilities[0]!.msix).toMatchObject({ tableSize: 3, tableBir: 1, tableOffset: 0, pbaBir: 1, pbaOffset: 0x800 });
    expect(cs.capabilities.slice(1).map((x) => x.virtio)).toEqual([
      { cfgType: 1, cfgTypeName: 'VIRTIO_PCI_CAP_COMMON_CFG', bar: 4, id: 0, offset: 0x0000, length: 0x1000 },
      { cfgType: 2, cfgTypeName: 'VIRTIO_PCI_CAP_NOTIFY_CFG', bar: 4, id: 0, offset: 0x3000, length: 0x1000, notifyOffMultiplier: 4 },
      { cfgType: 3, cfgTypeName: 'VIRTIO_PCI_CAP_ISR_CFG', bar: 4, id: 0, offset: 0x1000, length: 0x1000 },
      { cfgType: 4, cfgTypeName: 'VIRTIO_PCI_CAP_DEVICE_CFG', bar: 4, id: 0, offset: 0x2000, length: 0x1000 },
      { cfgType: 5, cfgTypeName: 'VIRTIO_PCI_CAP_PCI_CFG', bar: 0, id: 0, offset: 0, length: 0 },
    ]);
    const notify = cs.capabilities[2]!;
    expect(notify.vendorLength).toBe(20);
    expect(Array.from(notify.bytes)).toEqual([0x09, 0x60, 20, 2, 4, 0, 0, 0, 0x00, 0x30, 0, 0, 0x00, 0x10, 0, 0, 4, 0, 0, 0]);
    expect(() => decodeVirtioPciCap(new Uint8Array(8))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
  });

  it('does not decode vendor caps of non-virtio vendors as virtio', () => {
    const c = new Cfg(256).header(0x8086, 0x1234, 0x020000, 0x40);
    c.cap(0x40, PCI_CAP_ID.VNDR, 0).u8(0x42, 16).u8(0x43, 1);
    const cap = parseConfigSpace(c.b).capabilities[0]!;
    expect(cap.virtio).toBeUndefined();
    expect(cap.bytes.length).toBe(16);
  });
});

describe('parseConfigSpace: broken lists', () => {
  it('stops at a cycle with a warning', () => {
    const c = new Cfg(256).header(0x1b36, 0x0010, 0x010802, 0x40);
    c.cap(0x40, PCI_CAP_ID.PM, 0x50).cap(0x50, PCI_CAP_ID.MSIX, 0x40);
    const cs = parseConfigSpace(c.b);
    expect(cs.capabilities.map((x) => x.offset)).toEqual([0x40, 0x50]);
    expect(cs.warnings).toEqual(['capability list loops back to 0x40']);
  });

  it('stops at a self-loop and at a pointer into the header', () => {
    const a = new Cfg(256).header(0x1b36, 0x0010, 0x010802, 0x40);
    a.cap(0x40, PCI_CAP_ID.PM, 0x40);
    expect(parseConfigSpace(a.b).warnings).toEqual(['capability list loops back to 0x40']);
    const b = new Cfg(256).header(0x1b36, 0x0010, 0x010802, 0x40);
    b.cap(0x40, PCI_CAP_ID.PM, 0x10);
    const cs = parseConfigSpace(b.b);
    expect(cs.capabilities).toHaveLength(1);
    expect(cs.warnings).toEqual(['capability pointer 0x10 is outside 0x40-0xff']);
  });

  it('ignores the pointer when Status bit 4 is clear, and the low two pointer bits', () => {
    const c = new Cfg(256).header(0x1b36, 0x0010, 0x010802, 0x40);
    c.cap(0x40, PCI_CAP_ID.PM, 0x53).cap(0x50, PCI_CAP_ID.MSIX, 0);
    expect(parseConfigSpace(c.b).capabilities.map((x) => x.offset)).toEqual([0x40, 0x50]);
    c.u16(0x06, 0);
    expect(parseConfigSpace(c.b).capabilities).toEqual([]);
  });

  it('stops an extended-capability cycle and an all-ones header', () => {
    const c = qemuNvme();
    c.ext(0x148, 0x0003, 1, 0x100);
    const cs = parseConfigSpace(c.b);
    expect(cs.extendedCapabilities.map((x) => x.offset)).toEqual([0x100, 0x148]);
    expect(cs.warnings).toEqual(['extended capability list loops back to 0x100']);
    const gone = new Uint8Array(4096).fill(0xff);
    gone.set(qemuNvme().b.subarray(0, 256));
    expect(parseConfigSpace(gone).extendedCapabilities).toEqual([]);
  });

  it('names unknown capabilities and rejects too little data', () => {
    const c = new Cfg(256).header(0x1b36, 0x0010, 0x010802, 0x40);
    c.cap(0x40, 0x7e, 0);
    expect(parseConfigSpace(c.b).capabilities[0]!.name).toBe('Unknown capability 0x7e');
    expect(() => parseConfigSpace(new Uint8Array(32))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
  });
});
