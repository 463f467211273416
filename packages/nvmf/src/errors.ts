// The NVMe/TCP target's errors, one factory per code (the bdevs' and core's pass through).

import { VfioError } from '@vfio-node/core';

/**
 * The codes `@vfio-node/nvmf` raises itself. test/unit/error-codes.test.ts fails when a
 * source raises a code that no list names.
 */
export const NVMF_ERROR_CODES = ['ERR_NVMF_PDU', 'ERR_NVMF_LISTEN', 'ERR_NVMF_NQN', 'ERR_NVMF_ADDRESS', 'ERR_NVMF_NSID', 'ERR_NVMF_NO_SUCH_SUBSYSTEM'] as const;

/** A code of {@link NVMF_ERROR_CODES}. */
export type NvmfErrorCode = (typeof NVMF_ERROR_CODES)[number];

/** What a fatal PDU error carries: the TermReq's Fatal Error Status and Fatal Error Information, and the header in error. */
export interface PduFaultDetails {
  fes: number;
  fei: number;
  header: Buffer;
}

/**
 * A PDU the transport must terminate the connection for (NVMe/TCP 1.0 §3.6.2.5, §7.4.x):
 * `fes` and `fei` go into the C2HTermReq, `header` (up to 128 bytes) with them.
 */
export function pduFault(fes: number, fei: number, header: Uint8Array, message: string): VfioError<NvmfErrorCode> & { details: PduFaultDetails } {
  return new VfioError({
    code: 'ERR_NVMF_PDU',
    message,
    hint: 'The host sent a PDU that NVMe/TCP 1.0 forbids; the connection was terminated with a C2HTermReq. Check the host\'s NVMe/TCP implementation.',
    details: { fes, fei, header: Buffer.from(header.subarray(0, 128)) },
  }) as VfioError<NvmfErrorCode> & { details: PduFaultDetails };
}

/** The listening socket could not be opened. */
export function listenFailed(address: string, cause: unknown): VfioError<NvmfErrorCode> {
  const errno = (cause as { code?: string })?.code;
  return new VfioError({
    code: 'ERR_NVMF_LISTEN',
    message: `cannot listen on ${address}${errno ? ` (${errno})` : ''}`,
    hint: errno === 'EADDRINUSE' ? 'Another program (the kernel\'s nvmet?) listens there: pick another port with --listen ADDR:PORT.' : 'Check the address: it must be one of this machine\'s, and ports below 1024 need root.',
    cause,
  });
}

/** An NVMe Qualified Name that does not follow NVMe Base 2.0 §4.5. */
export function badNqn(nqn: string, why: string): VfioError<NvmfErrorCode> {
  return new VfioError({
    code: 'ERR_NVMF_NQN',
    message: `NQN '${nqn}': ${why}`,
    hint: 'An NQN is nqn.YYYY-MM.reverse.domain:name (at most 223 bytes of UTF-8), e.g. nqn.2026-01.io.vfio-node:disk1.',
  });
}

/** A listen address that is not ADDR:PORT. */
export function badAddress(text: string, why: string): VfioError<NvmfErrorCode> {
  return new VfioError({
    code: 'ERR_NVMF_ADDRESS',
    message: `listen address '${text}': ${why}`,
    hint: 'Write ADDR:PORT (127.0.0.1:4420, [::1]:4420, 0.0.0.0:4420); 4420 is NVMe/TCP\'s I/O port, 8009 its discovery port.',
  });
}

/** A namespace ID that cannot be added or removed (taken, out of range, or not there). */
export function badNsid(nqn: string, nsid: number, why: string): VfioError<NvmfErrorCode> {
  return new VfioError({
    code: 'ERR_NVMF_NSID',
    message: `${nqn}: namespace ${nsid} ${why}`,
    hint: 'NSIDs run from 1 to FFFFFFFEh and name one namespace each: remove the old one first, or let the target pick the next free NSID (leave nsid out).',
  });
}

/** A subsystem the target does not serve. */
export function noSuchSubsystem(nqn: string, served: readonly string[]): VfioError<NvmfErrorCode> {
  return new VfioError({
    code: 'ERR_NVMF_NO_SUCH_SUBSYSTEM',
    message: `the target serves no subsystem ${nqn}`,
    hint: served.length ? `It serves: ${served.join(', ')}.` : 'It serves no subsystem: give some in NvmfTarget.listen({ subsystems }).',
  });
}
