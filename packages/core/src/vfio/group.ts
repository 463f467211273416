// A VFIO group (/dev/vfio/N): the unit of isolation the IOMMU can give. Every device in
// the group must be bound to vfio-pci (or to no driver) before the group is "viable" and
// can join a container.

import { native } from '../native.js';
import { groupMembersOf, nonViableMembers } from '../pci/group.js';
import { VfioError } from '../errors.js';
import type { Container } from './container.js';

const C = native.constants;

/**
 * A VFIO group (/dev/vfio/N): the unit of isolation the IOMMU gives; viable only when every device in it is
 * bound to vfio-pci (or to no driver).
 */
export class Group {
  readonly fd: number;
  private closed = false;

  constructor(
    readonly number: number,
    readonly container: Container,
    sysfs = '/sys',
  ) {
    const path = `/dev/vfio/${number}`;
    this.fd = native.open(path, C.O_RDWR!);
    try {
      const status = native.vfioGroupGetStatus(this.fd);
      if (!(status & C.VFIO_GROUP_FLAGS_VIABLE!)) {
        const others = nonViableMembers(number, { sysfs });
        throw new VfioError({
          code: 'ERR_VFIO_GROUP_NOT_VIABLE',
          message: `IOMMU group ${number} is not viable: ${others.map((m) => `${m.address} is bound to ${m.driver}`).join(', ') || 'a member is bound to a host driver'}`,
          hint: `Every device in the group must be bound to vfio-pci: vfio-node bind ${others.map((m) => m.address).join(' ') || '<each member>'}`,
          path,
          details: { group: number, members: groupMembersOf(number, { sysfs }) },
        });
      }
      native.vfioGroupSetContainer(this.fd, container.fd);
      container.ensureIommu();
    } catch (err) {
      native.close(this.fd);
      throw err;
    }
  }

  /** VFIO_GROUP_GET_DEVICE_FD: the device fd for a PCI address in this group. */
  openDevice(address: string): number {
    return native.vfioGroupGetDeviceFd(this.fd, address);
  }

  /** Closes the group's descriptor. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      native.vfioGroupUnsetContainer(this.fd);
    } catch {
      // Already gone (device removed): closing the fd is what matters.
    }
    native.close(this.fd);
  }
}
