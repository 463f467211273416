// The modern virtio PCI transport (virtio 1.2 §4.1.4, §4.1.5): the common
// configuration structure (status, features, queue set-up), the notification
// structure (doorbells), the ISR byte and the device-specific structure, each found
// through a virtio_pci_cap and reached through a BAR mapped by VFIO.

import type { Device, Region } from '@vfio-node/core';
import { type VirtioCap, type VirtioCaps } from './pci-caps.js';
import { CommonCfg, commonCfgNames, VIRTIO_MSI_NO_VECTOR } from './registers.js';
import { deviceStatusError, noCapability } from './errors.js';

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
    this.status = this.status | bits;
  }

  /** Throws ERR_VIRTIO_DEVICE_GONE or ERR_VIRTIO_NEEDS_RESET when device_status says so. */
  checkStatus(): number {
    const s = this.status;
    const err = deviceStatusError(this.dev.address, s);
    if (err) throw err;
    return s;
  }

  /**
   * §4.1.4.3.2: writing 0 to device_status resets the device; the driver MUST then
   * wait until device_status reads 0 before reinitializing. Returns false on timeout.
   */
  reset(timeoutMs = 1000): boolean {
    this.status = 0;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.status;
      if (s === 0) return true;
      if (s === 0xff || Date.now() > deadline) return false;
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
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  setDriverFeatures(f: bigint): void {
    const r = this.common.region;
    const b = this.common.base;
    r.write32(b + CommonCfg.driver_feature_select, 0);
    r.write32(b + CommonCfg.driver_feature, Number(f & 0xffffffffn));
    r.write32(b + CommonCfg.driver_feature_select, 1);
    r.write32(b + CommonCfg.driver_feature, Number(f >> 32n));
  }

  get numQueues(): number {
    return this.common.region.read16(this.common.base + CommonCfg.num_queues);
  }

  // ---- MSI-X (§4.1.5.1.2): write the vector, read it back; NO_VECTOR means refused ------

  setConfigVector(vector: number): number {
    this.common.region.write16(this.common.base + CommonCfg.msix_config, vector);
    return this.common.region.read16(this.common.base + CommonCfg.msix_config);
  }

  // ---- virtqueues (§4.1.5.1.3) ----------------------------------------------------------

  /** Selects vq and returns its maximum size (0: the queue does not exist). */
  queueMaxSize(vq: number): number {
    const r = this.common.region;
    r.write16(this.common.base + CommonCfg.queue_select, vq);
    return r.read16(this.common.base + CommonCfg.queue_size);
  }

  /**
   * Programs and enables queue vq (§4.1.5.1.3 steps 1-5): select it, write the size,
   * the three area addresses and the MSI-X vector (read back), read queue_notify_off,
   * then queue_enable = 1. Returns the vector the device kept.
   */
  setUpQueue(vq: number, size: number, desc: bigint, driver: bigint, device: bigint, vector: number): number {
    const r = this.common.region;
    const b = this.common.base;
    r.write16(b + CommonCfg.queue_select, vq);
    r.write16(b + CommonCfg.queue_size, size);
    write64(r, b + CommonCfg.queue_desc, desc);
    write64(r, b + CommonCfg.queue_driver, driver);
    write64(r, b + CommonCfg.queue_device, device);
    r.write16(b + CommonCfg.queue_msix_vector, vector);
    const kept = r.read16(b + CommonCfg.queue_msix_vector);
    // §4.1.4.4: the doorbell of a queue is at cap.offset + queue_notify_off × notify_off_multiplier.
    const notifyOff = r.read16(b + CommonCfg.queue_notify_off);
    this.doorbells[vq] = this.notifyWin.base + notifyOff * this.notifyOffMultiplier;
    r.write16(b + CommonCfg.queue_enable, 1);
    return vector === VIRTIO_MSI_NO_VECTOR ? VIRTIO_MSI_NO_VECTOR : kept;
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
