// @vfio-node/core: the layer every driver sits on. PCI discovery and binding (pci/),
// host preparation (host/), the VFIO chain (vfio/), the Device with its regions,
// interrupts and DMA memory, errors and logging.
/**
 * The layer every driver sits on: PCI discovery and binding, host preparation and `doctor`,
 * the VFIO container/group/device chain, BARs, config space, DMA memory, MSI-X interrupts,
 * {@link VfioError} with its codes ({@link CORE_ERROR_CODES}), logging and process cleanup.
 * Start with {@link Device.open}.
 *
 * @module @vfio-node/core
 */

export * from './errors.js';
export { logger, setLogLevel, type Logger } from './logging.js';
export { registerCleanup, runCleanups, handleSignals } from './lifecycle.js';
export { native } from './native.js';
export type { DmaBuffer, Mapping, RegionInfo, IrqInfo, IommuInfo, DeviceInfo, IovaRange } from './native.js';
export { RangeAllocator, type Extent } from './range-allocator.js';
export { Container, acquireSharedContainer, releaseSharedContainer } from './vfio/container.js';
export { Group } from './vfio/group.js';
export { Region } from './vfio/region.js';
export { ConfigSpace, PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY, PCI_COMMAND_INTX_DISABLE } from './config.js';
export { DmaAllocator, type DmaAllocatorOptions, type DmaMemory, type DmaPin, type DmaSource } from './dma.js';
export { allocUserMemory, pageAlignedSubarray, dmaEntryLimitOfKernel, type DmaRegistration } from './dma-user.js';
export { Interrupts, Vector, IRQ_INDEX, type IrqKind } from './interrupts.js';
export { Device, mapSharedBar, type DeviceOptions, type SharedBar } from './device.js';
export * from './pci/address.js';
export * from './pci/config-space.js';
export * from './pci/sysfs.js';
export * from './pci/names.js';
export * from './pci/group.js';
export * from './pci/bind.js';
export * from './pci/in-use.js';
export * from './block/signatures.js';
export * from './host/paths.js';
export * from './host/hugepages.js';
export * from './host/memlock.js';
export * from './host/iommu.js';
export * from './host/modules.js';
export * from './host/doctor.js';
export { shareDma, openSharedDma, DmaArena, type SharedDma } from './dma-shared.js';
export { Tracer, type TraceEvent, type TraceKind, type TraceOption, type TracerOptions, type TracePoll } from './trace.js';
