import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePciIds, pciNames } from './names.js';

const SAMPLE = `# pci.ids excerpt
1af4  Red Hat, Inc.
	1000  Virtio network device
		1af4 0001  Virtio network device
	1041  Virtio 1.0 network device
1b36  Red Hat, Inc.
	0010  QEMU NVM Express Controller
8086  Intel Corporation
	abcd  Made-up Test Device
C 01  Mass storage controller
	08  Non-Volatile memory controller
		01  NVMHCI
		02  NVM Express
C 02  Network controller
	00  Ethernet controller
`;

describe('pci names', () => {
  it('parses pci.ids vendors, devices, classes and prog-ifs', () => {
    const t = parsePciIds(SAMPLE);
    expect(t.vendors.get(0x1af4)).toBe('Red Hat, Inc.');
    expect(t.devices.get(0x1af4)?.get(0x1000)).toBe('Virtio network device');
    expect(t.devices.get(0x1af4)?.size).toBe(2); // the subsystem line is not a device
    expect(t.classes.get(0x01)).toBe('Mass storage controller');
    expect(t.subclasses.get(0x0108)).toBe('Non-Volatile memory controller');
    expect(t.progIfs.get(0x010802)).toBe('NVM Express');
  });

  it('uses a pci.ids file and falls back to the built-in table for its gaps', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pciids-'));
    try {
      const f = join(dir, 'pci.ids');
      writeFileSync(f, SAMPLE);
      const n = pciNames(f);
      expect(n.source).toBe(`pci.ids ${f}`);
      expect(n.device(0x8086, 0xabcd)).toBe('Made-up Test Device');
      expect(n.device(0x8086, 0x29c0)).toBe('82G33/G31/P35/P31 Express DRAM Controller'); // built-in
      expect(n.className(0x020000)).toBe('Ethernet controller');
      expect(n.className(0x060400)).toBe('PCI bridge'); // built-in
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the built-in table names the lab devices and classes', () => {
    const n = pciNames(null);
    expect(n.source).toBe('builtin');
    expect(n.vendor(0x1b36)).toBe('Red Hat, Inc.');
    expect(n.device(0x1b36, 0x0010)).toBe('QEMU NVM Express Controller');
    expect(n.device(0x1af4, 0x1041)).toBe('Virtio 1.0 network device');
    expect(n.device(0x1af4, 0x1000)).toBe('Virtio network device');
    expect(n.className(0x010802)).toBe('Non-Volatile memory controller');
    expect(n.progIfName(0x010802)).toBe('NVM Express');
    expect(n.className(0x02ff00)).toBe('Network controller'); // unknown sub-class: the base class
    expect(n.className(0x420000)).toBeNull();
    expect(n.vendor(0xdead)).toBeNull();
    expect(n.device(0x1af4, 0xffff)).toBeNull();
  });
});
