// The lab's virtio-net NICs, as `--nic` describes them: comma-separated key=value applied
// to every NIC, e.g. `packed=on,mq=on`. Each key is a property of QEMU's virtio-net-pci
// (QEMU 7.2: `qemu-system-x86_64 -device virtio-net-pci,help`).
//
// Multiqueue: `mq=on` makes the device offer VIRTIO_NET_F_MQ, but the number of queue
// pairs (`max_virtqueue_pairs`) is the number of queues of its backend, and the lab's
// backend, a hub port (`-netdev hubport`), has exactly one ("Invalid parameter
// 'queues'"). So with `mq=on` the NICs offer MQ with one pair: the feature and the
// control queue can be tested, more pairs cannot (that needs a multiqueue backend such as
// `-netdev tap,queues=N`, i.e. host network configuration the lab does not do).

import { invalidOption } from './errors.js';

export interface NicSpec {
  /** `packed=on`: offer VIRTIO_F_RING_PACKED (QEMU's default: off). */
  packed: boolean;
  /** `mq=on`: offer VIRTIO_NET_F_MQ and a control queue (with one queue pair behind a hub port). */
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

const KEYS = ['packed', 'mq', 'event_idx', 'rx_queue_size', 'tx', 'txburst'] as const;

/** QEMU's defaults: split rings, no MQ, EVENT_IDX offered. */
export function defaultNicSpec(): NicSpec {
  return { packed: false, mq: false, eventIdx: true };
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
  // With MQ: a control queue besides the receive and transmit queues of the one pair.
  // vectors = 2 × pairs + 2 (one per queue, one for configuration changes), as for tap,queues=N.
  if (spec.mq) p += ',mq=on,vectors=4';
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
