// respond: answer ARP requests for our IPv4 address and ICMP echo requests to it, so
// that the kernel (or anyone on the link) can ping the userspace NIC. Each received
// frame is copied into a transmit buffer and turned into its reply in place.

import { copyFrame, VirtioNet, type VirtioNetOptions } from '@vfio-node/virtio-net';
import { arpReplyInPlace, icmpEchoReplyInPlace, parseIp } from './frames.js';
import { BUSY, IDLE, runLoop, type LoopControl } from './loop.js';

/** What respond() answers for: the NIC and our IPv4 address. */
export interface RespondOptions extends LoopControl {
  /** PCI address of the NIC. */
  address: string;
  /** Our IPv4 address (A.B.C.D). */
  ip: string;
  /** Options for VirtioNet.open. */
  driver?: VirtioNetOptions;
  /** Called once the device is up (a peer may start talking). */
  onReady?: (nic: VirtioNet) => void;
  /** Called once a second with the counts so far. */
  report?: (r: RespondCounts) => void;
}

/** What respond() received and answered. */
export interface RespondCounts {
  /** PCI address of the NIC. */
  port: string;
  /** Frames received. */
  received: number;
  /** ARP replies sent. */
  arpReplies: number;
  /** ICMP echo replies sent. */
  echoReplies: number;
  /** Frames that asked nothing of us. */
  ignored: number;
}

/**
 * Answers ARP requests for our IPv4 address and ICMP echo requests to it, so that the kernel (or anyone on the
 * link) can ping the userspace NIC; runs until the stop signal.
 */
export async function respond(o: RespondOptions): Promise<RespondCounts> {
  const myIp = parseIp(o.ip);
  const nic = VirtioNet.open(o.address, o.driver);
  try {
    const rx = nic.rxQueue(0);
    const tx = nic.txQueue(0);
    const mac = nic.mac;
    const counts: RespondCounts = { port: nic.address, received: 0, arpReplies: 0, echoReplies: 0, ignored: 0 };
    o.onReady?.(nic);
    const step = (): number => {
      const n = rx.receive(32);
      if (n === 0) return IDLE;
      counts.received += n;
      const k = tx.reserve(n);
      let out = 0;
      for (let i = 0; i < n; i++) {
        if (out >= k) {
          counts.ignored++;
          continue;
        }
        const len = rx.lengths[i]!;
        const dst = tx.frameOffset(tx.slots[out]!);
        copyFrame(rx.pool, rx.offsets[i]!, tx.pool, dst, len);
        let reply = arpReplyInPlace(tx.frames, dst, len, mac, myIp);
        if (reply) counts.arpReplies++;
        else if ((reply = icmpEchoReplyInPlace(tx.frames, dst, len, mac, myIp))) counts.echoReplies++;
        if (!reply) {
          counts.ignored++;
          continue;
        }
        // slots[0..out) hold the replies; an ignored frame leaves its slot for the next one.
        tx.lengths[out++] = reply;
      }
      tx.commit(out);
      return BUSY;
    };
    const msix = o.driver?.interrupts === 'msix';
    await runLoop(
      step,
      {
        ...o,
        onSecond: () => {
          nic.checkStatus();
          o.report?.({ ...counts });
        },
      },
      msix ? () => nic.wait(rx, 200) : undefined,
    );
    return counts;
  } finally {
    nic.close();
  }
}
