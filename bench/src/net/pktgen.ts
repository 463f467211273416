// pktgen: transmit fixed-size frames as fast as the device takes them (ixy's pktgen,
// DPDK's txonly). Every buffer of the transmit queue is filled once with the frame;
// per packet only the sequence number is written. Counting and reporting happen per
// batch and per second, never per packet.

import { VirtioNet, type VirtioNetOptions } from '@vfio-node/virtio-net';
import { MIN_FRAME, SEQ_OFFSET, parseIp, parseMac, writeUdpFrame } from './frames.js';
import { RateMeter, type RateSample } from './rate.js';
import { BUSY, IDLE, STOP, runLoop, type LoopControl } from './loop.js';

export interface PktgenOptions extends LoopControl {
  address: string;
  /** Frame size in bytes without FCS (default 64, from 60 to the MTU + 14). */
  size?: number;
  /** Frames to send (default: unlimited). */
  count?: number;
  /** Frames per batch (default 64). */
  batch?: number;
  /** Destination MAC (default 02:00:00:00:00:02, locally administered; the lab's NICs receive everything). */
  dstMac?: string;
  srcIp?: string;
  dstIp?: string;
  /** Driver options (interrupts, features, queue size). */
  driver?: VirtioNetOptions;
  /** Called once a second. */
  report?: (s: RateSample) => void;
}

export interface PktgenResult {
  port: string;
  size: number;
  packets: number;
  bytes: number;
  seconds: number;
  mpps: number;
  gbps: number;
  /** Batches that found no free buffer (the device or the peer pushed back). */
  fullRing: number;
  /** The transmit loop ran in C (split rings), not in JavaScript. */
  nativeTx: boolean;
  /** The ring layout negotiated. */
  ring: 'split' | 'packed';
}

export async function pktgen(o: PktgenOptions): Promise<PktgenResult> {
  const size = o.size ?? 64;
  const batch = o.batch ?? 64;
  const count = o.count ?? Infinity;
  const nic = VirtioNet.open(o.address, o.driver);
  try {
    const tx = nic.txQueue(0);
    if (!Number.isInteger(size) || size < MIN_FRAME || size > tx.maxFrame) {
      throw new RangeError(`--size must be an integer from ${MIN_FRAME} to ${tx.maxFrame} (MTU ${nic.mtu} + 14), got ${size}`);
    }
    // Fill every transmit buffer with the frame once.
    const spec = { srcMac: nic.mac, dstMac: parseMac(o.dstMac ?? '02:00:00:00:00:02'), srcIp: parseIp(o.srcIp ?? '10.0.0.1'), dstIp: parseIp(o.dstIp ?? '10.0.0.2') };
    for (let id = 0; id < tx.ring.size; id++) writeUdpFrame(tx.frames, tx.frameOffset(id), size, spec);
    for (let i = 0; i < tx.lengths.length; i++) tx.lengths[i] = size;

    const start = performance.now();
    const meter = new RateMeter(nic.address, 'tx', tx.stats, start);
    let seq = 0;
    let fullRing = 0;
    // One batch: reclaim, stamp the sequence numbers, post, publish, notify. In C on split
    // rings (TxQueue.burst, native/src/virtio_ring.cc): no JavaScript per packet.
    const step = (): number => {
      const want = count - seq < batch ? count - seq : batch;
      const k = tx.burst(want, size, SEQ_OFFSET, seq);
      if (k === 0) {
        fullRing++;
        return IDLE;
      }
      seq += k;
      return seq < count ? BUSY : STOP;
    };
    const msix = o.driver?.interrupts === 'msix';
    const elapsed = await runLoop(step, {
      ...o,
      onSecond: (now) => {
        nic.checkStatus();
        o.report?.(meter.sample(now));
      },
    }, msix ? () => nic.wait(tx, 100) : undefined);
    // Let the device finish what is in flight (the frames are counted as sent already).
    const deadline = performance.now() + 2000;
    while (tx.inFlight > 0 && performance.now() < deadline) {
      tx.reclaim();
      await new Promise((r) => setTimeout(r, 1));
    }
    const seconds = elapsed / 1000;
    return {
      port: nic.address,
      size,
      packets: tx.stats.packets,
      bytes: tx.stats.bytes,
      seconds,
      mpps: tx.stats.packets / seconds / 1e6,
      gbps: ((tx.stats.bytes + 24 * tx.stats.packets) * 8) / seconds / 1e9,
      fullRing,
      nativeTx: tx.nativeBurstEnabled,
      ring: nic.packed ? 'packed' : 'split',
    };
  } finally {
    nic.close();
  }
}
