// The checks every bdev makes before an I/O, written once.

import { badBuffer, bdevClosed, outOfRange } from './errors.js';

/** What the checks need to know about a bdev. */
export interface Geometry {
  readonly name: string;
  readonly blockSize: number;
  readonly blocks: bigint;
}

/** Block counts up to this compare exactly as numbers (2^53: 4 EiB of 512-byte blocks). */
const EXACT = 2 ** 53;

/**
 * Throws ERR_BDEV_OUT_OF_RANGE unless 1 <= blocks and lba + blocks <= capacity. On every
 * request: the end is compared as a number (no BigInt allocated) when the capacity is below
 * 2^53 blocks, which every real disk is; an LBA at or past 2^53 then rounds to at least
 * 2^53 and is refused, as it must be.
 */
export function checkRange(dev: Geometry, lba: bigint, blocks: number): void {
  if (typeof lba !== 'bigint' || lba < 0n || !Number.isInteger(blocks) || blocks < 1 || pastEnd(dev.blocks, lba, blocks)) {
    throw outOfRange(dev.name, typeof lba === 'bigint' ? lba : BigInt(Number(lba) || 0), Number(blocks) || 0, dev.blocks);
  }
}

/** checkRange, and ERR_BDEV_BUFFER unless buffer holds exactly blocks * blockSize bytes. */
export function checkTransfer(dev: Geometry, lba: bigint, blocks: number, buffer: Uint8Array): void {
  checkRange(dev, lba, blocks);
  if (!(buffer instanceof Uint8Array) || buffer.byteLength !== blocks * dev.blockSize) {
    throw badBuffer(dev.name, buffer instanceof Uint8Array ? buffer.byteLength : 0, blocks, dev.blockSize);
  }
}

/** Throws ERR_CLOSED when the bdev was closed. */
export function checkOpen(dev: Geometry, isClosed: boolean): void {
  if (isClosed) throw bdevClosed(dev.name);
}

/** Runs a synchronous I/O body as a promise: a thrown check becomes a rejection. */
export function settle(body: () => void): Promise<void> {
  try {
    body();
    return Promise.resolve();
  } catch (err) {
    return Promise.reject(err);
  }
}

/** lba + blocks > capacity, for a checked bigint lba and integer blocks. */
function pastEnd(capacity: bigint, lba: bigint, blocks: number): boolean {
  const cap = Number(capacity);
  return cap < EXACT ? Number(lba) + blocks > cap : lba + BigInt(blocks) > capacity;
}
