// fwd: forward frames between two ports in both directions (DPDK testpmd's io mode,
// ixy's fwd). Each received batch is copied word by word into the other port's
// transmit buffers and sent with one doorbell; what does not fit is dropped and counted.

import { copyFrame, VirtioNet, type RxQueue, type TxQueue, type VirtioNetOptions } from '@vfio-node/virtio-net';
import { RateMeter, type RateSample } from './rate.js';
import { parseIp, writeUdpFrame } from './frames.js';
import { BUSY, IDLE, runLoop, type LoopControl } from './loop.js';

/** What fwd() forwards between: the two NICs, the batch size, and the reporting callback. */
export interface FwdOptions extends LoopControl {
  /** PCI addresses of the two NICs. */
  addresses: [string, string];
  /** Frames taken per receive() call (default 64). */
  batch?: number;
  /** Like testpmd's --tx-first: send this many 64-byte frames on each port first (default 0). On a hub joining just the two ports they then circulate. */
  txFirst?: number;
  /** Options for VirtioNet.open. */
  driver?: VirtioNetOptions;
  /** Called about once a second with the forwarding rate. */
  report?: (s: RateSample) => void;
}

/** One direction of fwd(): from which port to which, and what was sent and dropped. */
export interface FwdDirection {
  from: string;
  to: string;
  packets: number;
  bytes: number;
  drops: number;
  mpps: number;
}

/** What fwd() forwarded in each direction, and for how long. */
export interface FwdResult {
  /** How long it ran, seconds. */
  seconds: number;
  /** What went each way: first to second, second to first. */
  directions: [FwdDirection, FwdDirection];
}

/** Moves up to batch frames from rx to tx; returns the number received. Drops (tx full) are added to drops.n. */
function forward(rx: RxQueue, tx: TxQueue, batch: number, drops: { n: number }): number {
  const n = rx.receive(batch);
  if (n === 0) return 0;
  const k = tx.reserve(n);
  for (let i = 0; i < k; i++) {
    const len = rx.lengths[i]!;
    copyFrame(rx.pool, rx.offsets[i]!, tx.pool, tx.frameOffset(tx.slots[i]!), len);
    tx.lengths[i] = len;
  }
  tx.commit(k);
  drops.n += n - k;
  return n;
}

/**
 * Forwards frames between two NICs in both directions (DPDK testpmd's io mode): each received batch is copied
 * into the other port's transmit buffers and sent with one doorbell; what does not fit is dropped and counted.
 */
export async function fwd(o: FwdOptions): Promise<FwdResult> {
  const batch = o.batch ?? 64;
  const a = VirtioNet.open(o.addresses[0], o.driver);
  let b: VirtioNet | undefined;
  try {
    b = VirtioNet.open(o.addresses[1], o.driver);
    const nb = b;
    const [rxA, txA, rxB, txB] = [a.rxQueue(0), a.txQueue(0), nb.rxQueue(0), nb.txQueue(0)];
    if (o.txFirst) {
      for (const [nic, peer] of [[a, nb], [nb, a]] as const) {
        const frame = new Uint8Array(64);
        writeUdpFrame(frame, 0, 64, { srcMac: nic.mac, dstMac: peer.mac, srcIp: parseIp('10.0.0.1'), dstIp: parseIp('10.0.0.2') });
        nic.send(Array.from({ length: o.txFirst }, () => frame));
      }
    }
    const dropsAB = { n: 0 };
    const dropsBA = { n: 0 };
    const start = performance.now();
    // Rates per direction: what the transmitting side sent.
    const meters = [new RateMeter(`${a.address}->${nb.address}`, 'tx', txB.stats, start), new RateMeter(`${nb.address}->${a.address}`, 'tx', txA.stats, start)];
    const step = (): number => {
      const n = forward(rxA, txB, batch, dropsAB) + forward(rxB, txA, batch, dropsBA);
      return n > 0 ? BUSY : IDLE;
    };
    const elapsed = await runLoop(step, {
      ...o,
      onSecond: (now) => {
        a.checkStatus();
        nb.checkStatus();
        for (const m of meters) o.report?.(m.sample(now));
      },
    });
    const seconds = elapsed / 1000;
    const dir = (from: VirtioNet, to: VirtioNet, tx: TxQueue, drops: { n: number }): FwdDirection => ({ from: from.address, to: to.address, packets: tx.stats.packets, bytes: tx.stats.bytes, drops: drops.n, mpps: tx.stats.packets / seconds / 1e6 });
    return { seconds, directions: [dir(a, nb, txB, dropsAB), dir(nb, a, txA, dropsBA)] };
  } finally {
    b?.close();
    a.close();
  }
}
