// count: receive and count frames, and check the sequence numbers pktgen writes:
// a gap is a loss, a step back a reordering (or a duplicate). Per batch, no per-packet
// allocation; in interrupt mode it sleeps on the queue's MSI-X vector when idle.

import { VirtioNet, type VirtioNetOptions } from '@vfio-node/virtio-net';
import { isPktgenFrame, readSeq } from './frames.js';
import { RateMeter, type RateSample } from './rate.js';
import { BUSY, IDLE, STOP, runLoop, type LoopControl } from './loop.js';

export interface CountOptions extends LoopControl {
  address: string;
  /** Stop after this many pktgen frames (default: unlimited). */
  count?: number;
  /** Stop when nothing arrived for this long once frames have arrived (default: never). */
  idleMs?: number;
  batch?: number;
  driver?: VirtioNetOptions;
  report?: (s: RateSample & { lost: number; reordered: number }) => void;
  /** Called once the device is up and receiving (a generator may start). */
  onReady?: (nic: VirtioNet) => void;
}

export interface CountResult {
  port: string;
  packets: number;
  bytes: number;
  /** pktgen frames among them. */
  sequenced: number;
  /** Frames missing from the sequence (gaps), and frames that came back in time. */
  lost: number;
  reordered: number;
  /** With a count: sequence numbers below it never seen, and seen more than once (exact, from a bitmap). */
  missing?: number;
  duplicates?: number;
  firstSeq: number;
  lastSeq: number;
  seconds: number;
  mpps: number;
  interrupts: number;
}

export async function count(o: CountOptions): Promise<CountResult> {
  const batch = o.batch ?? 64;
  const limit = o.count ?? Infinity;
  const nic = VirtioNet.open(o.address, o.driver);
  try {
    const rx = nic.rxQueue(0);
    const frames = rx.frames;
    const offsets = rx.offsets;
    const lengths = rx.lengths;
    let expected = -1;
    let firstSeq = -1;
    let sequenced = 0;
    let lost = 0;
    let reordered = 0;
    let lastSeen = performance.now();
    // With a count, one byte per expected sequence number (allocated once) says exactly
    // which arrived; the stream check above says in what order.
    const seen = Number.isFinite(limit) && limit <= 1 << 26 ? new Uint8Array(limit) : undefined;
    let distinct = 0;
    let duplicates = 0;
    let interrupts = 0;
    o.onReady?.(nic);
    const step = (): number => {
      const n = rx.receive(batch);
      if (n === 0) return o.idleMs !== undefined && sequenced > 0 && performance.now() - lastSeen > o.idleMs ? STOP : IDLE;
      for (let i = 0; i < n; i++) {
        const off = offsets[i]!;
        if (!isPktgenFrame(frames, off, lengths[i]!)) continue;
        const seq = readSeq(frames, off);
        sequenced++;
        if (seen && seq < limit) {
          if (seen[seq]) duplicates++;
          else {
            seen[seq] = 1;
            distinct++;
          }
        }
        if (expected < 0) {
          firstSeq = seq;
          lost += seq; // pktgen starts at 0: frames before the first one we saw are lost
        } else if (seq > expected) lost += seq - expected;
        else if (seq < expected) {
          reordered++;
          if (lost > 0) lost--;
          continue;
        }
        expected = seq + 1;
      }
      lastSeen = performance.now();
      return (seen ? distinct : sequenced) < limit ? BUSY : STOP;
    };
    const start = performance.now();
    const meter = new RateMeter(nic.address, 'rx', rx.stats, start);
    const msix = o.driver?.interrupts === 'msix';
    const elapsed = await runLoop(
      step,
      {
        ...o,
        onSecond: (now) => {
          nic.checkStatus();
          o.report?.({ ...meter.sample(now), lost, reordered });
        },
      },
      msix
        ? () => {
            interrupts++;
            return nic.wait(rx, 100);
          }
        : undefined,
    );
    const seconds = elapsed / 1000;
    const exact = seen ? { missing: limit - distinct, duplicates } : {};
    return { port: nic.address, packets: rx.stats.packets, bytes: rx.stats.bytes, sequenced, lost, reordered, firstSeq, lastSeq: expected - 1, seconds, mpps: rx.stats.packets / seconds / 1e6, interrupts, ...exact };
  } finally {
    nic.close();
  }
}
