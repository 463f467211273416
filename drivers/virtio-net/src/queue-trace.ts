// Tracing one network queue (issue 16, "watch the driver work"): every descriptor made
// available, decoded, with the virtio_net_hdr of each frame sent; every available ring
// update; every notification and, when the driver does not notify, why not (the device's
// avail_event or flags, §2.7.10; its event suppression structure, §2.8.10); every used
// entry taken (id, len) and the header of each frame received. Sections of virtio 1.2.
//
// A queue holds a QueueTrace only while tracing is on; its hot path then tests one field
// per call (RxQueue.receive, TxQueue.commit, reclaim, burst) and comes here. Nothing here
// is on the untraced path, so it may allocate and decode freely.

import type { Tracer, TraceKind } from '@vfio-node/core';
import { describeNetHdr, describePackedDesc, describeSplitDesc } from './decode.js';
import { VIRTIO_NET_HDR_SIZE } from './net-hdr.js';
import { PackedRing, RING_EVENT_FLAGS_DESC, RING_EVENT_FLAGS_DISABLE, VIRTQ_DESC_F_AVAIL } from './packed-ring.js';
import { vring_need_event, type Ring } from './ring.js';
import { SplitRing, VIRTQ_USED_F_NO_NOTIFY } from './split-ring.js';

/** The spec's name of virtqueue `vq` of a network device (§5.1.2): receiveq1 is 0, transmitq1 is 1, ... */
export function netQueueName(vq: number): string {
  return `${vq % 2 === 0 ? 'receiveq' : 'transmitq'}${(vq >> 1) + 1}`;
}

/** A decoder's text "… (§2.7.5)" as [text, section]: the section goes to the trace line's own field. */
export function splitSection(text: string): [string, string | undefined] {
  const m = / \((§[\d.]+)\)$/.exec(text);
  return m ? [text.slice(0, m.index), `virtio 1.2 ${m[1]}`] : [text, undefined];
}

const EVENT_FLAGS = ['ENABLE', 'DISABLE', 'DESC', '3 (reserved)'];

/**
 * Why a notification was or was not sent (§2.7.10 with VIRTIO_F_EVENT_IDX, else the
 * used ring's flags), given what the device had written. Pure: the lab trace and the unit
 * tests use it.
 */
export function splitNotifyReason(eventIdx: boolean, deviceWord: number, newIdx: number, oldIdx: number): { notify: boolean; why: string } {
  if (eventIdx) {
    const notify = vring_need_event(deviceWord, newIdx, oldIdx);
    return { notify, why: `avail_event=${deviceWord} ${notify ? 'in' : 'not in'} (old ${oldIdx}, new ${newIdx}]` };
  }
  const notify = (deviceWord & VIRTQ_USED_F_NO_NOTIFY) === 0;
  return { notify, why: `used.flags=${notify ? '0' : 'VIRTQ_USED_F_NO_NOTIFY'}` };
}

/** The same for a packed ring (§2.8.10), as PackedRing.publish decides with exactEvents off. */
export function packedNotifyReason(flags: number, offWrap: number): { notify: boolean; why: string } {
  const f = flags & 3;
  const desc = f === RING_EVENT_FLAGS_DESC ? ` off_wrap=${offWrap & 0x7fff} wrap=${offWrap >> 15} (notified: PackedRing.exactEvents is off)` : '';
  return { notify: f !== RING_EVENT_FLAGS_DISABLE, why: `device event flags=RING_EVENT_FLAGS_${EVENT_FLAGS[f]}${desc}` };
}

/** Traces one queue of one NIC (see the file's comment). Made by VirtioNet when tracing is on. */
export class QueueTrace {
  /** "receiveq1", "transmitq1", ... */
  readonly name: string;
  private readonly ringView: DataView;
  private readonly poolView: DataView;

  constructor(
    private readonly tracer: Tracer,
    private readonly who: string,
    readonly vq: number,
    private readonly ring: Ring,
    pool: Uint8Array,
    private readonly bufferSize: number,
    /** Where the doorbell is, for people ("BAR4+0x3004"). */
    private readonly doorbell: string,
    /** The queue's name in the specification; by default from vq (controlq is after the pairs, §5.1.2). */
    name = netQueueName(vq),
  ) {
    this.name = name;
    const bytes = ring instanceof SplitRing || ring instanceof PackedRing ? ring.bytes : new Uint8Array(0);
    this.ringView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.poolView = new DataView(pool.buffer, pool.byteOffset, pool.byteLength);
  }

  private emit(kind: TraceKind, decoded: string, section?: string): void {
    const [text, sec] = splitSection(decoded);
    this.tracer.emit(this.who, kind, `${this.name} ${text}`, section ?? sec);
  }

  /**
   * Publishes what was posted since the last publish and notifies when the device asked
   * for it, telling each step: the descriptors (and, `withHeaders`, each frame's
   * virtio_net_hdr), the available ring update, the notification or why there was none.
   */
  kick(notify: (vq: number) => void, withHeaders: boolean): void {
    const r = this.ring;
    let notified: boolean;
    let why: { notify: boolean; why: string };
    let section: string;
    if (r instanceof SplitRing) {
      const oldIdx = r.publishedIdx;
      const newIdx = r.availIdx;
      if (oldIdx === newIdx) return;
      this.describeAvailable(oldIdx, newIdx, withHeaders);
      notified = r.publish();
      this.emit('avail', `avail.idx <- ${newIdx} (${(newIdx - oldIdx) & 0xffff} new: ring[${oldIdx % r.size}..${(newIdx - 1) % r.size}])`, 'virtio 1.2 §2.7.13.3');
      why = this.splitReason(newIdx, oldIdx);
      section = r.eventIdx ? 'virtio 1.2 §2.7.10, §2.7.13.4' : 'virtio 1.2 §2.7.10';
    } else if (r instanceof PackedRing) {
      const s = r.inspect();
      if (s.batchCount === 0) return;
      for (let k = 0; k < s.batchCount; k++) {
        const i = (s.batchHead + k) % r.size;
        let view = this.ringView;
        let at = i;
        if (k === 0) {
          // Its flags are written last, at publish (§2.8.6): show what they will be.
          view = new DataView(r.bytes.slice(16 * i, 16 * i + 16).buffer);
          view.setUint16(14, s.batchHeadFlags, true);
          at = 0;
        }
        // The wrap counter it was posted with is its AVAIL bit (§2.8.1).
        const wrap = (view.getUint16(16 * at + 14, true) & VIRTQ_DESC_F_AVAIL) !== 0;
        this.emit('desc', describePackedDesc(view, 0, at, wrap).replace(/^desc\[0\]/, `desc[${i}]`));
        if (withHeaders) this.header(view.getUint16(16 * at + 12, true));
      }
      notified = r.publish();
      const after = r.inspect();
      this.emit('avail', `${s.batchCount} descriptor${s.batchCount === 1 ? '' : 's'} made available from desc[${s.batchHead}], its flags written last; next_avail=${after.nextAvail} wrap=${after.availWrap}`, 'virtio 1.2 §2.8.21');
      why = packedNotifyReason(after.deviceFlags, after.deviceOffWrap);
      section = 'virtio 1.2 §2.8.10, §2.8.21.3';
    } else {
      notified = r.publish();
      why = { notify: notified, why: 'ring of an unknown layout' };
      section = 'virtio 1.2 §2.9';
    }
    this.decision(notified, why, section, '');
    if (notified) notify(this.vq);
  }

  /** The descriptors of available ring entries [oldIdx, newIdx) of a split ring, and each frame's header. */
  private describeAvailable(oldIdx: number, newIdx: number, withHeaders: boolean): void {
    const r = this.ring as SplitRing;
    const l = r.layout;
    for (let i = oldIdx; i !== newIdx; i = (i + 1) & 0xffff) {
      const id = this.ringView.getUint16(l.avail + 4 + 2 * (i % r.size), true);
      this.emit('desc', describeSplitDesc(this.ringView, l, id));
      if (withHeaders) this.header(id);
    }
  }

  private header(id: number): void {
    if (id * this.bufferSize + VIRTIO_NET_HDR_SIZE > this.poolView.byteLength) return;
    this.emit('hdr', `buffer ${id}: ${describeNetHdr(this.poolView, id * this.bufferSize)}`, 'virtio 1.2 §5.1.6.2');
  }

  private splitReason(newIdx: number, oldIdx: number): { notify: boolean; why: string } {
    const r = this.ring as SplitRing;
    const l = r.layout;
    const word = r.eventIdx ? this.ringView.getUint16(l.used + 4 + 8 * r.size, true) : this.ringView.getUint16(l.used, true);
    return splitNotifyReason(r.eventIdx, word, newIdx, oldIdx);
  }

  /** The notification line: sent (to which doorbell) or skipped, and why. */
  private decision(notified: boolean, why: { notify: boolean; why: string }, section: string, note: string): void {
    // The device's word is read again for the trace; if it moved since the driver read it, say so.
    const moved = why.notify !== notified ? ' (the device changed it since the driver decided)' : '';
    if (notified) this.emit('notify', `notify: write ${this.vq} to ${this.doorbell}: ${why.why}${moved}${note}`, `${section}, §4.1.5.2`);
    else this.emit('notify', `notify skipped: ${why.why}${moved}${note}`, section);
  }

  /** A line of this queue's own (the control queue's command and ack). */
  note(kind: TraceKind, text: string, section: string): void {
    this.emit(kind, text, section);
  }

  /** Used entries taken by poll(): ids/lens[from, to), the last of them the newest. */
  used(ids: Uint16Array, lens: Uint32Array, from: number, to: number): void {
    const r = this.ring;
    const n = to - from;
    for (let k = 0; k < n; k++) {
      const id = ids[from + k]!;
      const len = lens[from + k]!;
      if (r instanceof SplitRing) {
        const pos = (r.lastUsedIdx - n + k) & 0xffff;
        this.emit('used', `used ring[${pos % r.size}] id=${id} len=${len} (used.idx ${(pos + 1) & 0xffff})`, 'virtio 1.2 §2.7.8, §2.7.14');
      } else {
        this.emit('used', `used desc id=${id} len=${len}`, 'virtio 1.2 §2.8.22');
      }
    }
  }

  /**
   * After RxQueue.receive took used entries ids/lens[from, to) and handed out `n` frames
   * (ids, offsets, lengths): the used entries, each frame's header, then the buffers given
   * back, the available ring update and the notification.
   */
  received(usedIds: Uint16Array, usedLens: Uint32Array, from: number, to: number, n: number, frameIds: Uint16Array, offsets: Uint32Array, lengths: Uint32Array, notify: (vq: number) => void): void {
    this.used(usedIds, usedLens, from, to);
    for (let i = 0; i < n; i++) {
      const at = offsets[i]! - VIRTIO_NET_HDR_SIZE;
      this.emit('hdr', `frame of ${lengths[i]} bytes in buffer ${frameIds[i]}: ${describeNetHdr(this.poolView, at)}`, 'virtio 1.2 §5.1.6.4');
    }
    this.kick(notify, false);
  }

  /** RxQueue.fill: every buffer made available at set-up, in one line (no notification before DRIVER_OK). */
  filled(count: number): void {
    const r = this.ring;
    const first = r instanceof SplitRing ? describeSplitDesc(this.ringView, r.layout, 0) : r instanceof PackedRing ? describePackedDesc(this.ringView, 0, 0, true) : '';
    const [text, section] = splitSection(first);
    this.tracer.emit(this.who, 'desc', `${this.name} ${count} receive buffers made available, the first: ${text}`, section);
    this.tracer.emit(this.who, 'avail', `${this.name} ${r instanceof SplitRing ? `avail.idx <- ${r.availIdx}` : `${count} descriptors made available`}; no notification before DRIVER_OK`, 'virtio 1.2 §5.1.5, §5.1.6.3');
  }

  /** RxQueue.start: the first notification, after DRIVER_OK. */
  started(): void {
    this.emit('notify', `notify: write ${this.vq} to ${this.doorbell}: the buffers made available before DRIVER_OK`, 'virtio 1.2 §5.1.5, §4.1.5.2');
  }

  /**
   * After the native transmit loop (split rings): what it did, from the ring it left behind
   * and its state ([availIdx, publishedIdx, lastUsedIdx, freeCount, notified, device word]):
   * the used entries it reclaimed, the descriptors and headers it posted, the avail.idx it
   * stored, and its notification decision with the device's word it read. An addon that
   * does not report the decision leaves state[4] at 0xffffffff: the word is then read back.
   */
  nativeBurst(oldLastUsed: number, oldAvail: number, oldPublished: number, state: Uint32Array): void {
    const r = this.ring as SplitRing;
    const l = r.layout;
    const newLastUsed = state[2]!;
    for (let i = oldLastUsed; i !== newLastUsed; i = (i + 1) & 0xffff) {
      const at = l.used + 4 + 8 * (i % r.size);
      this.emit('used', `used ring[${i % r.size}] id=${this.ringView.getUint32(at, true)} len=${this.ringView.getUint32(at + 4, true)} (used.idx ${(i + 1) & 0xffff}; reclaimed in C)`, 'virtio 1.2 §2.7.8, §2.7.14');
    }
    const newAvail = state[0]!;
    const newPublished = state[1]!;
    if (newAvail === oldAvail || newPublished === oldPublished) return;
    this.describeAvailable(oldAvail, newAvail, true);
    this.emit('avail', `avail.idx <- ${newPublished} (${(newPublished - oldPublished) & 0xffff} new, stored in C)`, 'virtio 1.2 §2.7.13.3');
    const section = r.eventIdx ? 'virtio 1.2 §2.7.10, §2.7.13.4' : 'virtio 1.2 §2.7.10';
    if (state.length >= 6 && state[4] !== 0xffffffff) {
      const why = splitNotifyReason(r.eventIdx, state[5]!, newPublished, oldPublished);
      this.decision(state[4] === 1, why, section, ' (decided in C)');
      state[4] = 0xffffffff;
    } else {
      const why = this.splitReason(newPublished, oldPublished);
      this.decision(why.notify, why, section, ' (decided in C; the device\'s word read back after the call, it may have moved since)');
    }
  }

  /** VirtioNet.wait: the queue asks for an interrupt at its next used buffer (§2.7.7, §2.8.10). */
  interruptsOn(): void {
    const r = this.ring;
    if (r instanceof SplitRing) {
      const l = r.layout;
      const text = r.eventIdx ? `used_event <- ${this.ringView.getUint16(l.avail + 4 + 2 * r.size, true)} (interrupt when used.idx passes it)` : 'avail.flags <- 0 (interrupts wanted)';
      this.emit('irq', `asks for an interrupt: ${text}`, 'virtio 1.2 §2.7.7');
    } else if (r instanceof PackedRing) {
      const s = r.inspect();
      this.emit('irq', `asks for an interrupt: driver event flags=RING_EVENT_FLAGS_${EVENT_FLAGS[s.driverFlags & 3]}${(s.driverFlags & 3) === RING_EVENT_FLAGS_DESC ? ` off_wrap=${s.driverOffWrap & 0x7fff} wrap=${s.driverOffWrap >> 15}` : ''}`, 'virtio 1.2 §2.8.10');
    }
  }
}
