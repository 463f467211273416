// fio's null engine (engines/null.c): "doesn't transfer any data, just pretends to".
// Every I/O completes at the next poll. It measures the engine's own cost per I/O and
// lets one try options and output formats without a device; its numbers are about
// vfio-node's bookkeeping, never about storage.

import type { IoDirection, IoTarget } from './io-target.js';

export class NullTarget implements IoTarget {
  readonly blockSize = 512;
  readonly maxQueueDepth = 65535;
  readonly maxTransferBytes = 1 << 30;
  readonly name = 'null';
  private ring = new Uint32Array(0);
  private head = 0;
  private queued = 0;
  private ready = 0;

  constructor(readonly capacityBytes: number) {}

  allocSlots(slots: number, length: number): Uint8Array[] {
    this.ring = new Uint32Array(slots);
    return Array.from({ length: slots }, () => new Uint8Array(length));
  }

  submit(_dir: IoDirection, _offset: number, _length: number, slot: number): void {
    this.ring[(this.head + this.ready + this.queued++) % this.ring.length] = slot;
  }

  flush(): void {
    this.ready += this.queued;
    this.queued = 0;
  }

  poll(slots: Uint32Array, status: Int32Array, max: number): number {
    const n = Math.min(max, this.ready);
    for (let k = 0; k < n; k++) {
      slots[k] = this.ring[this.head]!;
      status[k] = 0;
      this.head = (this.head + 1) % this.ring.length;
    }
    this.ready -= n;
    return n;
  }

  close(): void {}
}
