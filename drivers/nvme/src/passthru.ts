// Passthrough: an admin or I/O command exactly as the caller builds it, for commands the
// driver has no method for (vendor specific ones, Security Send/Receive, Sanitize, log
// pages it does not parse). NVM Express Base Specification 2.0: the Common Command Format
// ("Submission Queue Entry"); the data transfer bits of an opcode ("Opcodes for Admin
// Commands", "Opcodes for I/O Commands": bits 1:0, 00b no data, 01b host to controller,
// 10b controller to host, 11b bidirectional).
//
// What a raw command could break is refused before it reaches the device: fields out of
// range, a data direction that contradicts the opcode, a transfer beyond MDTS (a raw
// command cannot be split: its own fields say how much it moves), memory the controller
// cannot reach, and the admin commands the driver sends itself, which would leave its
// queues, shadow doorbells or outstanding commands other than it believes. Data goes
// through PRPs (PSDT 00b); there is no metadata pointer (MPTR 0).

import type { DmaAllocator, DmaMemory } from '@vfio-node/core';
import { newPending, type CommandQueue } from './command-queue.js';
import { AdminOpcode, SQE, sqeInit } from './commands.js';
import { bufferMisaligned, bufferNotDma, passthruDirection, passthruInvalid, passthruManagedOpcode, transferTooLarge } from './errors.js';
import { prpListPagesFor, setPrps, type PrpListPages } from './prp.js';

/** Which way the data goes: 'read' controller to host, 'write' host to controller. */
export type PassthruDirection = 'none' | 'read' | 'write';

/** One raw command. Every dword is a 32-bit unsigned integer; omitted ones are 0. */
export interface PassthruCommand {
  /** CDW0 bits 7:0. */
  opcode: number;
  /** Namespace Identifier (default 0; a namespace's passthru uses its own). */
  nsid?: number;
  cdw2?: number;
  cdw3?: number;
  cdw10?: number;
  cdw11?: number;
  cdw12?: number;
  cdw13?: number;
  cdw14?: number;
  cdw15?: number;
  /**
   * The data: DMA memory of this device (controller.allocBuffer(n).bytes or a dword-aligned
   * subarray), or a byte length, for which the driver allocates zeroed memory and returns
   * a copy of it. Omit it (or 0) for a command without data.
   */
  data?: Uint8Array | number;
  /** Default: from the opcode's bits 1:0 when there is data, else 'none'. */
  direction?: PassthruDirection;
  /** How long the command may take before it is aborted (then the controller reset), ms. Default: the controller's timeoutMs. */
  timeoutMs?: number;
  /** Send data the opposite way the opcode's bits 1:0 say (vendor commands that do not follow the convention). */
  force?: boolean;
}

/** What the controller answered (a status other than success rejects with an NvmeStatusError instead). */
export interface PassthruResult {
  /** Completion DW0, command specific (nvme-cli's "result"). */
  dw0: number;
  /** Completion DW1, command specific (reserved for most commands). */
  dw1: number;
  /** The Status Field: 0, Successful Completion. */
  status: number;
  /** The data buffer given, a copy of the one the driver allocated, or null without data. */
  data: Uint8Array | null;
}

/** Admin commands the driver sends itself, with why their passthrough is refused and what to do instead. */
export const MANAGED_ADMIN_OPCODES: ReadonlyMap<number, { name: string; why: string; instead: string }> = new Map([
  [AdminOpcode.DeleteIoSubmissionQueue, { name: 'Delete I/O Submission Queue', why: 'deleting one of its queues would fail every command on it and leave it posting to a queue that is gone', instead: 'Delete queue pairs you created with controller.deleteExternalQueuePair(qid); close() deletes the others.' }],
  [AdminOpcode.CreateIoSubmissionQueue, { name: 'Create I/O Submission Queue', why: 'a queue it did not create has no memory, CIDs or doorbell bookkeeping of its own', instead: 'Create queue pairs with controller.createQueuePair() or reserveQueueId() + createExternalQueuePair().' }],
  [AdminOpcode.DeleteIoCompletionQueue, { name: 'Delete I/O Completion Queue', why: 'deleting one of its completion queues would strand every command whose completion goes there', instead: 'Delete queue pairs you created with controller.deleteExternalQueuePair(qid); close() deletes the others.' }],
  [AdminOpcode.CreateIoCompletionQueue, { name: 'Create I/O Completion Queue', why: 'a queue it did not create has no memory, vector or bookkeeping of its own', instead: 'Create queue pairs with controller.createQueuePair() or reserveQueueId() + createExternalQueuePair().' }],
  [AdminOpcode.Abort, { name: 'Abort', why: 'its watchdog aborts the commands that outlive their timeout, and the command identifiers are its own', instead: 'Give a slow command its own timeoutMs; the watchdog aborts it when that passes.' }],
  [AdminOpcode.AsynchronousEventRequest, { name: 'Asynchronous Event Request', why: 'it keeps these outstanding and reads the log page each event names; an extra one could take an event it never sees, and might never complete', instead: 'Listen with controller.onAsyncEvent(listener).' }],
  [AdminOpcode.DoorbellBufferConfig, { name: 'Doorbell Buffer Config', why: 'it rings its doorbells through the shadow buffers it configured, and new ones would make the controller miss them', instead: 'Open the controller with shadowDoorbells (the default when OACS bit 8 is set).' }],
]);

/** The direction bits 1:0 of an opcode give, by the NVMe convention. */
export function opcodeDirection(opcode: number): PassthruDirection | 'bidirectional' {
  return (['none', 'write', 'read', 'bidirectional'] as const)[opcode & 3]!;
}

/** A command with its fields checked. */
export interface CheckedPassthru {
  opcode: number;
  nsid: number;
  /** CDW2, CDW3, CDW10 .. CDW15. */
  cdw: { 2: number; 3: number; 10: number; 11: number; 12: number; 13: number; 14: number; 15: number };
  direction: PassthruDirection;
  /** Data bytes (0: none). */
  length: number;
  /** The caller's buffer, or null when the driver allocates (or there is no data). */
  buffer: Uint8Array | null;
  timeoutMs: number;
}

const DWORD_FIELDS = ['cdw2', 'cdw3', 'cdw10', 'cdw11', 'cdw12', 'cdw13', 'cdw14', 'cdw15'] as const;
const DIRECTIONS: readonly string[] = ['none', 'read', 'write'];
const MAX_TIMEOUT_MS = 3_600_000;

/**
 * Checks a passthrough command against the command format, the opcode's data transfer
 * bits and the transfer limit (maxTransfer, from MDTS); admin: whether it goes to the
 * admin queue (where the driver's own commands are refused). Does not check that a
 * buffer is DMA memory (runPassthru does, with the device's allocator).
 * @throws ERR_NVME_PASSTHRU_INVALID, ERR_NVME_PASSTHRU_MANAGED_OPCODE, ERR_NVME_PASSTHRU_DIRECTION, ERR_NVME_TRANSFER_TOO_LARGE
 */
export function checkPassthru(command: PassthruCommand, admin: boolean, maxTransfer: number): CheckedPassthru {
  if (typeof command !== 'object' || command === null) throw passthruInvalid('command', command, 'an object with at least an opcode');
  const { opcode } = command;
  if (typeof opcode !== 'number' || !Number.isInteger(opcode) || opcode < 0 || opcode > 0xff) throw passthruInvalid('opcode', opcode, 'an integer from 0 to 255 (0xff)');
  const dword = (name: string, v: unknown): number => {
    if (v === undefined) return 0;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw passthruInvalid(name, v, 'a 32-bit unsigned integer, 0 to 0xffffffff');
    return v;
  };
  const nsid = dword('nsid', command.nsid);
  const [c2, c3, c10, c11, c12, c13, c14, c15] = DWORD_FIELDS.map((f) => dword(f, command[f]));
  let timeoutMs = 0;
  if (command.timeoutMs !== undefined) {
    const t = command.timeoutMs;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > MAX_TIMEOUT_MS) throw passthruInvalid('timeoutMs', t, `an integer from 1 to ${MAX_TIMEOUT_MS} ms`);
    timeoutMs = t;
  }
  if (command.direction !== undefined && !DIRECTIONS.includes(command.direction)) throw passthruInvalid('direction', command.direction, "'none', 'read' or 'write'");

  const managed = admin ? MANAGED_ADMIN_OPCODES.get(opcode) : undefined;
  if (managed) throw passthruManagedOpcode(opcode, managed.name, managed.why, managed.instead);

  // The data: a buffer, a length, or nothing.
  const data = command.data;
  let length = 0;
  let buffer: Uint8Array | null = null;
  if (data instanceof Uint8Array) {
    buffer = data;
    length = data.byteLength;
    if (length === 0) throw passthruInvalid('data', 'an empty buffer', 'a buffer of at least 1 byte, or no data', 'Leave data out for a command without data.');
  } else if (typeof data === 'number') {
    if (!Number.isInteger(data) || data < 0) throw passthruInvalid('data length', data, 'a non-negative integer number of bytes');
    length = data;
  } else if (data !== undefined) {
    throw passthruInvalid('data', typeof data, 'a Uint8Array of DMA memory or a byte length', 'Allocate the buffer with controller.allocBuffer(size) and pass its .bytes, or pass the length and use the returned data.');
  }

  // The direction, against the opcode's bits 1:0.
  const bits = opcodeDirection(opcode);
  const force = command.force === true;
  let direction: PassthruDirection;
  if (length === 0) {
    direction = command.direction ?? 'none';
    if (direction !== 'none') throw passthruInvalid('data', 'none', `a buffer or length: direction '${direction}' moves data`, 'Give data (a DMA buffer or a byte length), or direction none.');
  } else {
    if (command.direction === 'none') throw passthruInvalid('direction', 'none', `'read' or 'write': the command has ${length} bytes of data`, 'Leave data out for a command without data.');
    if (command.direction === undefined && (bits === 'none' || bits === 'bidirectional')) {
      throw passthruInvalid('direction', undefined, `'read' or 'write': opcode ${opcode.toString(16)}h's bits 1:0 (${bits === 'none' ? '00b, no data' : '11b, bidirectional'}) do not say which way ${length} bytes go`, 'Say the direction, with force: true (the opcode does not follow the convention for this data).');
    }
    direction = command.direction ?? (bits as 'read' | 'write');
    if (direction !== bits && !force) throw passthruDirection(opcode, direction, bits === 'none' ? 'no data' : bits === 'bidirectional' ? 'bidirectional' : bits === 'read' ? "controller to host, 'read'" : "host to controller, 'write'");
    if (length > maxTransfer) throw transferTooLarge(`passthrough opcode ${opcode.toString(16)}h`, length, maxTransfer);
  }
  return { opcode, nsid, cdw: { 2: c2!, 3: c3!, 10: c10!, 11: c11!, 12: c12!, 13: c13!, 14: c14!, 15: c15! }, direction, length, buffer, timeoutMs };
}

/** Writes a checked command into the entry at dword sqe of u32 (without data pointer). */
export function fillPassthru(u32: Uint32Array, sqe: number, cid: number, c: CheckedPassthru): void {
  sqeInit(u32, sqe, c.opcode, cid, c.nsid);
  u32[sqe + SQE.CDW2 / 4] = c.cdw[2];
  u32[sqe + SQE.CDW3 / 4] = c.cdw[3];
  u32[sqe + SQE.CDW10 / 4] = c.cdw[10];
  u32[sqe + SQE.CDW11 / 4] = c.cdw[11];
  u32[sqe + SQE.CDW12 / 4] = c.cdw[12];
  u32[sqe + SQE.CDW13 / 4] = c.cdw[13];
  u32[sqe + SQE.CDW14 / 4] = c.cdw[14];
  u32[sqe + SQE.CDW15 / 4] = c.cdw[15];
}

/** Where a passthrough command goes: a promise layer over a queue pair, and the memory and limits around it. */
export interface PassthruTarget {
  queue: CommandQueue;
  dma: DmaAllocator;
  pageSize: number;
  maxTransfer: number;
  /** The admin queue (its driver-managed opcodes are refused). */
  admin: boolean;
  /** Aborts the command (see CommandQueue.run); I/O queues only. */
  signal?: AbortSignal;
}

/**
 * Runs one passthrough command: checks it (checkPassthru), puts its data in DMA memory
 * the controller can reach, submits it and waits for its completion.
 * @returns DW0, DW1 and the data (PassthruResult).
 * @throws the errors of checkPassthru, ERR_NVME_BUFFER_NOT_DMA, ERR_NVME_BUFFER_MISALIGNED,
 *   NvmeStatusError (the controller's status, e.g. Invalid Command Opcode), ERR_NVME_TIMEOUT, ERR_NVME_RESET
 */
export async function runPassthru(target: PassthruTarget, command: PassthruCommand): Promise<PassthruResult> {
  const c = checkPassthru(command, target.admin, target.maxTransfer);
  const { queue, dma, pageSize } = target;
  let own: DmaMemory | null = null;
  let list: DmaMemory | null = null;
  let retained: (() => void) | undefined;
  try {
    let iova = 0;
    if (c.length > 0) {
      if (c.buffer) {
        const at = dma.translate(c.buffer);
        if (at === undefined) throw bufferNotDma(dma.refusal(c.buffer));
        iova = Number(at);
        if (iova % 4 !== 0) throw bufferMisaligned(iova);
        // Registered caller memory stays mapped until the command ends (undefined: allocator memory).
        retained = dma.retain(c.buffer);
      } else {
        own = dma.alloc(c.length, { align: pageSize, internal: true });
        iova = Number(own.iova);
      }
    }
    // Each CID of a queue has PRP list pages for that queue's largest transfer (the admin
    // queue's: one page, 512 entries); a longer passthrough brings a list of its own.
    let prpList: PrpListPages | null = null;
    if (c.length > 0) {
      const pages = Math.ceil(((iova % pageSize) + c.length) / pageSize);
      const need = prpListPagesFor((pages - 1) * pageSize, pageSize);
      if (pages > 2 && need > queue.qp.prpList(0).pages) {
        list = dma.alloc(need * pageSize, { align: pageSize, internal: true });
        prpList = { u32: new Uint32Array(list.bytes.buffer, list.bytes.byteOffset, list.size / 4), dw: 0, iova: Number(list.iova), pages: need };
      }
    }
    const p = newPending();
    p.name = `${target.admin ? 'Admin' : 'I/O'} passthrough (opcode ${c.opcode.toString(16).padStart(2, '0')}h)`;
    p.wantDw1 = true;
    p.signal = target.signal ?? null;
    p.buffer = c.buffer ?? own?.bytes ?? null;
    p.scratch = list?.bytes ?? null;
    const requests = queue.qp.requests;
    p.fill = (u32, sqe, cid) => {
      fillPassthru(u32, sqe, cid, c);
      if (c.length > 0) setPrps(u32, sqe, iova, c.length, pageSize, prpList ?? queue.qp.prpList(cid));
      requests.timeoutMs[cid] = c.timeoutMs; // read by the controller's watchdog
    };
    const dw0 = await queue.run(p);
    const data = c.buffer ?? (own ? own.bytes.slice() : null);
    return { dw0: dw0 >>> 0, dw1: p.dw1, status: 0, data };
  } finally {
    retained?.();
    list?.release();
    own?.release();
  }
}
