// Little-endian field readers over a data structure returned by the controller
// (Identify data, log pages). NVMe data structures are little endian throughout
// (NVM Express Base Specification 2.0, §1.5 "Conventions").

export class Fields {
  private readonly view: DataView;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  u8(at: number): number {
    return this.view.getUint8(at);
  }
  u16(at: number): number {
    return this.view.getUint16(at, true);
  }
  u32(at: number): number {
    return this.view.getUint32(at, true);
  }
  u64(at: number): bigint {
    return this.view.getBigUint64(at, true);
  }
  /** A 128-bit counter (SMART log, TNVMCAP), as a bigint. */
  u128(at: number): bigint {
    return this.u64(at) | (this.u64(at + 8) << 64n);
  }
  /** An ASCII field as the controller filled it, trailing spaces kept, up to the first NUL (nvme-cli prints it with %-.*s). */
  ascii(at: number, len: number): string {
    let s = '';
    for (let i = at; i < at + len; i++) {
      const c = this.bytes[i]!;
      if (c === 0) break;
      s += String.fromCharCode(c);
    }
    return s;
  }
  /** Bytes as lower-case hex, in memory order. */
  hex(at: number, len: number): string {
    let s = '';
    for (let i = at; i < at + len; i++) s += this.bytes[i]!.toString(16).padStart(2, '0');
    return s;
  }
}
