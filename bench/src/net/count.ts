// count: receive and count frames, and check the sequence numbers pktgen writes
// (sequence.ts): a gap is a loss, a step back a reordering (or, without --count, a duplicate). Per batch, no per-packet
// allocation; in interrupt mode it sleeps on the queue's MSI-X vector when idle.
//
// With several queue pairs (`queues`) it polls every receive queue in turn and counts per
// queue. Frames of one sender then arrive through several queues, so the order between
// queues is lost: `lost`/`reordered` become estimates, `missing`/`duplicates` (with a
// count) stay exact. Every pktgen frame's UDP checksum is looked at: a frame that arrived
// with VIRTIO_NET_HDR_F_NEEDS_CSUM (partial checksum, §5.1.6.4) is counted as such; any
// other with a non-zero checksum is verified in software, so that a frame sent with
// checksum offload proves the device (here the host's tap and bridge) filled it in.

import { VirtioNet, VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM, type VirtioNetOptions } from '@vfio-node/virtio-net';
import { UDP_CSUM_BAD, UDP_CSUM_GOOD, isPktgenFrame, readSeq, udpChecksumStatus } from './frames.js';
import { RateMeter, type RateSample } from './rate.js';
import { BUSY, IDLE, STOP, runLoop, type LoopControl } from './loop.js';
import { SequenceCheck } from './sequence.js';

/** What count() listens to: the NIC, when to stop, the queues and driver options, and the reporting callbacks. */
export interface CountOptions extends LoopControl {
  /** PCI address of the NIC. */
  address: string;
  /** Stop after this many pktgen frames (default: unlimited). */
  count?: number;
  /** Stop when nothing arrived for this long once frames have arrived (default: never). */
  idleMs?: number;
  /** Frames taken per receive() call (default 64). */
  batch?: number;
  /** Receive queues (queue pairs) to poll (default 1; more needs VIRTIO_NET_F_MQ). */
  queues?: number;
  /** Options for VirtioNet.open. */
  driver?: VirtioNetOptions;
  /** Called about once a second with the receive rate and the losses and reorderings so far. */
  report?: (s: RateSample & { lost: number; reordered: number }) => void;
  /** Called once the device is up and receiving (a generator may start). */
  onReady?: (nic: VirtioNet) => void;
}

/** What count() received: frames and bytes, and what the sequence check found. */
export interface CountResult {
  /** PCI address of the NIC. */
  port: string;
  /** Frames received. */
  packets: number;
  /** Bytes received. */
  bytes: number;
  /** pktgen frames among them. */
  sequenced: number;
  /** Frames missing from the sequence (gaps not filled since). */
  lost: number;
  /** Frames that arrived after a higher number (RFC 4737: below NextExp). One queue to one queue, with a receiver that keeps up, it is 0. */
  reordered: number;
  /** With a count: sequence numbers below it never seen, and seen more than once (exact, from a bitmap). */
  missing?: number;
  /** With a count: sequence numbers seen more than once. */
  duplicates?: number;
  /** The first sequence number received (-1: none). */
  firstSeq: number;
  /** The highest sequence number received (-1: none). */
  lastSeq: number;
  /** How long it ran, seconds. */
  seconds: number;
  /** Million frames per second received. */
  mpps: number;
  /** MSI-X interrupts waited for (0 when polling). */
  interrupts: number;
  /** Frames received on each receive queue (all frames, pktgen's or not). */
  perQueue: number[];
  /** UDP checksums of pktgen frames (§5.1.6.4). */
  csum: CsumCounts;
}

export interface CsumCounts {
  /** Verified in software and correct. */
  good: number;
  /** Verified in software and wrong. */
  bad: number;
  /** Checksum field 0 (pktgen without --csum-offload). */
  none: number;
  /** Arrived with NEEDS_CSUM: a partial checksum, not verified (the data never left the host). */
  partial: number;
  /** Arrived with DATA_VALID: the device checked it (also verified in software). */
  dataValid: number;
}

/**
 * Receives and counts frames on a NIC, checking the sequence numbers pktgen writes (a gap is a loss, a step back
 * a reordering), until the count, the idle time or the stop signal ends it.
 */
export async function count(o: CountOptions): Promise<CountResult> {
  const batch = o.batch ?? 64;
  const limit = o.count ?? Infinity;
  const queues = o.queues ?? 1;
  if (!Number.isInteger(queues) || queues < 1) throw new RangeError(`--queues must be a positive integer, got ${queues}`);
  const nic = VirtioNet.open(o.address, { ...o.driver, queuePairs: queues });
  try {
    const rxs = nic.rx;
    const csum: CsumCounts = { good: 0, bad: 0, none: 0, partial: 0, dataValid: 0 };
    // With a count, a bitmap says exactly which numbers arrived; the stream check says in what order.
    const seq = new SequenceCheck(limit);
    let lastSeen = performance.now();
    let interrupts = 0;
    o.onReady?.(nic);
    let next = 0;
    let idleRound = 0;
    const step = (): number => {
      const rx = rxs[next]!;
      next = next + 1 === queues ? 0 : next + 1;
      const n = rx.receive(batch);
      if (n === 0) {
        // Idle only when a whole round over the queues found nothing.
        if (++idleRound < queues) return BUSY;
        idleRound = 0;
        return o.idleMs !== undefined && seq.frames > 0 && performance.now() - lastSeen > o.idleMs ? STOP : IDLE;
      }
      idleRound = 0;
      const frames = rx.frames;
      const offsets = rx.offsets;
      const lengths = rx.lengths;
      const flags = rx.flags;
      for (let i = 0; i < n; i++) {
        const off = offsets[i]!;
        const len = lengths[i]!;
        if (!isPktgenFrame(frames, off, len)) continue;
        const f = flags[i]!;
        if (f & VIRTIO_NET_HDR_F_NEEDS_CSUM) csum.partial++;
        else {
          if (f & VIRTIO_NET_HDR_F_DATA_VALID) csum.dataValid++;
          const c = udpChecksumStatus(frames, off, len);
          if (c === UDP_CSUM_GOOD) csum.good++;
          else if (c === UDP_CSUM_BAD) csum.bad++;
          else csum.none++;
        }
        seq.add(readSeq(frames, off));
      }
      lastSeen = performance.now();
      return seq.complete ? STOP : BUSY;
    };
    const start = performance.now();
    const total = {
      get packets() {
        return rxs.reduce((n, q) => n + q.stats.packets, 0);
      },
      get bytes() {
        return rxs.reduce((n, q) => n + q.stats.bytes, 0);
      },
    };
    const meter = new RateMeter(nic.address, 'rx', total, start);
    const msix = o.driver?.interrupts === 'msix';
    const elapsed = await runLoop(
      step,
      {
        ...o,
        onSecond: (now) => {
          nic.checkStatus();
          o.report?.({ ...meter.sample(now), lost: seq.lost, reordered: seq.reordered });
        },
      },
      msix
        ? () => {
            interrupts++;
            // One queue's vector at a time: with several queues, a short wait, then the next queue's turn.
            return nic.wait(rxs[next]!, queues > 1 ? 10 : 100);
          }
        : undefined,
    );
    const seconds = elapsed / 1000;
    const exact = seq.missing !== undefined ? { missing: seq.missing, duplicates: seq.duplicates } : {};
    return {
      port: nic.address,
      packets: total.packets,
      bytes: total.bytes,
      sequenced: seq.frames,
      lost: seq.lost,
      reordered: seq.reordered,
      firstSeq: seq.firstSeq,
      lastSeq: seq.lastSeq,
      seconds,
      mpps: total.packets / seconds / 1e6,
      interrupts,
      perQueue: rxs.map((q) => q.stats.packets),
      csum,
      ...exact,
    };
  } finally {
    nic.close();
  }
}
