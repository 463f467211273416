// fio's block verification (fio verify.h/verify.c): every written block starts with a
// header that says what the block should be (magic 0xacca, version, method, length,
// the seed of its payload, its offset, when and by whom it was written, its own CRC-32C),
// followed by the method's checksum of the rest of the block; the rest is pseudo-random
// payload from the seed. Reading the block back checks all of it. Layout of fio's
// struct verify_header (x86-64 alignment, little-endian), 48 bytes:
//   0 magic u16 | 2 version u8 | 3 verify_type u8 | 4 len u32 | 8 rand_seed u64
//   16 offset u64 | 24 time_sec u32 | 28 time_nsec u32 | 32 numberio u64
//   40 thread u16 | 42 (pad) | 44 crc32 u32 (CRC-32C of bytes 0..43)
// then vhdr_crc32c { u32 } or vhdr_md5 { u32[4] }, then data to the end of the block.

import { createHash } from 'node:crypto';
import { crc32c } from './crc32c.js';
import type { VerifyMethod } from './options.js';
import { Taus88 } from './rand.js';

/** FIO_HDR_MAGIC and VERIFY_HEADER_VERSION. */
export const FIO_HDR_MAGIC = 0xacca;
export const VERIFY_HEADER_VERSION = 0x81;
/** fio's enum values for the methods we implement (VERIFY_MD5, VERIFY_CRC32C). */
export const VERIFY_TYPE = { md5: 2, crc32c: 5 } as const;
export const VERIFY_HEADER_SIZE = 48;

/** Header plus method-specific checksum: where the checksummed data starts. */
export function hdrSize(method: Exclude<VerifyMethod, 'none'>): number {
  return VERIFY_HEADER_SIZE + (method === 'md5' ? 16 : 4);
}

export interface VerifyWriteInfo {
  offset: number;
  seed: number;
  numberio: number;
  thread: number;
  timeNs: number;
}

/**
 * Fills buf[0, len) as a verifiable block: payload from `seed`, then header and checksum.
 * `rng` is reused across calls (re-seeded here) so nothing is allocated per block for crc32c.
 */
export function fillVerifyBlock(buf: Uint8Array, len: number, method: Exclude<VerifyMethod, 'none'>, info: VerifyWriteInfo, rng: Taus88): void {
  const start = hdrSize(method);
  rng.seed(info.seed);
  const dv = new DataView(buf.buffer, buf.byteOffset, len);
  let i = start;
  for (; i + 4 <= len; i += 4) dv.setUint32(i, rng.next(), true);
  for (; i < len; i++) buf[i] = rng.next() & 0xff;
  dv.setUint16(0, FIO_HDR_MAGIC, true);
  dv.setUint8(2, VERIFY_HEADER_VERSION);
  dv.setUint8(3, VERIFY_TYPE[method]);
  dv.setUint32(4, len, true);
  dv.setBigUint64(8, BigInt(info.seed), true);
  dv.setBigUint64(16, BigInt(info.offset), true);
  dv.setUint32(24, Math.floor(info.timeNs / 1e9) >>> 0, true);
  dv.setUint32(28, Math.floor(info.timeNs % 1e9), true);
  dv.setBigUint64(32, BigInt(info.numberio), true);
  dv.setUint16(40, info.thread & 0xffff, true);
  dv.setUint16(42, 0, true);
  dv.setUint32(44, crc32c(buf, 0, 44), true);
  if (method === 'crc32c') dv.setUint32(VERIFY_HEADER_SIZE, crc32c(buf, start, len), true);
  else buf.set(createHash('md5').update(buf.subarray(start, len)).digest(), VERIFY_HEADER_SIZE);
}

/**
 * Checks a block read back: magic, header CRC, length, offset and the data checksum.
 * Returns undefined when it is good, else what is wrong in fio's words.
 */
export function checkVerifyBlock(buf: Uint8Array, len: number, offset: number, method: Exclude<VerifyMethod, 'none'>): string | undefined {
  const dv = new DataView(buf.buffer, buf.byteOffset, len);
  const magic = dv.getUint16(0, true);
  if (magic !== FIO_HDR_MAGIC) return `bad magic header ${magic.toString(16)}, wanted ${FIO_HDR_MAGIC.toString(16)} at offset ${offset} length ${len}`;
  const hcrc = dv.getUint32(44, true);
  if (hcrc !== crc32c(buf, 0, 44)) return `bad header crc ${hcrc.toString(16)} at offset ${offset}`;
  const type = dv.getUint8(3);
  if (type !== VERIFY_TYPE[method]) return `bad verify type ${type}, wanted ${VERIFY_TYPE[method]} (${method}) at offset ${offset}`;
  const hlen = dv.getUint32(4, true);
  if (hlen !== len) return `bad header length ${hlen}, wanted ${len} at offset ${offset}`;
  const hoff = Number(dv.getBigUint64(16, true));
  if (hoff !== offset) return `bad header offset ${hoff}, wanted ${offset}`;
  const start = hdrSize(method);
  if (method === 'crc32c') {
    const want = dv.getUint32(VERIFY_HEADER_SIZE, true);
    const got = crc32c(buf, start, len);
    if (want !== got) return `bad crc32c at offset ${offset} length ${len}: wanted ${want.toString(16)}, got ${got.toString(16)}`;
  } else {
    const got = createHash('md5').update(buf.subarray(start, len)).digest();
    const want = buf.subarray(VERIFY_HEADER_SIZE, VERIFY_HEADER_SIZE + 16);
    if (Buffer.compare(got, want) !== 0) return `bad md5 at offset ${offset} length ${len}: wanted ${Buffer.from(want).toString('hex')}, got ${got.toString('hex')}`;
  }
  return undefined;
}
