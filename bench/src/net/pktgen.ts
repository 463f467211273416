// pktgen: transmit fixed-size frames as fast as the device takes them (ixy's pktgen,
// DPDK's txonly). Every buffer of the transmit queue is filled once with the frame;
// per packet only the sequence number is written. Counting and reporting happen per
// batch and per second, never per packet.
//
// With several queue pairs (`queues`), one batch goes to each transmit queue in turn; the
// sequence numbers are one series over all queues (each batch takes the next numbers), so
// a receiver's exact count (count --count N) still sees every number once. With `flows`,
// buffer i gets UDP source port PKTGEN_UDP_PORT + i mod flows: different flows, which a
// multiqueue receiver (RSS, the tun driver's flow hash) spreads over its receive queues.
// With `csumOffload`, every frame asks the device to fill in its UDP checksum
// (VIRTIO_NET_HDR_F_NEEDS_CSUM, virtio 1.2 §5.1.6.2).

import { VirtioNet, prepareChecksumOffload, type VirtioNetOptions } from '@vfio-node/virtio-net';
import { MIN_FRAME, PKTGEN_UDP_PORT, SEQ_OFFSET, parseIp, parseMac, writeUdpFrame } from './frames.js';
import { RateMeter, type RateSample } from './rate.js';
import { BUSY, IDLE, STOP, runLoop, type LoopControl } from './loop.js';

/**
 * What pktgen() sends: the NIC, frame size, count and batch, addresses, queues and flows, checksum offload, and
 * the reporting callback.
 */
export interface PktgenOptions extends LoopControl {
  /** PCI address of the NIC. */
  address: string;
  /** Frame size in bytes without FCS (default 64, from 60 to the MTU + 14). */
  size?: number;
  /** Frames to send (default: unlimited). */
  count?: number;
  /** Frames per batch (default 64). */
  batch?: number;
  /** Destination MAC (default 02:00:00:00:00:02, locally administered; the lab's NICs receive everything). */
  dstMac?: string;
  /** Source IPv4 address (default 10.0.0.1). */
  srcIp?: string;
  /** Destination IPv4 address (default 10.0.0.2). */
  dstIp?: string;
  /** Transmit queues (queue pairs) to send on (default 1; more needs VIRTIO_NET_F_MQ). */
  queues?: number;
  /** UDP flows (source ports) per queue (default 1). */
  flows?: number;
  /** Let the device compute each frame's UDP checksum (needs VIRTIO_NET_F_CSUM; default false: checksum 0). */
  csumOffload?: boolean;
  /** Driver options (interrupts, features, queue size). */
  driver?: VirtioNetOptions;
  /** Called once a second. */
  report?: (s: RateSample) => void;
}

/** What pktgen() sent: frames, bytes and the time it took. */
export interface PktgenResult {
  /** PCI address of the NIC. */
  port: string;
  /** Frame size in bytes, without FCS. */
  size: number;
  /** Frames sent. */
  packets: number;
  /** Bytes sent (frames only, no wire overhead). */
  bytes: number;
  /** How long it ran, seconds. */
  seconds: number;
  /** Million frames per second. */
  mpps: number;
  /** Gigabits per second on the wire (with preamble, FCS and gap: WIRE_OVERHEAD). */
  gbps: number;
  /** Batches that found no free buffer (the device or the peer pushed back). */
  fullRing: number;
  /** The transmit loop ran in C (split rings), not in JavaScript. */
  nativeTx: boolean;
  /** The ring layout negotiated. */
  ring: 'split' | 'packed';
  /** Frames sent on each transmit queue. */
  perQueue: number[];
  /** The frames asked the device for their UDP checksum. */
  csumOffload: boolean;
}

/**
 * Transmits fixed-size UDP frames with a sequence number as fast as the device takes them (ixy's pktgen), until
 * the count or the stop signal ends it.
 */
export async function pktgen(o: PktgenOptions): Promise<PktgenResult> {
  const size = o.size ?? 64;
  const batch = o.batch ?? 64;
  const count = o.count ?? Infinity;
  const queues = o.queues ?? 1;
  const flows = o.flows ?? 1;
  if (!Number.isInteger(queues) || queues < 1) throw new RangeError(`--queues must be a positive integer, got ${queues}`);
  if (!Number.isInteger(flows) || flows < 1 || flows > 0xffff - PKTGEN_UDP_PORT) throw new RangeError(`--flows must be an integer from 1 to ${0xffff - PKTGEN_UDP_PORT}, got ${flows}`);
  const nic = VirtioNet.open(o.address, { ...o.driver, queuePairs: queues });
  try {
    const txs = nic.tx;
    const maxFrame = txs[0]!.maxFrame;
    if (!Number.isInteger(size) || size < MIN_FRAME || size > maxFrame) {
      throw new RangeError(`--size must be an integer from ${MIN_FRAME} to ${maxFrame} (MTU ${nic.mtu} + 14), got ${size}`);
    }
    if (o.csumOffload && !nic.csumOffload) {
      throw new RangeError(`--csum-offload: ${nic.address} did not negotiate VIRTIO_NET_F_CSUM (the lab's hub backend has no checksum offload: use --nic backend=tap; and leave out --no-csum)`);
    }
    // Fill every transmit buffer of every queue with the frame once; with checksum offload,
    // the UDP checksum field holds the pseudo-header sum (the same for every frame: the
    // ports are covered by the device's sum, not by the pseudo-header).
    const spec = { srcMac: nic.mac, dstMac: parseMac(o.dstMac ?? '02:00:00:00:00:02'), srcIp: parseIp(o.srcIp ?? '10.0.0.1'), dstIp: parseIp(o.dstIp ?? '10.0.0.2') };
    let csumStart = 0;
    let csumOffset = 0;
    for (const tx of txs) {
      for (let id = 0; id < tx.ring.size; id++) {
        const off = tx.frameOffset(id);
        writeUdpFrame(tx.frames, off, size, { ...spec, srcPort: PKTGEN_UDP_PORT + (id % flows) });
        if (o.csumOffload) {
          const r = prepareChecksumOffload(tx.frames, off, size);
          csumStart = r >>> 16;
          csumOffset = r & 0xffff;
        }
      }
    }

    const start = performance.now();
    // The meter reads the sums of the queues' counters (once a second).
    const total = {
      get packets() {
        return txs.reduce((n, q) => n + q.stats.packets, 0);
      },
      get bytes() {
        return txs.reduce((n, q) => n + q.stats.bytes, 0);
      },
    };
    const meter = new RateMeter(nic.address, 'tx', total, start);
    let seq = 0;
    let fullRing = 0;
    let next = 0;
    // One batch: reclaim, stamp the sequence numbers, write the headers, post, publish,
    // notify. In C on split rings (TxQueue.burst, native/src/virtio_ring.cc): no JavaScript
    // per packet. With several queues, each step serves the next queue.
    const step = (): number => {
      const tx = txs[next]!;
      next = next + 1 === queues ? 0 : next + 1;
      const want = count - seq < batch ? count - seq : batch;
      const k = tx.burst(want, size, SEQ_OFFSET, seq, csumStart, csumOffset);
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
    }, msix ? () => nic.wait(txs[next]!, 100) : undefined);
    // Let the device finish what is in flight (the frames are counted as sent already).
    const deadline = performance.now() + 2000;
    while (txs.some((tx) => tx.inFlight > 0) && performance.now() < deadline) {
      for (const tx of txs) tx.reclaim();
      await new Promise((r) => setTimeout(r, 1));
    }
    const seconds = elapsed / 1000;
    return {
      port: nic.address,
      size,
      packets: total.packets,
      bytes: total.bytes,
      seconds,
      mpps: total.packets / seconds / 1e6,
      gbps: ((total.bytes + 24 * total.packets) * 8) / seconds / 1e9,
      fullRing,
      nativeTx: txs[0]!.nativeBurstEnabled,
      ring: nic.packed ? 'packed' : 'split',
      perQueue: txs.map((q) => q.stats.packets),
      csumOffload: !!o.csumOffload,
    };
  } finally {
    nic.close();
  }
}
