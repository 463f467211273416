// @vfio-node/lab: boot a throwaway QEMU guest with an emulated IOMMU and emulated NVMe
// and virtio-net devices, bind them to vfio-pci, and run one command inside.
/**
 * The QEMU lab: boot a throwaway guest with an emulated IOMMU and emulated NVMe and virtio-net
 * devices, bind them to vfio-pci, and run one command inside ({@link runLab}, {@link startLab}).
 * Its errors are {@link LabError} with {@link LAB_ERROR_CODES}.
 *
 * @module @vfio-node/lab
 */

export { startLab, runLab, checkCommand, Lab, CLI_BIN } from './lab.js';
export { findCliBin } from './cli-bin.js';
export type { LabHandlers, LabPhase, LabResult, LabTimings, Machine2Report, MachineContext } from './lab.js';
export { resolveOptions } from './options.js';
export type { LabOptions, ResolvedLabOptions, LabBind, LabAccel, Machine2Options } from './options.js';
export { linkEnds, linkKernelWord, linkPciAddress, linkQemuArgs, machineAddress, LINK_PREFIX, LINK_PREFIX_LENGTH, LINK_PCI_SLOT, MACHINE_AGENT_PORT } from './link.js';
export type { LinkEnd, MachineNumber } from './link.js';
export { runOnMachine, serveMachineCommands } from './machine-commands.js';
export type { MachineAgentOptions, MachineCommandResult, RunOnMachineOptions } from './machine-commands.js';
export { parseNvmeSpec, defaultNvmeSpec } from './nvme-spec.js';
export { parseNicSpec, defaultNicSpec, nicDeviceProperties } from './nic-spec.js';
export type { NicSpec } from './nic-spec.js';
export type { NvmeSpec, NvmeBacking, NvmeInjection } from './nvme-spec.js';
export { parseSize, formatSize } from './size.js';
export { buildQemuArgs, kernelCommandLine, blkdebugConfig, GUEST_LAB_DIR } from './qemu-args.js';
export type { QemuPaths } from './qemu-args.js';
export { findGuestKernel, defaultCacheDir } from './host.js';
export { chooseAccel, runProbe, systemAccelHost } from './accel.js';
export type { AccelDecision, AccelHost, ProbeVerdict } from './accel.js';
export { ensureInitramfs } from './initramfs.js';
export { LabError, LAB_ERROR_CODES, type LabErrorCode, type LabErrorInit } from './errors.js';
