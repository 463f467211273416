// A loopback exchange between two NICs on one link, used by the lab tests and by
// `vfio-node net selftest`: N frames of varied sizes from A to B, each carrying its
// index and a pattern derived from it, checked on arrival for order, length and bytes.

import type { VirtioNet } from '@vfio-node/virtio-net';

/** IEEE 802 local experimental EtherType: no stack on the link will act on these frames. */
export const ETHERTYPE_EXPERIMENTAL = 0x88b5;

export interface ExchangeResult {
  sent: number;
  received: number;
  outOfOrder: number;
  wrongLength: number;
  corrupt: number;
  /** The first problem seen, for the test's message. */
  firstProblem?: string;
  /** Times the receiver slept on its interrupt (msix mode). */
  waits: number;
  seconds: number;
}

/** Size of frame i: cycles through 60..maxFrame with a stride that hits both ends and odd lengths. */
export function frameSize(i: number, maxFrame: number): number {
  const span = maxFrame - 60 + 1;
  return 60 + ((i * 397) % span);
}

function patternByte(i: number, j: number): number {
  return (i * 31 + j * 7 + (j >> 8)) & 0xff;
}

/**
 * Sends n frames from a to b and checks each one that arrives. Polls both sides in one
 * loop, with at most `window` frames on the way; with interrupts (b opened with interrupts: 'msix'), sleeps on b's receive
 * vector when there is nothing to do. Stops when all n arrived or timeoutMs passed.
 */
export async function exchange(a: VirtioNet, b: VirtioNet, n: number, options: { timeoutMs?: number; interrupts?: boolean; batch?: number; window?: number } = {}): Promise<ExchangeResult> {
  const tx = a.txQueue(0);
  const rx = b.rxQueue(0);
  const maxFrame = tx.maxFrame;
  const batch = options.batch ?? 32;
  // Frames sent and not yet arrived, at most: a window below the receive ring's free
  // buffers keeps the receiver from being overrun (QEMU's hub reorders then).
  const window = options.window ?? Infinity;
  const r: ExchangeResult = { sent: 0, received: 0, outOfOrder: 0, wrongLength: 0, corrupt: 0, waits: 0, seconds: 0 };
  const start = performance.now();
  const deadline = start + (options.timeoutMs ?? 60_000);
  const problem = (s: string) => {
    r.firstProblem ??= s;
  };
  while (r.received < n && performance.now() < deadline) {
    let progress = 0;
    if (r.sent < n && r.sent - r.received < window) {
      const k = tx.reserve(Math.min(batch, n - r.sent, window - (r.sent - r.received)));
      for (let s = 0; s < k; s++) {
        const i = r.sent + s;
        const len = frameSize(i, maxFrame);
        const o = tx.frameOffset(tx.slots[s]!);
        const f = tx.frames;
        f.set(b.mac, o);
        f.set(a.mac, o + 6);
        f[o + 12] = ETHERTYPE_EXPERIMENTAL >> 8;
        f[o + 13] = ETHERTYPE_EXPERIMENTAL & 0xff;
        f[o + 14] = i >>> 24;
        f[o + 15] = (i >>> 16) & 0xff;
        f[o + 16] = (i >>> 8) & 0xff;
        f[o + 17] = i & 0xff;
        for (let j = 18; j < len; j++) f[o + j] = patternByte(i, j);
        tx.lengths[s] = len;
      }
      tx.commit(k);
      r.sent += k;
      progress += k;
    }
    const got = rx.receive(batch);
    for (let m = 0; m < got; m++) {
      const o = rx.offsets[m]!;
      const f = rx.frames;
      const len = rx.lengths[m]!;
      if (len < 18 || ((f[o + 12]! << 8) | f[o + 13]!) !== ETHERTYPE_EXPERIMENTAL) continue; // not ours
      const i = ((f[o + 14]! << 24) | (f[o + 15]! << 16) | (f[o + 16]! << 8) | f[o + 17]!) >>> 0;
      if (i !== r.received) {
        r.outOfOrder++;
        problem(`frame ${r.received} expected, frame ${i} arrived`);
      }
      const want = frameSize(i, maxFrame);
      if (len !== want) {
        r.wrongLength++;
        problem(`frame ${i}: ${len} bytes, sent ${want}`);
      } else {
        for (let j = 18; j < len; j++) {
          if (f[o + j] !== patternByte(i, j)) {
            r.corrupt++;
            problem(`frame ${i}: byte ${j} is ${f[o + j]}, sent ${patternByte(i, j)}`);
            break;
          }
        }
      }
      r.received++;
    }
    progress += got;
    if (options.interrupts && got === 0) {
      // The receiver has nothing: it sleeps on its vector (frames just sent will wake it).
      r.waits++;
      await b.wait(rx, 200);
    } else if (progress === 0) {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  r.seconds = (performance.now() - start) / 1000;
  return r;
}
