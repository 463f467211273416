// PCI addresses as Linux spells them in /sys/bus/pci/devices: `DDDD:BB:DD.F`, the
// segment (domain), bus, device and function in hex (PCI Local Bus 3.0 §3.2.2.3.1:
// 256 buses, 32 devices, 8 functions). `BB:DD.F` (lspci's short form) means domain 0.

import { invalidPciAddress } from '../errors.js';

/** Full form; the domain has 4 hex digits (more only on VMD-style synthetic domains). */
const FULL = /^([0-9a-f]{4,8}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-9a-f])$/i;
/** lspci's short form without the domain. */
const SHORT = /^([0-9a-f]{2}):([0-9a-f]{2})\.([0-9a-f])$/i;

/** One PCI function: segment (domain), bus, device, function. */
export class PciAddress {
  readonly domain: number;
  readonly bus: number;
  readonly device: number;
  readonly function: number;

  constructor(domain: number, bus: number, device: number, fn: number) {
    this.domain = domain;
    this.bus = bus;
    this.device = device;
    this.function = fn;
  }

  /** Parses `DDDD:BB:DD.F` or `BB:DD.F` (case-insensitive); throws ERR_INVALID_PCI_ADDRESS. */
  static parse(text: string): PciAddress {
    return parsePciAddress(text);
  }

  /** Canonical form: `0000:00:03.0` (lower-case hex, zero-padded), as sysfs names it. */
  toString(): string {
    return formatPciAddress(this.domain, this.bus, this.device, this.function);
  }

  /** The canonical form, for JSON.stringify. */
  toJSON(): string {
    return this.toString();
  }

  /** True when other (an address or its text) names the same function. */
  equals(other: PciAddress | string): boolean {
    return this.toString() === toPciAddress(other).toString();
  }
}

/** What functions taking an address accept: a PciAddress or its text. */
export type PciAddressLike = PciAddress | string;

/**
 * Parses a PCI address.
 * @param text `DDDD:BB:DD.F` or `BB:DD.F`, hex, any case, surrounding spaces ignored.
 * @returns the address (domain 0 for the short form).
 * @throws VfioError ERR_INVALID_PCI_ADDRESS, the message shows the expected shape.
 */
export function parsePciAddress(text: string): PciAddress {
  if (typeof text !== 'string') throw invalidPciAddress(text, 'not a string');
  const s = text.trim();
  let domain = 0;
  let parts: string[];
  const full = FULL.exec(s);
  if (full) {
    domain = parseInt(full[1]!, 16);
    parts = full.slice(2, 5);
  } else {
    const short = SHORT.exec(s);
    if (!short) throw invalidPciAddress(text);
    parts = short.slice(1, 4);
  }
  const [bus, device, fn] = parts.map((p) => parseInt(p, 16)) as [number, number, number];
  if (device > 0x1f) throw invalidPciAddress(text, `device 0x${device.toString(16)} is above 1f`);
  if (fn > 7) throw invalidPciAddress(text, `function ${fn.toString(16)} is above 7`);
  return new PciAddress(domain, bus, device, fn);
}

/** True when text parses as a PCI address. */
export function isPciAddress(text: string): boolean {
  try {
    parsePciAddress(text);
    return true;
  } catch {
    return false;
  }
}

/** A PciAddress from either form; strings are parsed (and so validated). */
export function toPciAddress(addr: PciAddressLike): PciAddress {
  return addr instanceof PciAddress ? addr : parsePciAddress(addr);
}

/** The canonical text of an address given as a PciAddress or string. */
export function canonicalPciAddress(addr: PciAddressLike): string {
  return toPciAddress(addr).toString();
}

/** The canonical text of an address: `0000:00:03.0`. */
export function formatPciAddress(domain: number, bus: number, device: number, fn: number): string {
  const h = (v: number, w: number) => v.toString(16).padStart(w, '0');
  return `${h(domain, 4)}:${h(bus, 2)}:${h(device, 2)}.${fn.toString(16)}`;
}
