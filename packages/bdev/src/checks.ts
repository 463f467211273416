// The checks every bdev makes before an I/O, written once.

import { badBuffer, bdevClosed, outOfRange } from './errors.js';

/** What the checks need to know about a bdev. */
export interface Geometry {
  readonly name: string;
  readonly blockSize: number;
  readonly blocks: bigint;
}

/** Throws ERR_BDEV_OUT_OF_RANGE unless 1 <= blocks and lba + blocks <= capacity. */
export function checkRange(dev: Geometry, lba: bigint, blocks: number): void {
  if (typeof lba !== 'bigint' || lba < 0n || !Number.isInteger(blocks) || blocks < 1 || lba + BigInt(blocks) > dev.blocks) {
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
