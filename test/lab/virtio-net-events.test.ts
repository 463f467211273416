// The virtio-net driver's background events against the lab's QEMU virtio-net device
// through real VFIO: 'error' when the device sets DEVICE_NEEDS_RESET (virtio 1.2 §2.1.1;
// QEMU does on a malformed descriptor chain: a NEXT flag pointing past the ring), in msix
// mode (configuration change interrupt) and in polling mode (the watch timer), and
// 'removal' when the kernel asks for the device back (an unbind).
import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { bindDevice, currentDriver, type VfioError } from '@vfio-node/core';
import { DeviceStatus, SplitRing, VirtioNet, type TxQueue } from '@vfio-node/virtio-net';
import { labNics } from './lab-env.js';

/** Waits until cond() holds, at most limitMs; fails the test otherwise. */
async function until(cond: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Publishes on a transmit queue a descriptor whose NEXT flag names descriptor `size`
 * (there is none: §2.7.5 "next" must be below the queue size), and notifies the device.
 * QEMU answers with virtio_error: DEVICE_NEEDS_RESET, and a configuration change interrupt.
 */
function postMalformedChain(q: TxQueue): void {
  const ring = q.ring;
  if (!(ring instanceof SplitRing)) throw new Error('this test needs a split ring');
  ring.post(0, 64, false);
  const desc = new DataView(ring.bytes.buffer, ring.bytes.byteOffset + ring.layout.desc);
  desc.setUint16(12, 1, true); // flags: VIRTQ_DESC_F_NEXT
  desc.setUint16(14, ring.size, true); // next: out of the ring
  ring.publish();
  (q as unknown as { notify(vq: number): void }).notify(q.vq);
}

describe("a virtio-net device that needs a reset emits 'error' (ERR_VIRTIO_NEEDS_RESET), once", () => {
  for (const interrupts of ['msix', 'poll'] as const) {
    it(`in ${interrupts} mode`, async () => {
      const nic = VirtioNet.open(labNics()[0]!, { interrupts });
      try {
        const errors: VfioError[] = [];
        nic.on('error', (e) => errors.push(e));
        expect(nic.status & DeviceStatus.DEVICE_NEEDS_RESET).toBe(0);
        postMalformedChain(nic.tx[0]!);
        await until(() => errors.length > 0, "the 'error' event");
        expect(errors[0]).toMatchObject({ code: 'ERR_VIRTIO_NEEDS_RESET' });
        expect(nic.status & DeviceStatus.DEVICE_NEEDS_RESET).toBe(DeviceStatus.DEVICE_NEEDS_RESET);
        // Once: the watch stops at the first failure.
        await new Promise((r) => setTimeout(r, 600));
        expect(errors).toHaveLength(1);
        expect(() => nic.checkStatus()).toThrow(expect.objectContaining({ code: 'ERR_VIRTIO_NEEDS_RESET' }));
      } finally {
        nic.close(); // resets the device: the next user finds it clean
      }
      // Reopened, it works again.
      const again = VirtioNet.open(labNics()[0]!, { interrupts });
      expect(again.status & DeviceStatus.DEVICE_NEEDS_RESET).toBe(0);
      again.close();
    });
  }

  it("without an 'error' listener nothing is thrown: the failure is logged and checkStatus() reports it", async () => {
    const nic = VirtioNet.open(labNics()[0]!);
    try {
      postMalformedChain(nic.tx[0]!);
      await until(() => (nic.status & DeviceStatus.DEVICE_NEEDS_RESET) !== 0, 'DEVICE_NEEDS_RESET');
      await new Promise((r) => setTimeout(r, 600)); // a watch round or two ran
      expect(() => nic.checkStatus()).toThrow(expect.objectContaining({ code: 'ERR_VIRTIO_NEEDS_RESET' }));
    } finally {
      nic.close();
    }
  });
});

describe("a virtio-net device the kernel asks back emits 'removal' and closes", () => {
  it("emits 'removal' (ERR_VIRTIO_DEVICE_GONE), closes so that the unbind finishes, and binds back to vfio-pci", async () => {
    const addr = labNics().at(-1)!;
    const nic = VirtioNet.open(addr);
    let removal: VfioError | null = null;
    let closedOnRemoval = true;
    nic.on('removal', (e) => {
      removal = e;
      closedOnRemoval = nic.device.closed;
    });
    try {
      // The unbind waits in the kernel until we let go: from the thread pool, not this thread.
      await writeFile(`/sys/bus/pci/devices/${addr}/driver/unbind`, addr);
      expect(removal).toMatchObject({ code: 'ERR_VIRTIO_DEVICE_GONE', message: /being removed/ });
      expect(closedOnRemoval).toBe(false); // the listener ran before the close
      expect(nic.device.closed).toBe(true);
    } finally {
      nic.close();
      if (currentDriver(addr) !== 'vfio-pci') bindDevice(addr);
    }
    expect(currentDriver(addr)).toBe('vfio-pci');
    const again = VirtioNet.open(addr);
    again.close();
  });
});
