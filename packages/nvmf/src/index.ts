// @vfio-node/nvmf: an NVMe/TCP target serving bdevs.
/**
 * An NVMe over Fabrics target on TCP ({@link NvmfTarget.listen}): subsystems of bdevs
 * (`@vfio-node/bdev`) served to the Linux kernel's nvme-tcp initiator and any NVMe/TCP
 * host, with a discovery controller; and the PDU codec it is built on ({@link PduReader},
 * the encode functions). Errors: {@link NVMF_ERROR_CODES}.
 *
 * @module @vfio-node/nvmf
 */

export { NvmfTarget, type NvmfTargetOptions, type NvmfTargetEvents, type NvmfLogEvent } from './target.js';
export { Subsystem, type SubsystemOptions } from './subsystem.js';
export { DISCOVERY_NQN, checkNqn, parseListenAddress, type ListenAddress } from './names.js';
export {
  PduType, PduFlags, FES, CH, CH_SIZE, HLEN, DIGEST_SIZE, SQE_SIZE, CQE_SIZE, TERMREQ_MAX_PLEN,
  PduReader, decodePdu, encodeICReq, encodeICResp, encodeTermReq, encodeCapsuleCmd, encodeCapsuleResp, encodeDataPdu, encodeR2T,
  type PduTypeValue, type FesValue, type Digests, type Pdu, type ICReq, type ICResp, type TermReq, type CapsuleCmd, type CapsuleResp,
  type DataPdu, type R2T, type PduReaderLimits,
} from './pdu.js';
export { Sts, SCT, encodeCqe, decodeCqeStatus, type Status, type Completion } from './status.js';
export { crc32c } from './crc32c.js';
export { NVMF_ERROR_CODES, type NvmfErrorCode, type PduFaultDetails } from './errors.js';
