import { describe, expect, it } from 'vitest';
import { linkEnds, linkKernelWord, linkPciAddress, linkQemuArgs, machineAddress } from './link.js';

describe('the private link of a two-machine lab', () => {
  it('gives each end the other\'s socket as its remote, in the given directory', () => {
    const [one, two] = linkEnds('/tmp/vfio-lab-x');
    expect(one).toEqual({ machine: 1, localSocket: '/tmp/vfio-lab-x/link1.sock', remoteSocket: '/tmp/vfio-lab-x/link2.sock' });
    expect(two).toEqual({ machine: 2, localSocket: '/tmp/vfio-lab-x/link2.sock', remoteSocket: '/tmp/vfio-lab-x/link1.sock' });
  });

  it('carries frames with QEMU\'s dgram backend over unix sockets, on a NIC at a fixed slot with a MAC naming the machine', () => {
    const [, two] = linkEnds('/tmp/a,b');
    expect(linkQemuArgs(two)).toEqual([
      '-netdev',
      'dgram,id=link,local.type=unix,local.path=/tmp/a,,b/link2.sock,remote.type=unix,remote.path=/tmp/a,,b/link1.sock',
      '-device',
      'virtio-net-pci,netdev=link,mac=52:54:00:99:00:02,bus=pcie.0,addr=0x18',
    ]);
    // Nothing of the host's network: no inet address, no tap, no user networking.
    expect(linkQemuArgs(two).join(' ')).not.toMatch(/inet|tap|user|host=|udp/);
  });

  it('tells /init where the NIC is and which address to give it', () => {
    expect(linkPciAddress()).toBe('0000:00:18.0');
    expect(machineAddress(1)).toBe('10.99.0.1');
    expect(machineAddress(2)).toBe('10.99.0.2');
    expect(linkKernelWord(1)).toBe('vfiolab_link=0000:00:18.0,10.99.0.1/24');
    expect(linkKernelWord(2)).toBe('vfiolab_link=0000:00:18.0,10.99.0.2/24');
  });
});
