// What the network queues need from a virtqueue, whatever its layout: split (§2.7) or
// packed (§2.8) in virtio 1.2. A buffer is named by an id (0..size-1) that the queue
// owns; its device address is set once, and posting it afterwards is a few stores.
// Posting and publishing are apart so that a batch costs one barrier and at most one
// notification.

import { endianness } from 'node:os';

// The rings are little-endian (§2.7, §2.8: le16/le32/le64) and we write them through
// host-endian typed arrays for speed: refuse to run where the two differ.
if (endianness() !== 'LE') throw new Error('virtio-net: this driver writes virtqueues through host-endian typed arrays and needs a little-endian CPU');

/**
 * What the network queues need from a virtqueue, split (§2.7) or packed (§2.8): buffers named by id, posted and
 * published apart so that a batch costs one barrier and at most one notification.
 */
export interface Ring {
  /** Queue size: descriptors in the ring. */
  readonly size: number;
  /** Sets the device address of buffer `id` (IOVA as two 32-bit halves, no bigint on the hot path). */
  setBuffer(id: number, addrLo: number, addrHi: number): void;
  /** Makes buffer id available: len bytes, device-writable (receive) or device-readable (transmit). Invisible to the device until publish(). */
  post(id: number, len: number, writable: boolean): void;
  /** Makes a two-descriptor chain available: readId (device-readable, readLen bytes) then writeId (device-writable). For the control queue. */
  postChain(readId: number, readLen: number, writeId: number, writeLen: number): void;
  /** Publishes what post() added since the last publish; true when the device asked to be notified. */
  publish(): boolean;
  /** Moves up to max used buffers, in the order the device used them, into ids[at..at+n) and lens[at..at+n) (bytes the device wrote), returns n. */
  poll(ids: Uint16Array, lens: Uint32Array, max: number, at?: number): number;
  /** True when the device has used buffers that poll() has not taken yet. */
  pending(): boolean;
  /** Asks for an interrupt at the next used buffer. Returns pending() after the request, so that a buffer used in between is not missed. */
  enableInterrupts(): boolean;
  /** Asks the device not to interrupt (a hint: the device may still do it, §2.7.7). */
  disableInterrupts(): void;
  /** The IOVAs to write to queue_desc, queue_driver, queue_device. */
  readonly descIova: bigint;
  readonly driverIova: bigint;
  readonly deviceIova: bigint;
}

/**
 * §2.7.10 (and §2.8.10): with VIRTIO_F_EVENT_IDX, a notification is due when the
 * other side's event index lies in the window of indexes just published,
 * (old, new], all arithmetic modulo 2^16.
 */
export function vring_need_event(event_idx: number, new_idx: number, old_idx: number): boolean {
  return ((new_idx - event_idx - 1) & 0xffff) < ((new_idx - old_idx) & 0xffff);
}
