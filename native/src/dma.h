// Pins on the process-wide DMA buffer table (dma.cc), for native objects that keep raw
// pointers into DMA memory across calls (the NVMe queue handle): while a pin is held, the
// memory stays mapped even if JavaScript releases every handle on it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vfio_node {

// Takes a reference on buffer `id`; false when no such buffer is open.
bool DmaPin(uint64_t id, void** addr, size_t* size);
// Drops a reference taken with DmaPin (the last one unmaps the memory).
void DmaUnpin(uint64_t id);

}  // namespace vfio_node
