// The `-H` (human readable) decoding nvme-cli prints under a register-like field:
//   "  [hi:lo] : 0x1\t<meaning>" for each bit range, then an empty line.

export interface BitField {
  hi: number;
  lo: number;
  /** The meaning, given the field's value. */
  text: (value: number) => string;
  /** Print only when non-zero (reserved bits). */
  onlyIfSet?: boolean;
}

/** The value of bits hi..lo of v. */
export function bits(v: number, hi: number, lo: number): number {
  return Math.floor(v / 2 ** lo) % 2 ** (hi - lo + 1);
}

/** One line per bit range, as nvme-cli's -H prints them, and the empty line after. */
export function bitLines(v: number, fields: BitField[]): string[] {
  const out: string[] = [];
  for (const f of fields) {
    const x = bits(v, f.hi, f.lo);
    if (f.onlyIfSet && x === 0) continue;
    out.push(`  [${f.hi}:${f.lo}] : ${x === 0 ? '0' : '0x' + x.toString(16)}\t${f.text(x)}`);
  }
  out.push('');
  return out;
}
