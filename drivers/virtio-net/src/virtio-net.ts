// The virtio network device (virtio 1.2 §5.1) over the modern PCI transport (§4.1),
// driven from userspace through VFIO. open() is the initialization sequence of §3.1.1,
// one step per comment; the queues (queue.ts) are the hot path.

import { EventEmitter } from 'node:events';
import { Device, Tracer, native, toPciAddress, type PciAddressLike, type DeviceOptions, type TraceOption, type Vector, VfioError } from '@vfio-node/core';
import { parseVirtioCaps, type VirtioCaps } from './pci-caps.js';
import { VirtioPciTransport } from './transport.js';
import { DeviceStatus, NetConfig, VIRTIO_MSI_NO_VECTOR, VIRTIO_NET_S_LINK_UP, describeStatus } from './registers.js';
import { featureNames, has, negotiate, type FeatureOptions } from './features.js';
import { SplitRing, splitLayout } from './split-ring.js';
import { PackedRing, packedLayout } from './packed-ring.js';
import type { Ring } from './ring.js';
import { PacketPool, RxQueue, TxQueue, mergeSlot, type QueueStats } from './queue.js';
import { VIRTIO_NET_HDR_SIZE } from './net-hdr.js';
import * as errors from './errors.js';
import { BringupWatch, type BringupObserver } from './bringup.js';
import { QueueTrace, netQueueName } from './queue-trace.js';

const VIRTIO_VENDOR_ID = 0x1af4;
/** §4.1.2.1: 0x1040 + device ID (1 = network card); 0x1000 is the transitional network device. */
const VIRTIO_NET_PCI_IDS = [0x1041, 0x1000];

/** Control queue (§5.1.6.5): class VIRTIO_NET_CTRL_MQ, command VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET. */
const VIRTIO_NET_CTRL_MQ = 4;
const VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET = 0;
const VIRTIO_NET_OK = 0;

/**
 * Receive buffer size with VIRTIO_NET_F_MRG_RXBUF: header + a 1514-byte frame, rounded up
 * to 64 (Linux's GOOD_PACKET_LEN is the same frame). Larger frames take several buffers.
 */
const RX_MERGEABLE_BUFFER = 1536;
/** Frames of the largest size the merge area holds at once: receive() hands out at most this many put-together frames per call. */
const MERGE_AREA_FRAMES = 16;

/** Addresses of the NICs open in this process. */
const openDevices = new Set<string>();

/**
 * Options of VirtioNet.open(): queue pairs and size, MTU, interrupts or polling, the features to ask for, and
 * the device options.
 */
export interface VirtioNetOptions {
  /** Queue pairs to use (default 1; more needs VIRTIO_NET_F_MQ). */
  queuePairs?: number;
  /** Descriptors per queue (default 256, at most the device's maximum; a power of 2 for split rings). */
  queueSize?: number;
  /**
   * The MTU to use: frames of up to mtu + 14 bytes are sent and received. Default: the
   * device's mtu with VIRTIO_NET_F_MTU, else 1500. At most the device's mtu when it reports
   * one (§5.1.4.2); without VIRTIO_NET_F_MTU the device sets no limit, so a larger MTU
   * (jumbo frames, 9000) is the application's promise about its network. Receive buffers
   * stay 1536 bytes with VIRTIO_NET_F_MRG_RXBUF (larger frames come in several, put
   * together by RxQueue.receive); without it each receive buffer holds a whole frame.
   */
  mtu?: number;
  /** 'poll' (default): the application polls; 'msix': one MSI-X vector for configuration changes and one per queue. */
  interrupts?: 'poll' | 'msix';
  /** Optional features, each used when offered unless set to false. */
  features?: FeatureOptions;
  /** Refuse a device without VIRTIO_F_ACCESS_PLATFORM (default true: without it the device ignores the IOMMU and our IOVAs). */
  requireAccessPlatform?: boolean;
  /** TxQueue.burst() in C on split rings (default true; false: the same work in JavaScript, for comparison). */
  nativeTx?: boolean;
  /** Options for Device.open. */
  device?: DeviceOptions;
  /**
   * Trace what the driver does with the device, decoded, with the sections of virtio 1.2:
   * the bring-up's register accesses, every descriptor made available (with each frame's
   * virtio_net_hdr), available ring update, notification or its suppression, used entry
   * and interrupt. true (text on stderr), 'json' (JSON lines), or a Tracer. Default: the
   * VFIO_NODE_TRACE environment variable (`vfio-node --trace`), else off. Off, the queues
   * pay one test of a null field per call.
   */
  trace?: TraceOption;
  /**
   * Called at the end of each step of the bring-up (virtio 1.2 §3.1.1), with what the
   * specification says, the register accesses the step made and what the device answered
   * (`vfio-node net bringup --explain`). It may block (wait for Enter). Default: none.
   */
  onStep?: BringupObserver;
}

/** Counters of a NIC, summed over its queues. */
export interface NetStats {
  rxPackets: number;
  rxBytes: number;
  rxDrops: number;
  rxErrors: number;
  txPackets: number;
  txBytes: number;
  txDrops: number;
  txErrors: number;
}

/**
 * The events of a VirtioNet (a typed EventEmitter), the same shape as NvmeController's.
 * Listeners run synchronously; one that throws is logged and does not stop the others.
 *
 * - `'error'` (err): the device failed on its own: ERR_VIRTIO_NEEDS_RESET (it set
 *   DEVICE_NEEDS_RESET in device_status, virtio 1.2 §2.1.1: its queues stopped, close and
 *   reopen it) or ERR_VIRTIO_DEVICE_GONE (device_status reads all ones: surprise removal,
 *   Memory Space Enable cleared). Once per NIC. Without a listener it is logged, not thrown
 *   (Node's convention would end the process from a timer).
 * - `'removal'` (err, ERR_VIRTIO_DEVICE_GONE): the kernel asks for the device back (hot
 *   unplug, unbind); the NIC closes itself in the next turn of the event loop, which lets
 *   the kernel finish. Stop using its queues.
 * - `'linkChange'` ({ linkUp }): the link status (VIRTIO_NET_F_STATUS) changed.
 *
 * The device is watched by a timer (every 250 ms, unref'd: it keeps no process alive) that
 * reads device_status and the link status, and in msix mode also on each configuration
 * change interrupt (§4.1.5.3), which QEMU raises when it sets DEVICE_NEEDS_RESET.
 */
export interface VirtioNetEvents {
  error: [err: VfioError];
  removal: [err: VfioError];
  linkChange: [event: { linkUp: boolean }];
}

/** How often the watch reads device_status and the link status, ms. */
const WATCH_MS = 250;

/**
 * A virtio network device driven from userspace through VFIO (modern PCI transport, virtio 1.2 §5.1):
 * VirtioNet.open(address) negotiates features and sets up the queue pairs; rxQueue(i) and txQueue(i) are the hot
 * path. An EventEmitter: see VirtioNetEvents.
 */
export class VirtioNet extends EventEmitter<VirtioNetEvents> implements Disposable {
  readonly device: Device;
  readonly address: string;
  /** The features both sides agreed on. */
  readonly features: bigint;
  /** The device's MAC address (from the config with VIRTIO_NET_F_MAC, else a locally administered one we made up). */
  readonly mac: Uint8Array;
  readonly mtu: number;
  readonly rx: readonly RxQueue[];
  readonly tx: readonly TxQueue[];
  readonly packed: boolean;
  readonly eventIdx: boolean;
  /** max_virtqueue_pairs from the device configuration (§5.1.4); 1 without VIRTIO_NET_F_MQ. */
  readonly maxQueuePairs: number;
  /** Queue pairs in use (set with VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET at open when MQ was negotiated). */
  readonly queuePairs: number;
  /** VIRTIO_NET_F_CSUM negotiated: transmit queues may ask the device for checksums (TxQueue.offloadChecksum). */
  readonly csumOffload: boolean;
  /** VIRTIO_NET_F_GUEST_CSUM negotiated: received frames may come with NEEDS_CSUM or DATA_VALID (RxQueue.flags). */
  readonly guestCsum: boolean;
  /** MSI-X vectors by virtqueue index (msix mode), and the configuration vector. */
  private readonly queueVectors: Array<Vector | undefined> = [];
  private configVector: Vector | undefined;
  private readonly transport: VirtioPciTransport;
  private readonly memory: Array<{ release(): void }> = [];
  private isClosed = false;
  /** The watch of device_status and link (see VirtioNetEvents), until close or the first 'error'. */
  private watchTimer: NodeJS.Timeout | null = null;
  private stopConfigWatch: (() => void) | null = null;
  private stopRemovalWatch: (() => void) | null = null;
  private failed = false;
  private lastLinkUp = true;
  /** The tracer when tracing is on (see the trace option), else null. */
  private readonly tracer: Tracer | null;

  /**
   * Opens the NIC at address (bound to vfio-pci) and brings it up (§3.1.1).
   * @throws VfioError ERR_VIRTIO_NOT_NET, ERR_VIRTIO_NO_CAPABILITY, ERR_VIRTIO_FEATURES,
   *   ERR_VIRTIO_STATUS, ERR_VIRTIO_QUEUE_UNAVAILABLE, ERR_VIRTIO_MSIX, ERR_INVALID_ARG, and Device.open's errors
   */
  static open(address: PciAddressLike, options: VirtioNetOptions = {}): VirtioNet {
    checkOptions(options);
    // VFIO lets one process open a device twice; two drivers on one ring would corrupt each other.
    const canonical = toPciAddress(address).toString();
    if (openDevices.has(canonical)) {
      throw new VfioError({ code: 'ERR_VIRTIO_BUSY', message: `${canonical} is already open in this process`, hint: 'Use the VirtioNet you have, or close it first.', device: canonical });
    }
    const dev = Device.open(address, options.device);
    try {
      const nic = new VirtioNet(dev, options);
      openDevices.add(dev.address);
      return nic;
    } catch (err) {
      dev.close();
      throw err;
    }
  }

  private constructor(dev: Device, options: VirtioNetOptions) {
    super();
    this.device = dev;
    this.address = dev.address;
    const log = dev.log;
    const vendor = dev.config.read16(0x00);
    const deviceId = dev.config.read16(0x02);
    if (vendor !== VIRTIO_VENDOR_ID || !VIRTIO_NET_PCI_IDS.includes(deviceId)) throw errors.notVirtioNet(dev.address, vendor, deviceId);

    // Watching the bring-up (the trace, `net bringup --explain`): null when nobody watches.
    this.tracer = Tracer.from(options.trace);
    const watch = this.tracer !== null || options.onStep ? new BringupWatch(this.tracer, dev.address, options.onStep ?? null) : null;

    // §4.1.4: find the structures through the vendor-specific capabilities.
    const caps = parseVirtioCaps(dev.config.bytes(256));
    const t = new VirtioPciTransport(dev, caps);
    this.transport = t;
    dev.config.enableBusMaster();
    if (watch) {
      watch.step('caps', describeCaps(caps));
      t.regTrace = watch.reg;
    }

    // §3.1.1 step 1: reset the device.
    if (!t.reset()) throw errors.deviceStatusError(dev.address, t.status) ?? errors.statusStuck(dev.address, 'the device did not finish its reset within 1 s', t.status);
    watch?.step('reset', 'device_status reads 0: the device is reset');
    try {
      // Steps 2 and 3: ACKNOWLEDGE (we noticed the device), DRIVER (we can drive it).
      t.addStatus(DeviceStatus.ACKNOWLEDGE);
      watch?.step('acknowledge', `device_status = ${describeStatus(DeviceStatus.ACKNOWLEDGE)}`);
      t.addStatus(DeviceStatus.DRIVER);
      watch?.step('driver', `device_status = ${describeStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER)}`);

      // Step 4: read the device's features, write the subset we understand.
      const offered = t.deviceFeatures();
      const { accepted, refusal } = negotiate(offered, options.features);
      log.debug({ offered: featureNames(offered), accepted: featureNames(accepted) }, 'virtio features');
      if (refusal) throw errors.featuresRefused(dev.address, refusal.why, refusal.missing);
      if (options.requireAccessPlatform !== false && !has(accepted, 'VIRTIO_F_ACCESS_PLATFORM')) {
        throw errors.featuresRefused(dev.address, 'the device does not offer VIRTIO_F_ACCESS_PLATFORM: it would DMA to physical addresses, not to the IOVAs VFIO maps', 'VIRTIO_F_ACCESS_PLATFORM');
      }
      t.setDriverFeatures(accepted);
      this.features = accepted;
      watch?.step('features', `the device offers ${featureNames(offered).join(' ')}; the driver accepts ${featureNames(accepted).join(' ')}${offered & ~accepted ? `; left out: ${featureNames(offered & ~accepted).join(' ')}` : ''}`);

      // Steps 5 and 6: FEATURES_OK, then read it back: the device clears it if it cannot work with our subset.
      t.addStatus(DeviceStatus.FEATURES_OK);
      watch?.step('features-ok', 'FEATURES_OK written');
      const kept = t.checkStatus();
      watch?.step('features-ok-check', kept & DeviceStatus.FEATURES_OK ? `FEATURES_OK still set (${describeStatus(kept)}): the device accepts the features` : `FEATURES_OK cleared (${describeStatus(kept)}): the device refuses them`);
      if (!(kept & DeviceStatus.FEATURES_OK)) throw errors.statusStuck(dev.address, 'the device did not keep FEATURES_OK: it refuses the feature subset ' + featureNames(accepted).join(','), t.status);

      // Step 7: device-specific set-up. The network config (§5.1.4), read consistently (§2.5.1).
      const cfg = t.hasDeviceConfig
        ? t.readDeviceConfig((c) => ({
            mac: Array.from({ length: 6 }, (_, i) => c.read8(NetConfig.mac + i)),
            status: c.read16(NetConfig.status),
            maxPairs: c.read16(NetConfig.max_virtqueue_pairs),
            mtu: c.read16(NetConfig.mtu),
          }))
        : { mac: [], status: VIRTIO_NET_S_LINK_UP, maxPairs: 1, mtu: 1500 };
      this.mac = has(accepted, 'VIRTIO_NET_F_MAC') ? Uint8Array.from(cfg.mac) : randomLocalMac();
      if (watch) {
        const valid = (name: Parameters<typeof has>[1]) => (has(accepted, name) ? '' : ' (not valid: feature not negotiated)');
        const cfgText = t.hasDeviceConfig
          ? `mac=${cfg.mac.map((b) => b.toString(16).padStart(2, '0')).join(':')}${valid('VIRTIO_NET_F_MAC')} status=${cfg.status & VIRTIO_NET_S_LINK_UP ? 'VIRTIO_NET_S_LINK_UP' : '0'}${valid('VIRTIO_NET_F_STATUS')} max_virtqueue_pairs=${cfg.maxPairs}${valid('VIRTIO_NET_F_MQ')} mtu=${cfg.mtu}${valid('VIRTIO_NET_F_MTU')}`
          : 'no device-specific configuration structure';
        watch.note(`read virtio_net_config (between two equal reads of config_generation): ${cfgText}`, '§5.1.4, §2.5.1');
      }
      const deviceMtu = has(accepted, 'VIRTIO_NET_F_MTU') && cfg.mtu >= 68 ? cfg.mtu : undefined;
      // §5.1.4.2: with VIRTIO_NET_F_MTU the driver must not send frames longer than mtu + 14.
      if (options.mtu !== undefined && deviceMtu !== undefined && options.mtu > deviceMtu) {
        throw errors.invalidOption('mtu', options.mtu, `at most ${deviceMtu}, the device's mtu (VIRTIO_NET_F_MTU)`);
      }
      this.mtu = options.mtu ?? deviceMtu ?? 1500;
      this.linkStatusRaw = has(accepted, 'VIRTIO_NET_F_STATUS') ? cfg.status : VIRTIO_NET_S_LINK_UP;
      this.hasStatus = has(accepted, 'VIRTIO_NET_F_STATUS');

      const mq = has(accepted, 'VIRTIO_NET_F_MQ');
      const maxPairs = mq ? Math.max(1, cfg.maxPairs) : 1;
      const pairs = options.queuePairs ?? 1;
      if (pairs > maxPairs) {
        throw new VfioError({
          code: 'ERR_VIRTIO_QUEUE_PAIRS',
          message: `${dev.address}: ${pairs} queue pairs asked, the device offers ${maxPairs}${mq ? '' : ' (VIRTIO_NET_F_MQ not negotiated)'}`,
          hint: mq ? `Ask for 1 to ${maxPairs}.` : 'Enable multiqueue on the device (QEMU: mq=on,vectors=2N+2 with queues=N on the netdev) or use one pair.',
          device: dev.address,
        });
      }
      this.maxQueuePairs = maxPairs;
      this.queuePairs = pairs;
      this.packed = has(accepted, 'VIRTIO_F_RING_PACKED');
      this.eventIdx = has(accepted, 'VIRTIO_F_EVENT_IDX');
      this.csumOffload = has(accepted, 'VIRTIO_NET_F_CSUM');
      this.guestCsum = has(accepted, 'VIRTIO_NET_F_GUEST_CSUM');
      watch?.step('config', `MAC ${this.macString}${has(accepted, 'VIRTIO_NET_F_MAC') ? '' : ' (made up: no VIRTIO_NET_F_MAC)'}, MTU ${this.mtu}, link ${this.linkStatusRaw & VIRTIO_NET_S_LINK_UP ? 'up' : 'down'}, ${pairs} of ${maxPairs} queue pair${maxPairs === 1 ? '' : 's'}; ${this.packed ? 'packed' : 'split'} rings${this.eventIdx ? ' with VIRTIO_F_EVENT_IDX' : ''}`);

      // MSI-X (§4.1.5.1.2): vector 0 for configuration changes, then one per data virtqueue.
      const dataVqs = 2 * pairs;
      let msixCount = 0;
      if (options.interrupts === 'msix') {
        const count = Math.min(dev.irq.info('msix').count, 1 + dataVqs);
        if (count < 2) throw errors.msixRefused(dev.address, 'the queues (the device has fewer than 2 MSI-X vectors)', 1);
        const vectors = dev.irq.enableMsix(count);
        watch?.note(`VFIO_DEVICE_SET_IRQS: ${count} MSI-X vectors enabled, each signalling an eventfd`, '§4.1.5.1.2');
        msixCount = count;
        if (t.setConfigVector(0) === VIRTIO_MSI_NO_VECTOR) throw errors.msixRefused(dev.address, 'configuration changes', 0);
        this.configVector = vectors[0];
        for (let vq = 0; vq < dataVqs; vq++) this.queueVectors[vq] = vectors[1 + (vq % (count - 1))];
        watch?.step('msix', `vector 0 for configuration changes (kept by the device), vectors 1 to ${count - 1} for the queues (written per queue in step 7c)`);
      } else {
        t.setConfigVector(VIRTIO_MSI_NO_VECTOR);
        watch?.step('msix', 'polling: no vector for configuration changes nor for the queues');
      }

      // The queues (§4.1.5.1.3, §5.1.2: receiveqN = 2N, transmitqN = 2N+1, controlq after them).
      // Buffers: header + frame, in 64-byte multiples. A transmit buffer holds the largest
      // frame. A receive buffer too, unless MRG_RXBUF lets the device spread a frame over
      // several (§5.1.6.3.1): then they hold a frame of the usual 1500-byte MTU, and the
      // pool has a merge area behind the buffers where receive() puts larger frames together.
      const maxFrame = this.mtu + 14;
      const txBufferSize = Math.ceil((VIRTIO_NET_HDR_SIZE + maxFrame) / 64) * 64;
      const mergeable = has(accepted, 'VIRTIO_NET_F_MRG_RXBUF');
      const rxBufferSize = mergeable ? Math.min(txBufferSize, RX_MERGEABLE_BUFFER) : txBufferSize;
      const mergeBytes = maxFrame + VIRTIO_NET_HDR_SIZE > rxBufferSize ? MERGE_AREA_FRAMES * mergeSlot(maxFrame) : 0;
      const rx: RxQueue[] = [];
      const tx: TxQueue[] = [];
      const notify = (vq: number) => t.notify(vq);
      for (let p = 0; p < pairs; p++) {
        for (const dir of ['rx', 'tx'] as const) {
          const vq = 2 * p + (dir === 'tx' ? 1 : 0);
          const ring = this.setUpQueue(vq, options.queueSize ?? 256, msixCount ? 1 + (vq % (msixCount - 1)) : VIRTIO_MSI_NO_VECTOR);
          const bufferSize = dir === 'rx' ? rxBufferSize : txBufferSize;
          const poolMem = dev.dma.alloc(ring.size * bufferSize + (dir === 'rx' ? mergeBytes : 0), { align: 4096, internal: true });
          this.memory.push(poolMem);
          const pool = new PacketPool(poolMem.bytes, poolMem.iova, ring.size, bufferSize);
          const q = dir === 'rx' ? new RxQueue(p, vq, ring, pool, notify, mergeable, maxFrame) : new TxQueue(p, vq, ring, pool, notify, maxFrame, this.mtu, this.csumOffload);
          if (this.tracer !== null) q.setTrace(new QueueTrace(this.tracer, dev.address, vq, ring, pool.bytes, bufferSize, t.doorbellName(vq)));
          if (q instanceof RxQueue) rx.push(q);
          else {
            const db = t.nativeDoorbell(vq);
            if (db && options.nativeTx !== false) q.useNativeBurst(db);
            tx.push(q);
          }
          // Until the application asks for one, the device need not interrupt (§2.7.7).
          ring.disableInterrupts();
        }
      }
      this.rx = rx;
      this.tx = tx;
      watch?.step('queues', `${2 * pairs} virtqueues of ${rx[0]!.ring.size} descriptors (${rx.map((q) => `${netQueueName(q.vq)} = vq ${q.vq}`).concat(tx.map((q) => `${netQueueName(q.vq)} = vq ${q.vq}`)).join(', ')}), each enabled; buffers of ${rxBufferSize} bytes (receive) and ${txBufferSize} (transmit)`);
      // §5.1.5: fill the receive queues before DRIVER_OK (the device may not use them earlier; we notify after).
      for (const q of rx) q.fill();
      if (watch) {
        for (const q of rx) watch.explain(`${netQueueName(q.vq)}: ${q.ring.size} buffers of ${rxBufferSize} bytes made available (device-writable), avail.idx <- ${q.ring.size}, no notification yet`);
        watch.step('rx-buffers', `${rx.length * rx[0]!.ring.size} receive buffers made available`);
      }

      let ctrl: { ring: Ring; vq: number; mem: { bytes: Uint8Array } } | undefined;
      if (mq) {
        const vq = 2 * maxPairs;
        const ring = this.setUpQueue(vq, 2, VIRTIO_MSI_NO_VECTOR);
        const mem = dev.dma.alloc(128, { align: 64, internal: true });
        this.memory.push(mem);
        ring.setBuffer(0, Number(mem.iova & 0xffffffffn), Number(mem.iova >> 32n));
        const ack = mem.iova + 64n;
        ring.setBuffer(1, Number(ack & 0xffffffffn), Number(ack >> 32n));
        ctrl = { ring, vq, mem };
      }

      // Step 8: DRIVER_OK: the device is live.
      t.addStatus(DeviceStatus.DRIVER_OK);
      const live = t.checkStatus();
      for (const q of rx) {
        q.start();
        watch?.explain(`${netQueueName(q.vq)}: write ${q.vq} to its doorbell ${t.doorbellName(q.vq)} (the buffers of step 7d)`);
      }
      // §5.1.6.5.5: with MQ the device starts with one pair; say how many we use (also when it is 1,
      // so that the control queue is proven to work at start-up, not at the first change).
      if (ctrl) {
        this.setQueuePairs(ctrl, pairs);
        watch?.note(`controlq: VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET ${pairs}: ack VIRTIO_NET_OK`, '§5.1.6.5.5');
      }
      watch?.step('driver-ok', `device_status = ${describeStatus(live)}: the device is live`);
      t.regTrace = null;
      this.startWatch();
      log.debug({ mac: this.macString, mtu: this.mtu, pairs, maxPairs, csum: this.csumOffload, guestCsum: this.guestCsum, packed: this.packed, eventIdx: this.eventIdx, status: describeStatus(t.status) }, 'virtio-net up');
    } catch (err) {
      // §3.1.1: on failure the driver sets FAILED (unless the device is already gone).
      try {
        if (t.status !== 0xff) t.addStatus(DeviceStatus.FAILED);
      } catch {
        /* the device is gone */
      }
      if (this.watchTimer) clearInterval(this.watchTimer);
      this.releaseMemory();
      throw err;
    }
  }

  private linkStatusRaw: number;
  private readonly hasStatus: boolean;

  private setUpQueue(vq: number, wanted: number, vector: number): Ring {
    const t = this.transport;
    const max = t.queueMaxSize(vq);
    if (max === 0) throw errors.queueUnavailable(this.address, vq, 'does not exist (queue_size reads 0)');
    let size = Math.min(wanted, max);
    if (!this.packed) size = 2 ** Math.floor(Math.log2(size)); // split rings: a power of 2
    const layout = this.packed ? packedLayout(size) : splitLayout(size);
    const mem = this.device.dma.alloc(layout.total, { align: 4096, internal: true });
    this.memory.push(mem);
    const ring: Ring = this.packed ? new PackedRing(mem.bytes, mem.iova, size, this.eventIdx) : new SplitRing(mem.bytes, mem.iova, size, this.eventIdx);
    const kept = t.setUpQueue(vq, size, ring.descIova, ring.driverIova, ring.deviceIova, vector);
    if (vector !== VIRTIO_MSI_NO_VECTOR && kept === VIRTIO_MSI_NO_VECTOR) throw errors.msixRefused(this.address, `virtqueue ${vq}`, vector);
    return ring;
  }

  /** §5.1.6.5.5: VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET on the control queue, polled to completion. */
  private setQueuePairs(ctrl: { ring: Ring; vq: number; mem: { bytes: Uint8Array } }, pairs: number): void {
    const b = ctrl.mem.bytes;
    b[0] = VIRTIO_NET_CTRL_MQ; // struct virtio_net_ctrl { u8 class; u8 command; u8 command-specific-data[]; u8 ack; }
    b[1] = VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET;
    b[2] = pairs & 0xff; // le16 virtqueue_pairs
    b[3] = pairs >> 8;
    b[64] = 0xff;
    ctrl.ring.postChain(0, 4, 1, 1);
    const trace = this.tracer !== null ? new QueueTrace(this.tracer, this.address, ctrl.vq, ctrl.ring, b, 64, this.transport.doorbellName(ctrl.vq), 'controlq') : null;
    if (trace !== null) {
      trace.note('ctrl', `command: class VIRTIO_NET_CTRL_MQ (${b[0]}), command VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET (${b[1]}), virtqueue_pairs=${b[2]! | (b[3]! << 8)}; ack byte in a device-writable buffer`, 'virtio 1.2 §5.1.6.5, §5.1.6.5.5');
      trace.kick((vq) => this.transport.notify(vq), false);
    } else if (ctrl.ring.publish()) this.transport.notify(ctrl.vq);
    const ids = new Uint16Array(2);
    const lens = new Uint32Array(2);
    const deadline = Date.now() + 5000;
    let polls = 1;
    while (ctrl.ring.poll(ids, lens, 1) === 0) {
      polls++;
      if (Date.now() > deadline) throw errors.controlQueueTimeout(this.address, 'VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET', 5000);
    }
    if (trace !== null) {
      trace.used(ids, lens, 0, 1);
      trace.note('ctrl', `ack ${b[64] === VIRTIO_NET_OK ? 'VIRTIO_NET_OK' : 'VIRTIO_NET_ERR'} (${b[64]}) after ${polls} poll${polls === 1 ? '' : 's'} of the used ring`, 'virtio 1.2 §5.1.6.5');
    }
    if (b[64] !== VIRTIO_NET_OK) throw errors.controlQueueRefused(this.address, `${pairs} queue pairs`, b[64]!);
  }

  // ---- public API -------------------------------------------------------------------

  /** Receive queue `pair`. @throws ERR_VIRTIO_QUEUE_INDEX */
  rxQueue(pair = 0): RxQueue {
    const q = this.rx[pair];
    if (!Number.isInteger(pair) || !q) throw errors.queueIndex(pair, this.rx.length);
    return q;
  }

  /** Transmit queue `pair`. @throws ERR_VIRTIO_QUEUE_INDEX */
  txQueue(pair = 0): TxQueue {
    const q = this.tx[pair];
    if (!Number.isInteger(pair) || !q) throw errors.queueIndex(pair, this.tx.length);
    return q;
  }

  /** Sends frames on queue pair `pair` (copying them); returns how many were queued. @throws ERR_VIRTIO_FRAME_TOO_LARGE, ERR_VIRTIO_QUEUE_INDEX */
  send(frames: readonly Uint8Array[], pair = 0): number {
    return this.txQueue(pair).send(frames);
  }

  /** The MAC address as 52:54:00:12:34:56. */
  get macString(): string {
    return Array.from(this.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
  }

  /** Link up? Re-reads the config's status field (VIRTIO_NET_F_STATUS); true when the device does not report it. */
  get linkUp(): boolean {
    if (this.hasStatus) this.linkStatusRaw = this.transport.readDeviceConfig((c) => c.read16(NetConfig.status));
    return (this.linkStatusRaw & VIRTIO_NET_S_LINK_UP) !== 0;
  }

  /** The device_status byte now. */
  get status(): number {
    return this.transport.status;
  }

  /**
   * Checks that the device is alive and well: throws ERR_VIRTIO_DEVICE_GONE when it
   * reads all ones, ERR_VIRTIO_NEEDS_RESET when it set DEVICE_NEEDS_RESET (§2.1.1).
   * Cheap (one register read): call it when a queue stays quiet.
   */
  checkStatus(): void {
    this.transport.checkStatus();
  }

  /** Counters summed over the queues. */
  stats(): NetStats {
    const sum = (qs: readonly { stats: QueueStats }[], k: keyof QueueStats) => qs.reduce((n, q) => n + q.stats[k], 0);
    return {
      rxPackets: sum(this.rx, 'packets'),
      rxBytes: sum(this.rx, 'bytes'),
      rxDrops: sum(this.rx, 'drops'),
      rxErrors: sum(this.rx, 'errors'),
      txPackets: sum(this.tx, 'packets'),
      txBytes: sum(this.tx, 'bytes'),
      txDrops: sum(this.tx, 'drops'),
      txErrors: sum(this.tx, 'errors'),
    };
  }

  /**
   * Waits (msix mode) until queue q has used buffers or timeoutMs passes. Interrupts are
   * asked for only while waiting; the ring is checked after asking, so nothing is missed.
   * Resolves true when there is work. Checks device_status on a timeout.
   */
  async wait(q: RxQueue | TxQueue, timeoutMs = 1000): Promise<boolean> {
    const v = this.queueVectors[q.vq];
    if (!v) throw new VfioError({ code: 'ERR_VIRTIO_NO_INTERRUPTS', message: `${this.address} was opened in polling mode`, hint: "Open it with interrupts: 'msix'.", device: this.address });
    // Forget interrupts that fired while we were not waiting (the device may ignore the
    // suppression hint, §2.7.7): the count left in the eventfd would wake us at once.
    native.eventfdRead(v.fd);
    const pending = q.ring.enableInterrupts();
    const tr = this.tracer;
    if (tr !== null) this.traceWait(q, v, pending);
    if (pending) {
      q.ring.disableInterrupts();
      return true;
    }
    try {
      const count = await v.next(timeoutMs);
      if (tr !== null) tr.emit(this.address, 'irq', `MSI-X vector ${v.vector} fired (eventfd count ${count}): woke the waiter on ${netQueueName(q.vq)} (vq ${q.vq}), used buffers ${q.ring.pending() ? 'pending' : 'none yet'}`, 'virtio 1.2 §4.1.5.3');
      return true;
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_IRQ_TIMEOUT') throw err;
      this.checkStatus();
      return q.ring.pending();
    } finally {
      q.ring.disableInterrupts();
    }
  }

  private traceWait(q: RxQueue | TxQueue, v: Vector, pending: boolean): void {
    q.traceInterruptsOn();
    this.tracer!.emit(this.address, 'irq', pending ? `${netQueueName(q.vq)} has used buffers already: no wait for MSI-X vector ${v.vector}` : `waiting for MSI-X vector ${v.vector} (${netQueueName(q.vq)}, vq ${q.vq})`, 'virtio 1.2 §4.1.5.3');
  }

  /** Calls cb on each configuration-change interrupt (msix mode): link changes, DEVICE_NEEDS_RESET. Returns an unsubscribe function. */
  onConfigChange(cb: (info: { linkUp: boolean; error?: VfioError }) => void): () => void {
    if (!this.configVector) throw new VfioError({ code: 'ERR_VIRTIO_NO_INTERRUPTS', message: `${this.address} was opened in polling mode`, hint: "Open it with interrupts: 'msix'.", device: this.address });
    return this.configVector.onInterrupt((count) => {
      this.traceConfigInterrupt(count, 'the onConfigChange callback');
      const error = errors.deviceStatusError(this.address, this.transport.status);
      cb({ linkUp: error ? false : this.linkUp, ...(error ? { error } : {}) });
    });
  }

  private traceConfigInterrupt(count: bigint, woke: string): void {
    if (this.tracer !== null) this.tracer.emit(this.address, 'irq', `MSI-X vector ${this.configVector?.vector ?? 0} fired (eventfd count ${count}): configuration change; woke ${woke}`, 'virtio 1.2 §4.1.5.4');
  }

  /** Starts the watch behind the events (VirtioNetEvents). */
  private startWatch(): void {
    this.lastLinkUp = this.linkUp;
    this.watchTimer = setInterval(() => this.watch(), WATCH_MS);
    this.watchTimer.unref();
    // The interrupts are watched from the first listener on: their eventfd watchers keep
    // the event loop alive (until close()), which a NIC nobody listens to should not do.
    (this as EventEmitter).on('newListener', (name: string | symbol) => {
      if (this.isClosed) return;
      if (name === 'removal' && !this.stopRemovalWatch) {
        try {
          this.stopRemovalWatch = this.device.irq.onRemovalRequest(() => this.onRemovalRequest());
        } catch {
          // an old kernel without the request interrupt: nothing to watch
        }
      }
      if ((name === 'error' || name === 'linkChange') && this.configVector && !this.stopConfigWatch) {
        this.stopConfigWatch = this.configVector.onInterrupt((count) => {
          this.traceConfigInterrupt(count, "the watch of device_status and link (the NIC's events)");
          this.watch();
        });
      }
    });
  }

  /** One look at device_status and the link: 'error' once, 'linkChange' on each change. */
  private watch(): void {
    if (this.isClosed || this.failed) return;
    let status: number;
    try {
      status = this.transport.status;
    } catch {
      status = 0xff; // the BAR is gone
    }
    const error = errors.deviceStatusError(this.address, status);
    if (error) {
      this.failed = true;
      if (this.watchTimer) clearInterval(this.watchTimer);
      this.watchTimer = null;
      this.deliver('error', error);
      return;
    }
    if (!this.hasStatus) return;
    const up = this.linkUp;
    if (up !== this.lastLinkUp) {
      this.lastLinkUp = up;
      this.deliver('linkChange', { linkUp: up });
    }
  }

  private onRemovalRequest(): void {
    if (this.isClosed) return; // the kernel repeats its request until we let go
    this.device.log.warn('the kernel asks for the device back (removal request): closing');
    this.deliver('removal', errors.removalRequested(this.address));
    setImmediate(() => this.close());
  }

  /** Calls the listeners of `name`, each in turn, a throwing one logged; 'error' without a listener is logged. */
  private deliver<K extends keyof VirtioNetEvents>(name: K, ...args: VirtioNetEvents[K]): void {
    const listeners = this.rawListeners(name) as Array<(...a: unknown[]) => void>;
    if (name === 'error' && listeners.length === 0) {
      this.device.log.error({ err: args[0] }, "device failure (no 'error' listener on the NIC)");
      return;
    }
    for (const l of listeners) {
      try {
        l.apply(this, args);
      } catch (err) {
        this.device.log.error({ err, event: name }, 'a listener of the NIC threw');
      }
    }
  }

  /** Resets the device (it stops all DMA), releases the memory and closes the device. Idempotent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = null;
    this.stopConfigWatch?.();
    this.stopRemovalWatch?.();
    this.stopConfigWatch = this.stopRemovalWatch = null;
    try {
      if (this.tracer !== null) this.transport.regTrace = (text, section) => this.tracer!.emit(this.address, 'reg', text, `virtio 1.2 ${section}`);
      if (this.transport.status !== 0xff) this.transport.reset(100);
    } catch {
      /* the device is gone: nothing to stop */
    }
    this.releaseMemory();
    this.device.close();
    openDevices.delete(this.address);
  }

  /** close(), for `using nic = VirtioNet.open(address)`. */
  [Symbol.dispose](): void {
    this.close();
  }

  private releaseMemory(): void {
    for (const m of this.memory.splice(0)) m.release();
  }
}

function checkOptions(o: VirtioNetOptions): void {
  if (o.queuePairs !== undefined && (!Number.isInteger(o.queuePairs) || o.queuePairs < 1 || o.queuePairs > 0x8000)) throw errors.invalidOption('queuePairs', o.queuePairs, 'an integer from 1 to 32768');
  if (o.queueSize !== undefined && (!Number.isInteger(o.queueSize) || o.queueSize < 2 || o.queueSize > 32768)) throw errors.invalidOption('queueSize', o.queueSize, 'an integer from 2 to 32768');
  // 68: the IPv4 minimum (RFC 791); 65535 - 14: an Ethernet frame whose length fits 16 bits.
  if (o.mtu !== undefined && (!Number.isInteger(o.mtu) || o.mtu < 68 || o.mtu > 65521)) throw errors.invalidOption('mtu', o.mtu, 'an integer from 68 to 65521');
  if (o.interrupts !== undefined && o.interrupts !== 'poll' && o.interrupts !== 'msix') throw errors.invalidOption('interrupts', o.interrupts, "'poll' or 'msix'");
}

/** The virtio structures found (§4.1.4), for people. */
function describeCaps(c: VirtioCaps): string {
  const at = (cap: { bar: number; offset: number; length: number } | undefined) => (cap ? `BAR${cap.bar}+0x${cap.offset.toString(16)} (${cap.length} bytes)` : 'none');
  return `common configuration ${at(c.common)}; notifications ${at(c.notify)}, notify_off_multiplier ${c.notify?.notifyOffMultiplier ?? '?'}; ISR ${at(c.isr)}; device configuration ${at(c.device)}`;
}

/** A random locally administered unicast MAC (bit 1 of the first byte set, bit 0 clear). */
function randomLocalMac(): Uint8Array {
  const m = new Uint8Array(6);
  for (let i = 0; i < 6; i++) m[i] = Math.floor(Math.random() * 256);
  m[0] = (m[0]! & 0xfc) | 0x02;
  return m;
}
