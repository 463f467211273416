// The SIGBUS guard of BAR mappings. An access to a mapping the kernel can no longer back
// faults with SIGBUS, which kills the process: vfio-pci zaps a BAR's mappings when the
// device stops decoding memory (Memory Space Enable cleared, a PCIe error being recovered,
// a surprise removal) and refuses to map them again until it decodes again, and a mapping
// of a file faults past the end of the file. As SPDK's PCI layer does, a process-wide
// handler turns such a fault inside a guarded range into a read of all ones, which is what
// a read from a device that has gone away returns on the bus: the faulting page is
// replaced in place with an anonymous page of 0xFF bytes, the range is marked gone, and the
// access is retried (writes land in the anonymous page, harmlessly). Faults elsewhere go to
// the handler that was there before (or kill the process, as before). The handler is
// installed with the first guarded range; a SIGBUS handler installed after it (e.g. by
// process.on('SIGBUS'), through libuv) replaces it and ends the guard.
#pragma once

#include <stddef.h>

namespace vfio_node {

// Guards [addr, addr + size) (rounded up to whole pages) and returns its slot, or -1 when
// all kGuardSlots slots are taken (the range then works unguarded: a fault in it kills the
// process as it did before). Installs the handler on first use.
int GuardRange(void* addr, size_t size);

// Stops guarding a slot from GuardRange (call it before the range is unmapped, so that
// the handler never replaces a page of whatever is mapped there next). -1 is ignored.
void UnguardRange(int slot);

// Whether a fault in the slot's range was turned into all ones (false for -1).
bool RangeGone(int slot);

// The most ranges guarded at once.
constexpr int kGuardSlots = 1024;

}  // namespace vfio_node
