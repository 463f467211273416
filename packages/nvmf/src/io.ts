// I/O commands of the NVM Command Set (NVM Command Set Specification 1.0 §3) executed
// against a namespace's bdev: Read, Write, Flush, Write Zeroes and Dataset Management
// (deallocate). A transfer larger than the bdev's maxTransfer is split.

import type { Bdev, BdevBuffer } from '@vfio-node/bdev';
import type { CommandResult } from './controller.js';
import type { ReadBuffers } from './read-buffers.js';
import { NvmOpcode, type Sqe } from './sqe.js';
import { fail, ok, Sts, type Completion } from './status.js';

/** The completion of every successful I/O (read-only: one object for all). */
const OK: Completion = Object.freeze(ok());

/** The starting LBA (SLBA, CDW10-11) and number of logical blocks (NLB, CDW12 15:0, 0's based). */
function range(sqe: Sqe): { slba: bigint; nlb: number } {
  return { slba: (BigInt(sqe.cdw(11)) << 32n) | BigInt(sqe.cdw(10)), nlb: (sqe.cdw(12) & 0xffff) + 1 };
}

function inRange(bdev: Bdev, slba: bigint, nlb: number): boolean {
  return slba + BigInt(nlb) <= bdev.blocks;
}

/** The bytes a Read or Write moves, for the transport to check against the SGL before any data moves. */
export function transferLength(sqe: Sqe, bdev: Bdev | undefined): number | null {
  if (!bdev || (sqe.opcode !== NvmOpcode.Read && sqe.opcode !== NvmOpcode.Write)) return null;
  return range(sqe).nlb * bdev.blockSize;
}

/**
 * Executes an I/O command on `namespaces` (NSID to bdev). `data` is the host's data for a
 * Write or a Dataset Management (already all received); a Read returns its data in a buffer
 * of the bdev's (CommandResult.buffer), which the caller releases once it has sent it.
 * `onError` hears why the bdev failed a command (the host sees only a status).
 */
export function executeIo(namespaces: ReadonlyMap<number, Bdev>, sqe: Sqe, data: Buffer | null, sglLength: number, buffers: ReadBuffers, onError?: (err: unknown, sqe: Sqe) => void): Promise<CommandResult> {
  const bdev = namespaces.get(sqe.nsid);
  if (!bdev) return Promise.resolve({ completion: fail(Sts.InvalidNamespaceOrFormat) });
  if (sqe.opcode === NvmOpcode.Read) return read(bdev, sqe, sglLength, buffers, onError);
  return executeOther(bdev, sqe, data, onError);
}

/**
 * Read (NVM Command Set 1.0 §3.2.4), the hot path: one bdev read into the bdev's own memory
 * (DMA memory for an NVMe bdev), kept by the connection between reads (read-buffers.ts),
 * and one promise reaction; the data is not copied.
 */
function read(bdev: Bdev, sqe: Sqe, sglLength: number, buffers: ReadBuffers, onError?: (err: unknown, sqe: Sqe) => void): Promise<CommandResult> {
  const { slba, nlb } = range(sqe);
  if (!inRange(bdev, slba, nlb)) return Promise.resolve({ completion: fail(Sts.LbaOutOfRange) });
  const bytes = nlb * bdev.blockSize;
  if (sglLength !== bytes) return Promise.resolve({ completion: fail(Sts.DataSglLengthInvalid) });
  let buffer: BdevBuffer | undefined;
  let done: Promise<void>;
  try {
    buffer = buffers.take(bdev, bytes);
    const view = buffer.bytes;
    done = bytes <= bdev.maxTransfer ? bdev.read(slba, nlb, view) : inPieces(bdev, slba, nlb, (lba, n, at) => bdev.read(lba, n, view.subarray(at, at + n * bdev.blockSize)));
  } catch (err) {
    buffer?.release();
    done = Promise.reject(err);
  }
  const b = buffer;
  return done.then(
    () => ({ completion: OK, data: b!.bytes, buffer: b }),
    (err: unknown) => {
      if (b) b.release();
      onError?.(err, sqe);
      return { completion: fail(Sts.UnrecoveredReadError) };
    },
  );
}

/** The I/O commands other than Read. */
async function executeOther(bdev: Bdev, sqe: Sqe, data: Buffer | null, onError?: (err: unknown, sqe: Sqe) => void): Promise<CommandResult> {
  try {
    switch (sqe.opcode) {
      case NvmOpcode.Write: {
        const { slba, nlb } = range(sqe);
        if (!inRange(bdev, slba, nlb)) return { completion: fail(Sts.LbaOutOfRange) };
        if (!data || data.length !== nlb * bdev.blockSize) return { completion: fail(Sts.DataSglLengthInvalid) };
        await inPieces(bdev, slba, nlb, (lba, n, at) => bdev.write(lba, n, data.subarray(at, at + n * bdev.blockSize)));
        return { completion: ok() };
      }
      case NvmOpcode.Flush:
        await bdev.flush();
        return { completion: ok() };
      case NvmOpcode.WriteZeroes: {
        const { slba, nlb } = range(sqe);
        if (!inRange(bdev, slba, nlb)) return { completion: fail(Sts.LbaOutOfRange) };
        await bdev.writeZeroes(slba, nlb);
        return { completion: ok() };
      }
      case NvmOpcode.DatasetManagement: {
        // NR CDW10 7:0 (0's based ranges of 16 bytes: context attributes, length in blocks,
        // SLBA), AD CDW11 bit 2. Without AD nothing is asked of the device.
        const nr = (sqe.cdw(10) & 0xff) + 1;
        if (!data || data.length < nr * 16) return { completion: fail(Sts.DataSglLengthInvalid) };
        if (!(sqe.cdw(11) & 4)) return { completion: ok() };
        const ranges = [];
        for (let i = 0; i < nr; i++) {
          const blocks = data.readUInt32LE(16 * i + 4);
          const lba = data.readBigUInt64LE(16 * i + 8);
          if (blocks === 0) continue;
          if (!inRange(bdev, lba, blocks)) return { completion: fail(Sts.LbaOutOfRange) };
          ranges.push({ lba, blocks });
        }
        if (ranges.length) await bdev.deallocate(ranges);
        return { completion: ok() };
      }
      default:
        return { completion: fail(Sts.InvalidCommandOpcode) };
    }
  } catch (err) {
    onError?.(err, sqe);
    // The bdev failed the I/O (an NVMe status, a worker that died): the host sees an
    // error it may retry; the reason is the target's to log.
    return { completion: fail(sqe.opcode === NvmOpcode.Write ? Sts.WriteFault : Sts.InternalError) };
  }
}

/** Runs `op` over [slba, slba + nlb) in pieces of at most bdev.maxTransfer bytes, in order. */
async function inPieces(bdev: Bdev, slba: bigint, nlb: number, op: (lba: bigint, blocks: number, byteOffset: number) => Promise<void>): Promise<void> {
  const per = Math.max(1, Math.floor(bdev.maxTransfer / bdev.blockSize));
  for (let done = 0; done < nlb; done += per) {
    const n = Math.min(per, nlb - done);
    await op(slba + BigInt(done), n, done * bdev.blockSize);
  }
}
