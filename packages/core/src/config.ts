// PCI configuration space through VFIO (region 7): exact-width reads and writes, the
// capability lists, and the Command register bits a driver needs (PCI Local Bus 3.0 §6.2.2).

import type { Region } from './vfio/region.js';
import { parseConfigSpace, type PciCapability, type PciConfigSpace } from './pci/config-space.js';

/** Command register (offset 0x04) bits. */
export const PCI_COMMAND = 0x04;
/** Command register bit 1, Memory Space Enable: the device decodes its memory BARs. */
export const PCI_COMMAND_MEMORY = 1 << 1; // Memory Space Enable
/** Command register bit 2, Bus Master Enable: the device may DMA. */
export const PCI_COMMAND_MASTER = 1 << 2; // Bus Master Enable: the device may DMA
/** Command register bit 10, Interrupt Disable: the device may not assert INTx. */
export const PCI_COMMAND_INTX_DISABLE = 1 << 10;

/**
 * PCI configuration space of a device (VFIO region 7): exact-width reads and writes, the parsed header and
 * capability lists, and the Command register bits a driver sets.
 */
export class ConfigSpace {
  constructor(readonly region: Region) {}

  /** Size of the config space in bytes (256 for PCI, 4096 for PCI Express). */
  get size(): number {
    return this.region.size;
  }
  /** Reads the byte at offset. */
  read8(offset: number): number {
    return this.region.read8(offset);
  }
  /** Reads the 16-bit value at offset. */
  read16(offset: number): number {
    return this.region.read16(offset);
  }
  /** Reads the 32-bit value at offset. */
  read32(offset: number): number {
    return this.region.read32(offset);
  }
  /** Writes a byte at offset. */
  write8(offset: number, v: number): void {
    this.region.write8(offset, v);
  }
  /** Writes a 16-bit value at offset. */
  write16(offset: number, v: number): void {
    this.region.write16(offset, v);
  }
  /** Writes a 32-bit value at offset. */
  write32(offset: number, v: number): void {
    this.region.write32(offset, v);
  }

  /** The first `length` bytes (256 for the legacy space, up to 4096 with PCIe extended space). */
  bytes(length = Math.min(this.size, 4096)): Uint8Array {
    const out = new Uint8Array(length);
    const view = new DataView(out.buffer);
    for (let off = 0; off + 4 <= length; off += 4) view.setUint32(off, this.read32(off), true);
    return out;
  }

  /** The header, capability list and extended capabilities, decoded (pci/config-space.ts). */
  parse(): PciConfigSpace {
    return parseConfigSpace(this.bytes());
  }

  /** The capability list (MSI, MSI-X, PCI Express, vendor-specific ...). */
  capabilities(): PciCapability[] {
    return this.parse().capabilities;
  }

  /** Sets Memory Space Enable and Bus Master Enable: the device may now decode its BARs and DMA. */
  enableBusMaster(): void {
    const cmd = this.read16(PCI_COMMAND);
    this.write16(PCI_COMMAND, cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
  }

  /**
   * Clears Bus Master Enable: the device may no longer DMA (it can issue no memory or I/O
   * request upstream, PCI Local Bus 3.0 §6.2.2; MSI/MSI-X messages are memory writes and
   * stop too). Memory Space Enable stays: the registers remain reachable.
   */
  disableBusMaster(): void {
    const cmd = this.read16(PCI_COMMAND);
    if (cmd & PCI_COMMAND_MASTER) this.write16(PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER);
  }

  /** Whether Bus Master Enable is set (the device may DMA). */
  get busMasterEnabled(): boolean {
    return (this.read16(PCI_COMMAND) & PCI_COMMAND_MASTER) !== 0;
  }
}
