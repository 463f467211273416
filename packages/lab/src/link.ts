// The private link of a two-machine lab (`--machines 2`): one extra virtio-net NIC in
// each guest, left to the guest kernel's virtio_net driver, joined by QEMU's `dgram`
// backend over two unix datagram sockets in the lab's run directory. Each QEMU binds its
// own socket and sends its frames to the other's: no host network, no namespace, no
// order in which the two must start (a frame sent before the other side is up is
// dropped, as on a cable with nobody at the other end). The guest's /init finds the NIC
// by its fixed PCI slot, keeps it off vfio-pci and gives it the machine's address.

import path from 'node:path';

/** The machines a lab can boot: the first runs the command, the second serves it over the link. */
export type MachineNumber = 1 | 2;

/** The link's IPv4 network: machine N is 10.99.0.N/24. */
export const LINK_PREFIX = '10.99.0.';
/** The link's prefix length. */
export const LINK_PREFIX_LENGTH = 24;
/** The TCP port on which machine 2's command agent listens (machine-commands.ts). */
export const MACHINE_AGENT_PORT = 7010;
/**
 * The link NIC's PCI slot on the root bus (pcie.0), the same in both guests: placed first
 * on QEMU's command line, so it never moves the NVMe controllers and NICs, which /init
 * finds by class anyway.
 */
export const LINK_PCI_SLOT = 0x18;

/** Machine `machine`'s address on the link, without the prefix length. */
export function machineAddress(machine: MachineNumber): string {
  return `${LINK_PREFIX}${machine}`;
}

/** The link NIC's PCI address inside a guest. */
export function linkPciAddress(): string {
  return `0000:00:${LINK_PCI_SLOT.toString(16).padStart(2, '0')}.0`;
}

/** One machine's end of the link: which machine, and the two datagram sockets (this end's and the other's). */
export interface LinkEnd {
  /** The machine this end belongs to. */
  machine: MachineNumber;
  /** The unix socket this machine's QEMU binds. */
  localSocket: string;
  /** The unix socket the other machine's QEMU binds (frames go there). */
  remoteSocket: string;
}

/** Both ends of a link whose sockets live in `dir` (the first machine's run directory). */
export function linkEnds(dir: string): [LinkEnd, LinkEnd] {
  const s = (m: MachineNumber) => path.join(dir, `link${m}.sock`);
  return [
    { machine: 1, localSocket: s(1), remoteSocket: s(2) },
    { machine: 2, localSocket: s(2), remoteSocket: s(1) },
  ];
}

/** The QEMU arguments for one end: the dgram backend and the NIC at its fixed slot, with a MAC that names the machine. */
export function linkQemuArgs(end: LinkEnd): string[] {
  const o = (v: string) => v.replaceAll(',', ',,');
  return [
    '-netdev',
    `dgram,id=link,local.type=unix,local.path=${o(end.localSocket)},remote.type=unix,remote.path=${o(end.remoteSocket)}`,
    '-device',
    `virtio-net-pci,netdev=link,mac=52:54:00:99:00:0${end.machine},bus=pcie.0,addr=0x${LINK_PCI_SLOT.toString(16)}`,
  ];
}

/** The kernel command-line word /init reads: the NIC's PCI address and the address to give it. */
export function linkKernelWord(machine: MachineNumber): string {
  return `vfiolab_link=${linkPciAddress()},${machineAddress(machine)}/${LINK_PREFIX_LENGTH}`;
}
