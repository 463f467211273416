// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78; RFC 3720 §12.1), as fio's
// verify=crc32c computes it. Node 20 has no crc32c (zlib.crc32 is the other polynomial),
// so this is the classic slice-by-8 table method: eight 256-entry tables, eight bytes
// per step. Check value: crc32c("123456789") = 0xE3069283.

const POLY = 0x82f63b78;
const T = new Uint32Array(8 * 256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
  T[n] = c >>> 0;
}
for (let n = 0; n < 256; n++) {
  for (let t = 1; t < 8; t++) T[t * 256 + n] = (T[(t - 1) * 256 + n]! >>> 8) ^ T[T[(t - 1) * 256 + n]! & 0xff]!;
}

/** CRC-32C of bytes[start, end), continuing from `crc` (0 to start). Returns an unsigned 32-bit value. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length, crc = 0): number {
  let c = ~crc >>> 0;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    c ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    c =
      T[7 * 256 + (c & 0xff)]! ^ T[6 * 256 + ((c >>> 8) & 0xff)]! ^ T[5 * 256 + ((c >>> 16) & 0xff)]! ^ T[4 * 256 + (c >>> 24)]! ^
      T[3 * 256 + bytes[i + 4]!]! ^ T[2 * 256 + bytes[i + 5]!]! ^ T[256 + bytes[i + 6]!]! ^ T[bytes[i + 7]!]!;
  }
  for (; i < end; i++) c = T[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
