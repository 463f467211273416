// The errors this driver raises: VfioError objects (from @vfio-node/core) with stable
// ERR_VIRTIO_* codes, a message that says what was wrong and a hint that says what to do.

import { VfioError } from '@vfio-node/core';
import type { CoreErrorCode, SystemErrorCode } from '@vfio-node/core';
import { describeStatus } from './registers.js';

/**
 * The ERR_VIRTIO_* codes this driver raises (it also raises core's, {@link CoreErrorCode}).
 * A unit test (test/unit/error-codes.test.ts) fails when the sources raise a code that no
 * list names.
 */
export const VIRTIO_NET_ERROR_CODES = [
  // the device and its bring-up (virtio 1.2 §3.1)
  'ERR_VIRTIO_NOT_NET',
  'ERR_VIRTIO_NO_CAPABILITY',
  'ERR_VIRTIO_FEATURES',
  'ERR_VIRTIO_STATUS',
  'ERR_VIRTIO_DEVICE_GONE',
  'ERR_VIRTIO_NEEDS_RESET',
  // queues, interrupts and the control virtqueue
  'ERR_VIRTIO_QUEUE_PAIRS',
  'ERR_VIRTIO_QUEUE_UNAVAILABLE',
  'ERR_VIRTIO_QUEUE_INDEX',
  'ERR_VIRTIO_MSIX',
  'ERR_VIRTIO_NO_INTERRUPTS',
  'ERR_VIRTIO_BUSY',
  'ERR_VIRTIO_CTRL',
  'ERR_VIRTIO_CTRL_TIMEOUT',
  // frames
  'ERR_VIRTIO_FRAME_TOO_LARGE',
  'ERR_VIRTIO_NO_CSUM_OFFLOAD',
  'ERR_VIRTIO_CSUM_REQUEST',
] as const;

/** Every code `@vfio-node/virtio-net` raises: its own and core's (with errno names). */
export type VirtioNetErrorCode = (typeof VIRTIO_NET_ERROR_CODES)[number] | CoreErrorCode | SystemErrorCode;

export function frameTooLarge(length: number, max: number, mtu: number): VfioError {
  return new VfioError({
    code: 'ERR_VIRTIO_FRAME_TOO_LARGE',
    message: `frame of ${length} bytes is larger than the ${max}-byte maximum (MTU ${mtu} + 14-byte Ethernet header); nothing was sent`,
    hint: 'Split the payload, or give the driver a larger mtu option if the device accepts it (VIRTIO_NET_F_MTU).',
    details: { length, max, mtu },
  });
}

export function noChecksumOffload(pair: number): VfioError {
  return new VfioError({
    code: 'ERR_VIRTIO_NO_CSUM_OFFLOAD',
    message: `transmit queue ${pair} cannot ask the device for checksums: VIRTIO_NET_F_CSUM was not negotiated; nothing was sent`,
    hint: 'Compute the checksum in software, or use a device that offers VIRTIO_NET_F_CSUM (QEMU: a tap backend with vnet_hdr; in the lab --nic backend=tap) and leave the csum feature on.',
    details: { pair },
  });
}

export function badChecksumRequest(csumStart: number, csumOffset: number, length: number): VfioError {
  return new VfioError({
    code: 'ERR_VIRTIO_CSUM_REQUEST',
    message: `checksum offload asks for a checksum at ${csumStart} + ${csumOffset}, outside a frame of ${length} bytes; nothing was sent`,
    hint: 'csum_start is where the transport header begins (34 for UDP over IPv4 behind Ethernet), csum_offset where its checksum field is (6 for UDP, 16 for TCP): offloadChecksum() or prepareChecksumOffload() work them out.',
    details: { csumStart, csumOffset, length },
  });
}

export function queueIndex(index: number, count: number): VfioError {
  return new VfioError({
    code: 'ERR_VIRTIO_QUEUE_INDEX',
    message: `queue index ${index} is out of range: this device was opened with ${count} queue pair${count === 1 ? '' : 's'} (0 to ${count - 1})`,
    hint: 'Open the device with more queuePairs (needs VIRTIO_NET_F_MQ) or use a smaller index.',
    details: { index, count },
  });
}

export function noCapability(device: string, what: string): VfioError {
  return new VfioError({
    code: 'ERR_VIRTIO_NO_CAPABILITY',
    message: `${device} has no ${what} capability: not a modern (virtio 1.x) PCI device`,
    hint: 'This driver speaks the modern virtio PCI transport (virtio 1.2 §4.1.4). In QEMU add disable-legacy=on to the virtio-net-pci device.',
    device,
  });
}

export function notVirtioNet(device: string, vendor: number, deviceId: number): VfioError {
  return new VfioError({
    code: 'ERR_VIRTIO_NOT_NET',
    message: `${device} is not a virtio network device (vendor 0x${vendor.toString(16)}, device 0x${deviceId.toString(16)}; expected 0x1af4, 0x1041 or 0x1000)`,
    hint: 'Pick the NIC from `vfio-node list` (class 0x020000, vendor 1af4).',
    device,
  });
}

export function featuresRefused(device: string, why: string, missing: string): VfioError {
  return new VfioError({
    code: 'ERR_VIRTIO_FEATURES',
    message: `${device}: feature negotiation failed: ${why}`,
    hint: missing === 'VIRTIO_F_ACCESS_PLATFORM'
      ? 'Behind an IOMMU the device must translate our addresses: in QEMU add iommu_platform=on to the virtio-net-pci device.'
      : 'Check the features the device offers (VFIO_NODE_LOG=debug shows them) against the driver options.',
    device,
    details: { missing },
  });
}

/** device_status says the device cannot go on: gone (all ones) or DEVICE_NEEDS_RESET (§2.1.1). */
export function deviceStatusError(device: string, status: number): VfioError | undefined {
  if (status === 0xff) {
    return new VfioError({
      code: 'ERR_VIRTIO_DEVICE_GONE',
      message: `${device}: the device reads all ones (device_status 0xff): it has vanished (surprise removal, a failed link) or stopped decoding memory (Memory Space Enable cleared, a PCIe error)`,
      hint: 'Close the device; check `dmesg` and `vfio-node list` for it.',
      device,
      details: { status },
    });
  }
  if (status & 64) {
    return new VfioError({
      code: 'ERR_VIRTIO_NEEDS_RESET',
      message: `${device}: the device set DEVICE_NEEDS_RESET (device_status ${describeStatus(status)}): it met an error it cannot recover from`,
      hint: 'Close and open the device again (a reset); the frames in flight are lost.',
      device,
      details: { status },
    });
  }
  return undefined;
}

export function statusStuck(device: string, step: string, status: number): VfioError {
  return new VfioError({
    code: 'ERR_VIRTIO_STATUS',
    message: `${device}: ${step} (device_status ${describeStatus(status)})`,
    hint: 'The device refused the driver; `dmesg` on the host/guest may say why.',
    device,
    details: { status },
  });
}

export function queueUnavailable(device: string, vq: number, why: string): VfioError {
  return new VfioError({ code: 'ERR_VIRTIO_QUEUE_UNAVAILABLE', message: `${device}: virtqueue ${vq} ${why}`, hint: 'Ask for fewer queue pairs or a smaller queueSize.', device, details: { vq } });
}

export function msixRefused(device: string, what: string, vector: number): VfioError {
  return new VfioError({
    code: 'ERR_VIRTIO_MSIX',
    message: `${device}: the device refused MSI-X vector ${vector} for ${what} (read back VIRTIO_MSI_NO_VECTOR)`,
    hint: "Use polling (interrupts: 'poll') or give the device more vectors (QEMU: vectors=N).",
    device,
  });
}

export function invalidOption(name: string, value: unknown, expected: string): VfioError {
  return new VfioError({ code: 'ERR_INVALID_ARG', message: `invalid option ${name}: ${String(value)} (expected ${expected})`, hint: 'Fix that option of VirtioNet.open() (see its options type).', details: { name, value } });
}

/** The kernel asks for the device back (VFIO's device request: hot unplug, unbind): the 'removal' event. */
export function removalRequested(device: string): VfioError {
  return new VfioError({
    code: 'ERR_VIRTIO_DEVICE_GONE',
    message: `${device} is being removed (the kernel asked for it back: hot unplug or unbind)`,
    hint: 'The NIC closes itself; open it again once the device is back.',
    device,
  });
}

/** The control queue gave no answer to a command within timeoutMs (§5.1.6.5). */
export function controlQueueTimeout(device: string, command: string, timeoutMs: number): VfioError {
  return new VfioError({
    code: 'ERR_VIRTIO_CTRL_TIMEOUT',
    message: `${device}: the control queue did not answer ${command} within ${timeoutMs / 1000} s`,
    hint: 'The device stopped processing its control queue: reset it (close and open again); with --trace the control queue lines show what was made available.',
    device,
  });
}

/** The device answered a control queue command with VIRTIO_NET_ERR (§5.1.6.5). */
export function controlQueueRefused(device: string, what: string, ack: number): VfioError {
  return new VfioError({
    code: 'ERR_VIRTIO_CTRL',
    message: `${device}: the device refused ${what} (ack ${ack})`,
    hint: 'Ask for what the device offers (max_virtqueue_pairs in its configuration, VIRTIO_NET_F_MQ), or open it with fewer queue pairs.',
    device,
  });
}
