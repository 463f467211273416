// lab: --nvme none --nics 2 --nic backend=tap,queues=2 --hugepages 64
import { afterAll, describe, expect, it } from 'vitest';
import { Tracer, type TraceEvent } from '@vfio-node/core';
import { Feature, VirtioNet, VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM, completeChecksum, type RxQueue } from '@vfio-node/virtio-net';
import { PKTGEN_UDP_PORT, UDP_CSUM_GOOD, UDP_CSUM_NONE, get16, parseIp, readSeq, udpChecksumStatus, writeUdpFrame } from '../../bench/src/net/frames.js';
import { frameSize } from '../../bench/src/net/selftest.js';
import { count } from '../../bench/src/net/count.js';
import { pktgen } from '../../bench/src/net/pktgen.js';
import { labNics } from '../lab/lab-env.js';

// The lab's NICs sit on multi_queue vnet_hdr taps joined by a Linux bridge, in a network
// namespace of QEMU's own (packages/lab/src/netns.ts): the device offers two queue pairs and
// the checksum offloads. The host's tun driver picks the receive queue by the flow's hash
// (its key is random per host kernel boot), so the frames below vary their UDP source port over 32
// flows: all of them on one queue has a chance of 2^-31. Unlike QEMU's hub, the host drops
// frames a slow receiver cannot take (no back-pressure on the sender), so the exact tests
// keep at most WINDOW frames in flight.

const bit = (name: keyof typeof Feature) => 1n << BigInt(Feature[name]);
const WINDOW = 32;
const FLOWS = 32;
const SRC_IP = parseIp('10.0.0.1');
const DST_IP = parseIp('10.0.0.2');

const pattern = (i: number, j: number) => (i * 31 + j * 7 + (j >> 8)) & 0xff;

interface Arrival {
  /** Sequence numbers seen (index i: 1 once, 2+ for duplicates). */
  seen: Uint8Array;
  perRx: number[];
  corrupt: number;
  wrongLength: number;
  /** Per frame: flags of its virtio_net_hdr OR-ed together, and the UDP checksum verdicts. */
  flagsSeen: number;
  csumGood: number;
  csumNone: number;
  csumBad: number;
  partial: number;
  dataValid: number;
  firstProblem?: string;
}

/**
 * Sends n UDP frames from a to b, frame i on transmit queue (i >> 3) mod 2, with a
 * source port from FLOWS ports, sizes 60 to 1514, and a pattern derived from i; keeps at
 * most WINDOW in flight; checks every frame that arrives on either receive queue of b. With
 * offload, each frame asks a's device for its UDP checksum; b completes partial checksums
 * (NEEDS_CSUM) and checks every checksum in software.
 */
async function send(a: VirtioNet, b: VirtioNet, n: number, offload: boolean, timeoutMs = 60_000): Promise<Arrival> {
  const r: Arrival = { seen: new Uint8Array(n), perRx: b.rx.map(() => 0), corrupt: 0, wrongLength: 0, flagsSeen: 0, csumGood: 0, csumNone: 0, csumBad: 0, partial: 0, dataValid: 0 };
  const problem = (s: string) => {
    r.firstProblem ??= s;
  };
  const maxFrame = a.txQueue(0).maxFrame;
  let sent = 0;
  let received = 0;
  const deadline = performance.now() + timeoutMs;
  while (received < n && performance.now() < deadline) {
    // Frames 8m to 8m + 7 go on transmit queue m mod 2: both queues carry half.
    const q = (sent >> 3) & 1;
    const tx = a.txQueue(q);
    const want = Math.min(8 - (sent & 7), n - sent, WINDOW - (sent - received));
    if (want > 0) {
      const k = tx.reserve(want);
      for (let s = 0; s < k; s++) {
        const i = sent + s;
        const len = frameSize(i, maxFrame);
        const o = tx.frameOffset(tx.slots[s]!);
        writeUdpFrame(tx.frames, o, len, { srcMac: a.mac, dstMac: b.mac, srcIp: SRC_IP, dstIp: DST_IP, srcPort: 1024 + (i % FLOWS) });
        tx.frames[o + 42] = i >>> 24; // the sequence number pktgen uses (readSeq)
        tx.frames[o + 43] = (i >>> 16) & 0xff;
        tx.frames[o + 44] = (i >>> 8) & 0xff;
        tx.frames[o + 45] = i & 0xff;
        for (let j = 46; j < len; j++) tx.frames[o + j] = pattern(i, j);
        tx.lengths[s] = len;
        if (offload) expect(tx.offloadChecksum(s)).toBe(true);
      }
      tx.commit(k);
      sent += k;
    }
    let got = 0;
    b.rx.forEach((rx: RxQueue, qi: number) => {
      const m = rx.receive(64);
      for (let x = 0; x < m; x++) {
        const o = rx.offsets[x]!;
        const len = rx.lengths[x]!;
        const f = rx.frames;
        if (len < 46 || get16(f, o + 36) !== PKTGEN_UDP_PORT) continue; // not ours
        const i = readSeq(f, o);
        if (i >= n) {
          problem(`frame number ${i} arrived, only ${n} were sent`);
          r.corrupt++;
          continue;
        }
        r.seen[i]!++;
        r.perRx[qi]!++;
        received++;
        got++;
        const want = frameSize(i, maxFrame);
        if (len !== want) {
          r.wrongLength++;
          problem(`frame ${i}: ${len} bytes, sent ${want}`);
          continue;
        }
        for (let j = 46; j < len; j++) {
          if (f[o + j] !== pattern(i, j)) {
            r.corrupt++;
            problem(`frame ${i}: byte ${j} is ${f[o + j]}, sent ${pattern(i, j)}`);
            break;
          }
        }
        const flags = rx.flags[x]!;
        r.flagsSeen |= flags;
        if (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
          r.partial++;
          if (rx.csumStart(x) !== 34 || rx.csumOffset(x) !== 6) problem(`frame ${i}: NEEDS_CSUM at ${rx.csumStart(x)} + ${rx.csumOffset(x)}, expected 34 + 6`);
          completeChecksum(f, o, len, rx.csumStart(x), rx.csumOffset(x));
        }
        if (flags & VIRTIO_NET_HDR_F_DATA_VALID) r.dataValid++;
        const c = udpChecksumStatus(f, o, len);
        if (c === UDP_CSUM_GOOD) r.csumGood++;
        else if (c === UDP_CSUM_NONE) r.csumNone++;
        else {
          r.csumBad++;
          problem(`frame ${i}: bad UDP checksum`);
        }
      }
    });
    if (got === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return r;
}

describe('virtio-net with two queue pairs and checksum offload, on tap backends joined by a bridge (lab --nic backend=tap,queues=2)', () => {
  const [addrA, addrB] = labNics();
  const open: VirtioNet[] = [];
  const nic = (address: string, o: Parameters<typeof VirtioNet.open>[1] = {}) => {
    const x = VirtioNet.open(address, o);
    open.push(x);
    return x;
  };
  const closeAll = () => {
    for (const x of open.splice(0)) x.close();
  };
  afterAll(closeAll);

  it('the device offers max_virtqueue_pairs 2 with MQ, CSUM and GUEST_CSUM, and the driver sets 2 pairs through the control queue', () => {
    for (const address of [addrA!, addrB!]) {
      const x = nic(address, { queuePairs: 2 });
      expect(x.maxQueuePairs).toBe(2);
      expect(x.queuePairs).toBe(2);
      expect([x.rx.length, x.tx.length]).toEqual([2, 2]);
      expect(x.rx.map((q) => q.vq)).toEqual([0, 2]); // receiveqN = 2N, transmitqN = 2N + 1 (§5.1.2)
      expect(x.tx.map((q) => q.vq)).toEqual([1, 3]);
      for (const name of ['VIRTIO_NET_F_MQ', 'VIRTIO_NET_F_CTRL_VQ', 'VIRTIO_NET_F_CSUM', 'VIRTIO_NET_F_GUEST_CSUM'] as const) {
        expect(x.features & bit(name), name).toBe(bit(name));
      }
      expect(x.csumOffload && x.guestCsum).toBe(true);
    }
    closeAll();
  });

  it('--trace shows the control queue command at open: VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET decoded, its descriptor, avail.idx, the notification, the used entry and the ack, in order', () => {
    const tracer = new Tracer({ keep: true, write: () => {} });
    const x = nic(addrA!, { queuePairs: 2, trace: tracer });
    const ev = tracer.events.filter((e) => e.who === x.address);
    const at = (kind: TraceEvent['kind'], text: RegExp, from: number) => ev.findIndex((e, i) => i >= from && e.kind === kind && text.test(e.text));
    const cmd = at('ctrl', /^controlq command: class VIRTIO_NET_CTRL_MQ \(4\), command VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET \(0\), virtqueue_pairs=2;/, 0);
    const desc = at('desc', /^controlq desc\[0\] addr=0x[0-9a-f]+ len=4 flags=NEXT/, cmd);
    const avail = at('avail', /^controlq avail\.idx <- 1 /, desc);
    const notify = at('notify', /^controlq notify(: write 4 to | skipped: )/, avail);
    const used = at('used', /^controlq used ring\[0\] id=0 len=1 /, notify);
    const ack = at('ctrl', /^controlq ack VIRTIO_NET_OK \(0\) after \d+ polls? of the used ring$/, used);
    expect(cmd).toBeGreaterThanOrEqual(0);
    expect([desc > cmd, avail > desc, notify > avail, used > notify, ack > used]).toEqual([true, true, true, true, true]);
    expect(ev[cmd]!.section).toBe('virtio 1.2 §5.1.6.5, §5.1.6.5.5');
    closeAll();
  });

  it('frames sent on transmit queue 0 and on transmit queue 1 of A all arrive at B, intact, spread over both of its receive queues', async () => {
    const a = nic(addrA!, { queuePairs: 2 });
    const b = nic(addrB!, { queuePairs: 2 });
    const n = 1200;
    const r = await send(a, b, n, false);
    expect(r.firstProblem).toBeUndefined();
    expect(r.seen.filter((s) => s === 1).length).toBe(n); // every frame once
    expect(r.seen.filter((s) => s > 1).length).toBe(0);
    expect(r.corrupt + r.wrongLength).toBe(0);
    expect(a.tx.map((q) => q.stats.packets)).toEqual([n / 2, n / 2]);
    expect(a.stats().txErrors + a.stats().txDrops + b.stats().rxErrors + b.stats().rxDrops).toBe(0);
    // The tun driver steers by flow hash: 32 flows land on both queues (the split is the hash's).
    console.log(`receive queues of B: ${r.perRx.join(' + ')} frames`);
    expect(r.perRx[0]).toBeGreaterThan(0);
    expect(r.perRx[1]).toBeGreaterThan(0);
    expect(r.perRx[0]! + r.perRx[1]!).toBe(n);
    // Sent without a checksum (0), carried as is.
    expect(r.csumNone).toBe(n);
    closeAll();
  });

  it('with MSI-X, each receive queue has its own vector: a waiter on queue 0 and one on queue 1 both wake when frames of 32 flows arrive', async () => {
    const a = nic(addrA!, { queuePairs: 2 });
    const b = nic(addrB!, { queuePairs: 2, interrupts: 'msix' });
    const waits = b.rx.map((rx) => b.wait(rx, 20_000));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const tx = a.txQueue(0);
    const k = tx.reserve(32);
    for (let i = 0; i < k; i++) {
      writeUdpFrame(tx.frames, tx.frameOffset(tx.slots[i]!), 60, { srcMac: a.mac, dstMac: b.mac, srcIp: SRC_IP, dstIp: DST_IP, srcPort: 1024 + i });
      tx.lengths[i] = 60;
    }
    tx.commit(k);
    const t0 = performance.now();
    expect(await Promise.all(waits)).toEqual([true, true]);
    expect(performance.now() - t0).toBeLessThan(10_000); // woken, not timed out
    let got = 0;
    const deadline = performance.now() + 5000;
    const per = [0, 0];
    while (got < 32 && performance.now() < deadline) {
      b.rx.forEach((rx, q) => {
        const m = rx.receive();
        per[q]! += m;
        got += m;
      });
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(got).toBe(32);
    expect(per[0]! > 0 && per[1]! > 0).toBe(true);
    closeAll();
  });

  it('a UDP frame sent with checksum offload (NEEDS_CSUM, pseudo-header sum) arrives with a correct checksum, verified in software by a receiver without GUEST_CSUM', async () => {
    const a = nic(addrA!, { queuePairs: 2 });
    const b = nic(addrB!, { queuePairs: 2, features: { csum: false } });
    expect(a.csumOffload).toBe(true);
    expect(b.guestCsum).toBe(false);
    // The driver leaves the checksum to the device: what it puts in the frame is the pseudo-header sum, not a valid checksum.
    const tx = a.txQueue(1);
    tx.reserve(1);
    const o = tx.frameOffset(tx.slots[0]!);
    writeUdpFrame(tx.frames, o, 100, { srcMac: a.mac, dstMac: b.mac, srcIp: SRC_IP, dstIp: DST_IP, srcPort: 999 });
    tx.lengths[0] = 100;
    expect(tx.offloadChecksum(0)).toBe(true);
    expect(udpChecksumStatus(tx.frames, o, 100)).not.toBe(UDP_CSUM_GOOD);
    tx.release();

    const n = 400;
    const r = await send(a, b, n, true);
    expect(r.firstProblem).toBeUndefined();
    expect(r.seen.filter((s) => s === 1).length).toBe(n);
    expect(r.flagsSeen).toBe(0); // §5.1.6.4: without GUEST_CSUM the device sets flags to zero
    expect(r.csumGood).toBe(n); // the host computed every one
    expect(r.csumBad + r.csumNone).toBe(0);
    closeAll();
  });

  it('with GUEST_CSUM on, the receiver sees NEEDS_CSUM (or DATA_VALID) in the header, and completing the partial checksum gives a correct one', async () => {
    const a = nic(addrA!, { queuePairs: 2 });
    const b = nic(addrB!, { queuePairs: 2 });
    expect(b.guestCsum).toBe(true);
    const n = 400;
    const r = await send(a, b, n, true);
    expect(r.firstProblem).toBeUndefined();
    expect(r.seen.filter((s) => s === 1).length).toBe(n);
    console.log(`GUEST_CSUM: ${r.partial} frames with NEEDS_CSUM, ${r.dataValid} with DATA_VALID`);
    expect(r.partial + r.dataValid).toBe(n); // every frame says its checksum is partial or checked
    expect(r.csumGood).toBe(n);
    expect(r.csumBad).toBe(0);
    closeAll();
  });

  it('a queue index at or above the pairs in use is refused by name, and nothing is sent; more pairs than the device has are refused at open', async () => {
    const a = nic(addrA!, { queuePairs: 2 });
    const b = nic(addrB!, { queuePairs: 2 });
    const frame = new Uint8Array(60);
    writeUdpFrame(frame, 0, 60, { srcMac: a.mac, dstMac: b.mac, srcIp: SRC_IP, dstIp: DST_IP });
    expect(() => a.send([frame], 2)).toThrow(expect.objectContaining({ code: 'ERR_VIRTIO_QUEUE_INDEX', message: expect.stringContaining('queue index 2 is out of range: this device was opened with 2 queue pairs (0 to 1)') }));
    expect(() => a.txQueue(5)).toThrow(expect.objectContaining({ code: 'ERR_VIRTIO_QUEUE_INDEX' }));
    expect(() => b.rxQueue(2)).toThrow(expect.objectContaining({ code: 'ERR_VIRTIO_QUEUE_INDEX' }));
    expect(a.stats().txPackets).toBe(0);
    const until = performance.now() + 500;
    let arrived = 0;
    while (performance.now() < until) {
      for (const rx of b.rx) arrived += rx.receive();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(arrived).toBe(0);
    // And the frame does go out on queue 1, to show the refusal was about the index.
    expect(a.send([frame], 1)).toBe(1);
    closeAll();

    let err: unknown;
    try {
      VirtioNet.open(addrA!, { queuePairs: 3 });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ERR_VIRTIO_QUEUE_PAIRS' });
    expect(String((err as Error).message)).toContain('3 queue pairs asked, the device offers 2');
  });

  it('pktgen --queues 2 --flows 32 --csum-offload into count --queues 2: both transmit and both receive queues carry frames, no bad checksum, no duplicate', async () => {
    const n = 6000;
    let ready!: () => void;
    const isReady = new Promise<void>((resolve) => (ready = resolve));
    // count stops when it has seen all n or after 3 s without frames once frames came:
    // the host drops what a slow receiver cannot take, so some may never come.
    const counting = count({ address: addrB!, queues: 2, count: n, idleMs: 3000, durationMs: 60_000, onReady: () => ready() });
    await isReady;
    const sent = await pktgen({ address: addrA!, queues: 2, flows: 32, count: n, csumOffload: true });
    const got = await counting;
    console.log(`pktgen per queue ${sent.perQueue.join(' + ')}; count per queue ${got.perQueue.join(' + ')}, missing ${got.missing}; checksums ${JSON.stringify(got.csum)}`);
    expect(sent.packets).toBe(n);
    expect(sent.perQueue.every((k) => k > 0)).toBe(true);
    expect(got.perQueue.every((k) => k > 0)).toBe(true);
    expect(got.duplicates).toBe(0);
    // The loss: pktgen does not wait for count, and the host's tap queues drop what count
    // has not taken yet (no back-pressure, unlike QEMU's hub). Measured in 8 runs of this
    // exchange in one lab, with two busy loops (yes > /dev/null) and other labs on the
    // 2-core host: 0, 0, 324, 170, 0, 171, 92 and 0 frames missing of 6000 (at most 5.4%),
    // all of them on one receive queue. The bound, a sixth (1000 frames), is three times
    // the worst seen; a receiver that stopped taking frames a sixth of the way before the
    // end, or one of the two queues going dead (about half the frames), fails it.
    expect(got.missing! + got.sequenced).toBe(n); // every frame either arrived once or is missing
    expect(got.missing).toBeLessThanOrEqual(n / 6);
    expect(got.csum.bad).toBe(0);
    expect(got.csum.none).toBe(0); // every frame asked the device for its checksum
    expect(got.csum.partial + got.csum.good).toBe(got.sequenced);
  });
});
