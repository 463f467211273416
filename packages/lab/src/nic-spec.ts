// The lab's virtio-net NICs, as `--nic` describes them: comma-separated key=value applied
// to every NIC, e.g. `packed=on,mq=on` or `backend=tap,queues=2`. Most keys are properties
// of QEMU's virtio-net-pci (QEMU 7.2: `qemu-system-x86_64 -device virtio-net-pci,help`);
// `backend` and `queues` choose what the NICs are plugged into.
//
// Backends. `hub` (the default): every NIC on one QEMU hub (`-netdev hubport`), inside
// QEMU, no host set-up. A hub port has exactly one queue ("Invalid parameter 'queues'")
// and no virtio_net_hdr, so behind it the device offers neither more than one queue pair
// (`mq=on` gives VIRTIO_NET_F_MQ with max_virtqueue_pairs 1) nor the checksum offloads
// (VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM).
// `tap`: one multi_queue, vnet_hdr tap device per NIC, joined on a Linux bridge, all inside
// a network namespace of the lab's own (netns.ts), so the host's network is never touched.
// Each tap has `queues` queues, so the device offers max_virtqueue_pairs = queues and, the
// tap carrying the vnet header, CSUM and GUEST_CSUM. It needs root, /dev/net/tun and `ip`.

import { invalidOption } from './errors.js';

export type NicBackend = 'hub' | 'tap';

/** The lab's virtio-net NICs as `--nic` describes them: QEMU virtio-net-pci properties, the backend and its queues. */
export interface NicSpec {
  /** `backend=hub` (default) or `backend=tap`: what the NICs are joined through (see above). */
  backend: NicBackend;
  /** `queues=N`: queues of each NIC's backend, i.e. max_virtqueue_pairs (tap only; 1 to 8, default 1). More than 1 implies mq=on. */
  queues: number;
  /** `packed=on`: offer VIRTIO_F_RING_PACKED (QEMU's default: off). */
  packed: boolean;
  /** `mq=on`: offer VIRTIO_NET_F_MQ and a control queue (with `queues` pairs; a hub port has one). */
  mq: boolean;
  /** `event_idx=off`: do not offer VIRTIO_F_EVENT_IDX (QEMU's default: on). */
  eventIdx: boolean;
  /** `rx_queue_size=N`: receive queue size, a power of 2 from 256 to 1024 (QEMU's default 256). */
  rxQueueSize?: number;
  /** `tx=timer` or `tx=bh` (QEMU's default): how the device model drains transmit queues. */
  tx?: 'bh' | 'timer';
  /** `txburst=N`: packets QEMU sends per transmit run (its x-txburst, default 256). */
  txBurst?: number;
}

const KEYS = ['backend', 'queues', 'packed', 'mq', 'event_idx', 'rx_queue_size', 'tx', 'txburst'] as const;

/** Largest `queues`: 2 × 8 + 2 = 18 MSI-X vectors per NIC. */
export const MAX_NIC_QUEUES = 8;

/** QEMU's defaults behind the hub: split rings, no MQ, EVENT_IDX offered, one queue. */
export function defaultNicSpec(): NicSpec {
  return { backend: 'hub', queues: 1, packed: false, mq: false, eventIdx: true };
}

/**
 * Parses a `--nic` spec.
 * @param text comma-separated key=value pairs (empty = QEMU's defaults)
 * @throws LabError ERR_INVALID_ARG naming the key that is wrong
 */
export function parseNicSpec(text: string): NicSpec {
  const spec = defaultNicSpec();
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? '' : item.slice(eq + 1);
    switch (key as (typeof KEYS)[number]) {
      case 'backend':
        spec.backend = value as NicBackend;
        break;
      case 'queues':
        spec.queues = digits('--nic queues', value, `an integer from 1 to ${MAX_NIC_QUEUES}`);
        break;
      case 'packed':
        spec.packed = flag('--nic packed', value);
        break;
      case 'mq':
        spec.mq = flag('--nic mq', value);
        break;
      case 'event_idx':
        spec.eventIdx = flag('--nic event_idx', value);
        break;
      case 'rx_queue_size':
        spec.rxQueueSize = digits('--nic rx_queue_size', value, '256, 512 or 1024');
        break;
      case 'tx':
        spec.tx = value as NicSpec['tx'];
        break;
      case 'txburst':
        spec.txBurst = digits('--nic txburst', value, 'an integer from 1 to 65536');
        break;
      default:
        throw invalidOption('--nic key', key, `one of ${KEYS.join(', ')}`);
    }
  }
  return validateNic(spec);
}

/** Checks the values QEMU would refuse, naming the key. @throws LabError ERR_INVALID_ARG */
export function validateNic(spec: NicSpec): NicSpec {
  if (spec.backend !== 'hub' && spec.backend !== 'tap') throw invalidOption('--nic backend', spec.backend, 'hub or tap');
  const q = spec.queues;
  if (!Number.isSafeInteger(q) || q < 1 || q > MAX_NIC_QUEUES) throw invalidOption('--nic queues', q, `an integer from 1 to ${MAX_NIC_QUEUES}`);
  if (q > 1 && spec.backend !== 'tap') {
    throw invalidOption('--nic queues', q, '1 with backend=hub', "A QEMU hub port has a single queue: add backend=tap for several queue pairs (runs QEMU in a network namespace of its own; needs root).");
  }
  // QEMU: "must be a power of 2 between 256 and 1024".
  if (spec.rxQueueSize !== undefined && ![256, 512, 1024].includes(spec.rxQueueSize)) throw invalidOption('--nic rx_queue_size', spec.rxQueueSize, '256, 512 or 1024');
  if (spec.tx !== undefined && spec.tx !== 'bh' && spec.tx !== 'timer') throw invalidOption('--nic tx', spec.tx, 'bh or timer');
  const b = spec.txBurst;
  if (b !== undefined && (!Number.isSafeInteger(b) || b < 1 || b > 65536)) throw invalidOption('--nic txburst', b, 'an integer from 1 to 65536');
  return spec;
}

/**
 * The virtio-net-pci properties for a spec (after `netdev=...,mac=...`), each with a leading comma;
 * empty for the defaults, so that a default lab's command line does not change.
 */
export function nicDeviceProperties(spec: NicSpec): string {
  let p = '';
  if (spec.packed) p += ',packed=on';
  // With MQ: a control queue besides the receive and transmit queues of each pair.
  // vectors = 2 × pairs + 2 (one per queue, one for the control queue and configuration
  // changes), as QEMU's documentation gives it for tap,queues=N.
  if (spec.mq || spec.queues > 1) p += `,mq=on,vectors=${2 * spec.queues + 2}`;
  if (!spec.eventIdx) p += ',event_idx=off';
  if (spec.rxQueueSize !== undefined) p += `,rx_queue_size=${spec.rxQueueSize}`;
  if (spec.tx !== undefined) p += `,tx=${spec.tx}`;
  if (spec.txBurst !== undefined) p += `,x-txburst=${spec.txBurst}`;
  return p;
}

function digits(what: string, value: string, expected: string): number {
  if (!/^\d{1,9}$/.test(value)) throw invalidOption(what, value, expected);
  return Number(value);
}

function flag(what: string, value: string): boolean {
  if (value === '' || value === '1' || value === 'on' || value === 'true') return true;
  if (value === '0' || value === 'off' || value === 'false') return false;
  throw invalidOption(what, value, 'on or off');
}
