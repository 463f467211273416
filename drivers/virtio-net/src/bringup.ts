// The bring-up of a virtio device as the specification numbers it (virtio 1.2 §3.1.1,
// "Driver Requirements: Device Initialization"), for people watching it: what each step
// is for, in our words, with its sections. VirtioNet.open runs the steps (virtio-net.ts)
// and, when asked (the onStep option, `vfio-node net bringup --explain`), hands each
// finished step with the register accesses it made to an observer. Without an observer
// and without a tracer nothing here runs.

import type { Tracer } from '@vfio-node/core';
import type { RegisterSink } from './transport.js';

/** The steps of VirtioNet.open, in order: §3.1.1's eight, with step 7 in the parts a network device has. */
export type BringupStepId = 'caps' | 'reset' | 'acknowledge' | 'driver' | 'features' | 'features-ok' | 'features-ok-check' | 'config' | 'msix' | 'queues' | 'rx-buffers' | 'driver-ok';

/** What the specification says about one step. */
export interface BringupStepText {
  /** The step as §3.1.1 numbers it ("1" to "8"; "7a" to "7d" for the parts of step 7; "0" before it). */
  number: string;
  /** A short title. */
  title: string;
  /** Where the specification says it (virtio 1.2). */
  section: string;
  /** What the specification asks of the driver, and why, in our words. */
  spec: string;
}

/** One finished step of the bring-up, as an observer (VirtioNetOptions.onStep) gets it. */
export interface BringupStep extends BringupStepText {
  /** Which step. */
  id: BringupStepId;
  /** The register accesses the step made, decoded, in order ("write device_status <- ACKNOWLEDGE (0x1)"). */
  accesses: string[];
  /** What came of it: what the device answered, decoded. */
  outcome: string;
}

/** Gets each step of the bring-up when it is done (before the next begins). It may block (read a line from a terminal). */
export type BringupObserver = (step: BringupStep) => void;

/** The steps, in the order open() takes them. */
export const BRINGUP_STEPS: Readonly<Record<BringupStepId, BringupStepText>> = {
  caps: {
    number: '0',
    title: 'Find the virtio structures',
    section: 'virtio 1.2 §4.1.4',
    spec: 'A modern virtio PCI device has no fixed register map. Vendor-specific PCI capabilities (struct virtio_pci_cap) each name a BAR, an offset and a length: the common configuration, the notification area, the ISR byte and the device-specific configuration. The driver uses the first usable one of each type.',
  },
  reset: {
    number: '1',
    title: 'Reset the device',
    section: 'virtio 1.2 §3.1.1 step 1, §2.4, §4.1.4.3.2',
    spec: 'Writing 0 to device_status resets the device: it forgets features, queues and status. The driver must then wait until device_status reads back 0 before it starts again, so that nothing of an earlier driver survives.',
  },
  acknowledge: {
    number: '2',
    title: 'ACKNOWLEDGE',
    section: 'virtio 1.2 §3.1.1 step 2, §2.1',
    spec: 'The driver sets the ACKNOWLEDGE bit of device_status: "I have noticed this device". Status bits are only ever added during the handshake.',
  },
  driver: {
    number: '3',
    title: 'DRIVER',
    section: 'virtio 1.2 §3.1.1 step 3, §2.1',
    spec: 'The driver sets the DRIVER bit: "I know how to drive this kind of device" (a network card, device ID 1).',
  },
  features: {
    number: '4',
    title: 'Negotiate the features',
    section: 'virtio 1.2 §3.1.1 step 4, §2.2, §5.1.3, §6',
    spec: 'The driver reads the device\'s feature bits (64 of them, through device_feature_select 0 and 1) and writes to driver_feature the subset it understands and wants. It must not accept a feature it cannot handle; VIRTIO_F_VERSION_1 says the device speaks virtio 1.x, VIRTIO_F_ACCESS_PLATFORM that its DMA goes through the IOMMU.',
  },
  'features-ok': {
    number: '5',
    title: 'FEATURES_OK',
    section: 'virtio 1.2 §3.1.1 step 5, §2.1',
    spec: 'The driver sets FEATURES_OK: its choice is final, it accepts no new feature bits after this.',
  },
  'features-ok-check': {
    number: '6',
    title: 'Read FEATURES_OK back',
    section: 'virtio 1.2 §3.1.1 step 6, §2.1',
    spec: 'The driver reads device_status again. A device that cannot work with the chosen subset leaves FEATURES_OK clear, and the device is then unusable with these features.',
  },
  config: {
    number: '7a',
    title: 'Read the network configuration',
    section: 'virtio 1.2 §3.1.1 step 7, §5.1.4, §2.5.1',
    spec: 'Device-specific set-up begins. The network device\'s configuration (struct virtio_net_config) holds the MAC address, the link status, max_virtqueue_pairs and the MTU, each valid only with its feature. Fields are read between two reads of config_generation, again until it did not change, so that they belong together.',
  },
  msix: {
    number: '7b',
    title: 'MSI-X vectors',
    section: 'virtio 1.2 §3.1.1 step 7, §4.1.5.1.2',
    spec: 'The driver writes an MSI-X vector number to msix_config (configuration changes) and, per queue, to queue_msix_vector, and reads each back: VIRTIO_MSI_NO_VECTOR (0xffff) read back means the device refused it. A polling driver writes VIRTIO_MSI_NO_VECTOR.',
  },
  queues: {
    number: '7c',
    title: 'Set up the virtqueues',
    section: 'virtio 1.2 §3.1.1 step 7, §4.1.5.1.3, §5.1.2',
    spec: 'For each queue (receiveq1 is virtqueue 0, transmitq1 virtqueue 1, and so on): select it with queue_select, read its maximum size from queue_size and write the size used, write the addresses of the Descriptor, Driver and Device Areas, read queue_notify_off (where its doorbell is), then write 1 to queue_enable.',
  },
  'rx-buffers': {
    number: '7d',
    title: 'Fill the receive queues',
    section: 'virtio 1.2 §3.1.1 step 7, §5.1.5, §5.1.6.3',
    spec: 'The driver makes receive buffers available before the device goes live, each device-writable and large enough for a virtio_net_hdr and a frame (or, with VIRTIO_NET_F_MRG_RXBUF, part of one). The device may not use them before DRIVER_OK.',
  },
  'driver-ok': {
    number: '8',
    title: 'DRIVER_OK',
    section: 'virtio 1.2 §3.1.1 step 8, §2.1, §5.1.5',
    spec: 'The driver sets DRIVER_OK: the device is live. Only now may the driver notify the device; it rings each receive queue\'s doorbell once for the buffers posted in step 7.',
  },
};

/**
 * Watches one bring-up: register accesses go to the trace (kind 'reg') and into the current
 * step; at the end of each step the tracer gets a 'step' line and the observer the step.
 * Made only when there is a tracer or an observer.
 */
export class BringupWatch {
  private accesses: string[] = [];
  /** Give this to the transport (VirtioPciTransport.regTrace). */
  readonly reg: RegisterSink;

  constructor(
    private readonly tracer: Tracer | null,
    private readonly who: string,
    private readonly observer: BringupObserver | null,
  ) {
    this.reg = (text, section) => {
      if (this.tracer !== null) this.tracer.emit(this.who, 'reg', text, `virtio 1.2 ${section}`);
      if (this.observer !== null) this.accesses.push(text);
    };
  }

  /** A line that belongs to the step without being a register access (a decoded structure). */
  note(text: string, section: string): void {
    if (this.tracer !== null) this.tracer.emit(this.who, 'reg', text, `virtio 1.2 ${section}`);
    if (this.observer !== null) this.accesses.push(text);
  }

  /** A line for the observer only: what the queue trace already tells the tracer (the fill, the first doorbells). */
  explain(text: string): void {
    if (this.observer !== null) this.accesses.push(text);
  }

  /** Ends step `id` with its outcome. */
  step(id: BringupStepId, outcome: string): void {
    const s = BRINGUP_STEPS[id];
    if (this.tracer !== null) this.tracer.emit(this.who, 'step', `§3.1.1 step ${s.number}: ${s.title}: ${outcome}`, s.section);
    const accesses = this.accesses;
    this.accesses = [];
    if (this.observer !== null) this.observer({ id, ...s, accesses, outcome });
  }
}
