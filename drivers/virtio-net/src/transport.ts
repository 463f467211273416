// The modern virtio PCI transport (virtio 1.2 §4.1.4, §4.1.5): the common
// configuration structure (status, features, queue set-up), the notification
// structure (doorbells), the ISR byte and the device-specific structure, each found
// through a virtio_pci_cap and reached through a BAR mapped by VFIO.

import type { Device, Region } from '@vfio-node/core';
import { type VirtioCap, type VirtioCaps } from './pci-caps.js';
import { CommonCfg, commonCfgNames, describeStatus, VIRTIO_MSI_NO_VECTOR } from './registers.js';
import { featureNames } from './features.js';
import { deviceStatusError, noCapability } from './errors.js';

/**
 * Where the transport sends its register accesses while someone watches (the trace, the
 * bring-up's step observer): the decoded text ("write device_status <- ACKNOWLEDGE (0x1)")
 * and the section that defines the register.
 */
export type RegisterSink = (text: string, section: string) => void;

/** Sections of virtio 1.2 for the common configuration's fields. */
const STATUS_SECTION = '§2.1, §4.1.4.3';
const FEATURE_SECTION = '§2.2, §4.1.4.3';
const MSIX_SECTION = '§4.1.5.1.2';
const QUEUE_SECTION = '§4.1.5.1.3';
const hex = (n: number | bigint): string => `0x${n.toString(16)}`;
const vector = (v: number): string => (v === VIRTIO_MSI_NO_VECTOR ? 'VIRTIO_MSI_NO_VECTOR (0xffff)' : String(v));
const featureList = (f: bigint): string => featureNames(f).join(' ') || 'none';

interface Window {
  region: Region;
  base: number;
  length: number;
}

export class VirtioPciTransport {
  private readonly common: Window;
  private readonly notifyWin: Window;
  private readonly notifyOffMultiplier: number;
  private readonly deviceCfg: Window | undefined;
  private readonly isrWin: Window | undefined;
  /** Doorbell offset (in notifyWin.region) by virtqueue index, filled by setUpQueue. */
  private readonly doorbells: number[] = [];
  /**
   * Register accesses of the bring-up and reset go here while set (VirtioNet sets it for
   * open() and close() when tracing or observing the steps). Doorbells are not traced
   * here: the queues trace them with the reason (queue-trace.ts).
   */
  regTrace: RegisterSink | null = null;

  constructor(
    private readonly dev: Device,
    caps: VirtioCaps,
  ) {
    if (!caps.common) throw noCapability(dev.address, 'VIRTIO_PCI_CAP_COMMON_CFG');
    if (!caps.notify || caps.notify.notifyOffMultiplier === undefined) throw noCapability(dev.address, 'VIRTIO_PCI_CAP_NOTIFY_CFG');
    this.common = this.window(caps.common);
    this.notifyWin = this.window(caps.notify);
    this.notifyOffMultiplier = caps.notify.notifyOffMultiplier;
    this.deviceCfg = caps.device ? this.window(caps.device) : undefined;
    this.isrWin = caps.isr ? this.window(caps.isr) : undefined;
    const names: Record<number, string> = {};
    for (const [off, name] of Object.entries(commonCfgNames)) names[this.common.base + Number(off)] = name;
    this.common.region.setRegisterNames(names);
  }

  private window(cap: VirtioCap): Window {
    const region = this.dev.bar(cap.bar);
    if (cap.offset + cap.length > region.size) throw noCapability(this.dev.address, `usable (cfg_type ${cap.cfgType} lies outside BAR${cap.bar})`);
    return { region, base: cap.offset, length: cap.length };
  }

  // ---- device_status (§2.1) ----------------------------------------------------------

  get status(): number {
    return this.common.region.read8(this.common.base + CommonCfg.device_status);
  }

  set status(v: number) {
    this.common.region.write8(this.common.base + CommonCfg.device_status, v);
  }

  /** Sets bits in device_status (the handshake only ever adds bits). */
  addStatus(bits: number): void {
    const before = this.status;
    const after = before | bits;
    if (this.regTrace !== null) {
      this.regTrace(`read device_status -> ${describeStatus(before)}`, STATUS_SECTION);
      this.regTrace(`write device_status <- ${describeStatus(after)}`, STATUS_SECTION);
    }
    this.status = after;
  }

  /** Throws ERR_VIRTIO_DEVICE_GONE or ERR_VIRTIO_NEEDS_RESET when device_status says so. */
  checkStatus(): number {
    const s = this.status;
    if (this.regTrace !== null) this.regTrace(`read device_status -> ${describeStatus(s)}`, STATUS_SECTION);
    const err = deviceStatusError(this.dev.address, s);
    if (err) throw err;
    return s;
  }

  /**
   * §4.1.4.3.2: writing 0 to device_status resets the device; the driver MUST then
   * wait until device_status reads 0 before reinitializing. Returns false on timeout.
   */
  reset(timeoutMs = 1000): boolean {
    const start = performance.now();
    if (this.regTrace !== null) this.regTrace('write device_status <- 0 (reset)', '§2.4, §4.1.4.3.2');
    this.status = 0;
    const deadline = Date.now() + timeoutMs;
    for (let reads = 1; ; reads++) {
      const s = this.status;
      if (s === 0 || s === 0xff || Date.now() > deadline) {
        if (this.regTrace !== null) this.regTrace(`read device_status -> ${describeStatus(s)} after ${reads} read${reads === 1 ? '' : 's'}, ${(performance.now() - start).toFixed(1)} ms`, '§4.1.4.3.2');
        return s === 0;
      }
    }
  }

  // ---- features (§4.1.4.3: two 32-bit halves through the *_select fields) -----------

  deviceFeatures(): bigint {
    const r = this.common.region;
    const b = this.common.base;
    r.write32(b + CommonCfg.device_feature_select, 0);
    const lo = r.read32(b + CommonCfg.device_feature);
    r.write32(b + CommonCfg.device_feature_select, 1);
    const hi = r.read32(b + CommonCfg.device_feature);
    if (this.regTrace !== null) {
      this.regTrace('write device_feature_select <- 0', FEATURE_SECTION);
      this.regTrace(`read device_feature -> ${hex(lo)} (bits 0-31: ${featureList(BigInt(lo))})`, FEATURE_SECTION);
      this.regTrace('write device_feature_select <- 1', FEATURE_SECTION);
      this.regTrace(`read device_feature -> ${hex(hi)} (bits 32-63: ${featureList(BigInt(hi) << 32n)})`, FEATURE_SECTION);
    }
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  setDriverFeatures(f: bigint): void {
    const r = this.common.region;
    const b = this.common.base;
    r.write32(b + CommonCfg.driver_feature_select, 0);
    r.write32(b + CommonCfg.driver_feature, Number(f & 0xffffffffn));
    r.write32(b + CommonCfg.driver_feature_select, 1);
    r.write32(b + CommonCfg.driver_feature, Number(f >> 32n));
    if (this.regTrace !== null) {
      this.regTrace('write driver_feature_select <- 0', FEATURE_SECTION);
      this.regTrace(`write driver_feature <- ${hex(f & 0xffffffffn)} (bits 0-31: ${featureList(f & 0xffffffffn)})`, FEATURE_SECTION);
      this.regTrace('write driver_feature_select <- 1', FEATURE_SECTION);
      this.regTrace(`write driver_feature <- ${hex(f >> 32n)} (bits 32-63: ${featureList(f & ~0xffffffffn)})`, FEATURE_SECTION);
    }
  }

  get numQueues(): number {
    return this.common.region.read16(this.common.base + CommonCfg.num_queues);
  }

  // ---- MSI-X (§4.1.5.1.2): write the vector, read it back; NO_VECTOR means refused ------

  setConfigVector(v: number): number {
    this.common.region.write16(this.common.base + CommonCfg.msix_config, v);
    const kept = this.common.region.read16(this.common.base + CommonCfg.msix_config);
    if (this.regTrace !== null) {
      this.regTrace(`write msix_config <- ${vector(v)}`, MSIX_SECTION);
      this.regTrace(`read msix_config -> ${vector(kept)}${v !== VIRTIO_MSI_NO_VECTOR && kept === VIRTIO_MSI_NO_VECTOR ? ' (refused)' : ''}`, MSIX_SECTION);
    }
    return kept;
  }

  // ---- virtqueues (§4.1.5.1.3) ----------------------------------------------------------

  /** Selects vq and returns its maximum size (0: the queue does not exist). */
  queueMaxSize(vq: number): number {
    const r = this.common.region;
    r.write16(this.common.base + CommonCfg.queue_select, vq);
    const max = r.read16(this.common.base + CommonCfg.queue_size);
    if (this.regTrace !== null) {
      this.regTrace(`write queue_select <- ${vq}`, QUEUE_SECTION);
      this.regTrace(`read queue_size -> ${max} (the largest queue the device takes${max === 0 ? ': 0, no such queue' : ''})`, QUEUE_SECTION);
    }
    return max;
  }

  /**
   * Programs and enables queue vq (§4.1.5.1.3 steps 1-5): select it, write the size,
   * the three area addresses and the MSI-X vector (read back), read queue_notify_off,
   * then queue_enable = 1. Returns the vector the device kept.
   */
  setUpQueue(vq: number, size: number, desc: bigint, driver: bigint, device: bigint, msixVector: number): number {
    const r = this.common.region;
    const b = this.common.base;
    r.write16(b + CommonCfg.queue_select, vq);
    r.write16(b + CommonCfg.queue_size, size);
    write64(r, b + CommonCfg.queue_desc, desc);
    write64(r, b + CommonCfg.queue_driver, driver);
    write64(r, b + CommonCfg.queue_device, device);
    r.write16(b + CommonCfg.queue_msix_vector, msixVector);
    const kept = r.read16(b + CommonCfg.queue_msix_vector);
    // §4.1.4.4: the doorbell of a queue is at cap.offset + queue_notify_off × notify_off_multiplier.
    const notifyOff = r.read16(b + CommonCfg.queue_notify_off);
    this.doorbells[vq] = this.notifyWin.base + notifyOff * this.notifyOffMultiplier;
    r.write16(b + CommonCfg.queue_enable, 1);
    const rt = this.regTrace;
    if (rt !== null) {
      rt(`write queue_select <- ${vq}`, QUEUE_SECTION);
      rt(`write queue_size <- ${size}`, QUEUE_SECTION);
      rt(`write queue_desc <- ${hex(desc)} (Descriptor Area)`, QUEUE_SECTION);
      rt(`write queue_driver <- ${hex(driver)} (Driver Area)`, QUEUE_SECTION);
      rt(`write queue_device <- ${hex(device)} (Device Area)`, QUEUE_SECTION);
      rt(`write queue_msix_vector <- ${vector(msixVector)}`, MSIX_SECTION);
      rt(`read queue_msix_vector -> ${vector(kept)}${msixVector !== VIRTIO_MSI_NO_VECTOR && kept === VIRTIO_MSI_NO_VECTOR ? ' (refused)' : ''}`, MSIX_SECTION);
      rt(`read queue_notify_off -> ${notifyOff} (doorbell at BAR${this.notifyWin.region.index}+${hex(this.doorbells[vq]!)}: cap.offset ${hex(this.notifyWin.base)} + ${notifyOff} × notify_off_multiplier ${this.notifyOffMultiplier})`, '§4.1.4.4');
      rt('write queue_enable <- 1', QUEUE_SECTION);
    }
    return msixVector === VIRTIO_MSI_NO_VECTOR ? VIRTIO_MSI_NO_VECTOR : kept;
  }

  /** Where virtqueue vq's doorbell is, for people: "BAR4+0x3004" (after setUpQueue). */
  doorbellName(vq: number): string {
    return `BAR${this.notifyWin.region.index}+${hex(this.doorbells[vq] ?? 0)}`;
  }

  /** The doorbell of virtqueue vq as the native transmit loop writes it, when the notification BAR is mapped as a whole. */
  nativeDoorbell(vq: number): { bar: ArrayBuffer; offset: number } | undefined {
    const m = this.notifyWin.region.mapping;
    const offset = this.doorbells[vq];
    return m && offset !== undefined ? { bar: m.buffer, offset } : undefined;
  }

  /** §4.1.5.2: the driver notifies by writing the 16-bit queue index to the queue's doorbell. */
  notify(vq: number): void {
    this.notifyWin.region.write16(this.doorbells[vq]!, vq);
  }

  // ---- ISR (§4.1.4.5) and the device-specific structure (§4.1.4.6) ----------------------

  /** Reads (and so clears) the ISR byte; 0 when the device has no ISR capability. */
  readIsr(): number {
    return this.isrWin ? this.isrWin.region.read8(this.isrWin.base) : 0;
  }

  get hasDeviceConfig(): boolean {
    return this.deviceCfg !== undefined;
  }

  /**
   * Reads the device-specific structure consistently (§2.5.1, §4.1.4.3.1): read
   * config_generation, read the fields, read it again, and retry until it did not change.
   */
  readDeviceConfig<T>(read: (cfg: { read8(o: number): number; read16(o: number): number; read32(o: number): number }) => T): T {
    const w = this.deviceCfg;
    if (!w) throw noCapability(this.dev.address, 'VIRTIO_PCI_CAP_DEVICE_CFG');
    const cfg = {
      read8: (o: number) => w.region.read8(w.base + o),
      read16: (o: number) => w.region.read16(w.base + o),
      read32: (o: number) => w.region.read32(w.base + o),
    };
    const gen = () => this.common.region.read8(this.common.base + CommonCfg.config_generation);
    for (let tries = 0; ; tries++) {
      const before = gen();
      const value = read(cfg);
      if (gen() === before || tries > 100) return value;
    }
  }
}

/** §4.1.3.1: 64-bit fields may be written as two 32-bit halves, low first. */
function write64(r: Region, offset: number, v: bigint): void {
  r.write32(offset, Number(v & 0xffffffffn));
  r.write32(offset + 4, Number(v >> 32n));
}
