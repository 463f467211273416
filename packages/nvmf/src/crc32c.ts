// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the digest of NVMe/TCP's HDGST and
// DDGST fields (NVMe/TCP Transport 1.0 §3.6.1: "the CRC32C algorithm"). Table-driven, one
// byte per step; the header digest covers at most 72 bytes, so this is never the cost.

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC32C of bytes (continuing from `crc`, a previous result, when given). */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
