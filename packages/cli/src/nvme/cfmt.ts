// The number formats nvme-cli prints with printf, spelled out for JavaScript so that
// our output lines up with theirs character for character: %#x (no 0x for zero),
// %#0Nx, uint128 counters, SI and binary suffixes, Celsius from Kelvin.

/** printf("%#x", v): "0" for zero, "0x1f" otherwise. */
export function hexAlt(v: number | bigint): string {
  return v === 0 || v === 0n ? '0' : '0x' + v.toString(16);
}

/** printf("%#0*x", width, v): zero padded to width characters including the 0x prefix (no prefix for zero). */
export function hexAltPadded(v: number | bigint, width: number): string {
  if (v === 0 || v === 0n) return '0'.repeat(width);
  return '0x' + v.toString(16).padStart(width - 2, '0');
}

/** nvme-cli's "%#0*x" with width 4 for a non-zero feature id, 2 for zero. */
export function fidHex(fid: number): string {
  return hexAltPadded(fid, fid ? 4 : 2);
}

/** nvme-cli's "%#0*x" with width 10 for a non-zero 32-bit value, 8 for zero. */
export function valueHex(v: number | bigint): string {
  return hexAltPadded(v, v === 0 || v === 0n ? 8 : 10);
}

/** printf("%*.*f"): fixed decimals, right aligned to width. */
export function fixed(v: number, decimals: number, width = 0): string {
  return v.toFixed(decimals).padStart(width);
}

const SI: Array<[number, string]> = [
  [1e30, 'Q'], [1e27, 'R'], [1e24, 'Y'], [1e21, 'Z'], [1e18, 'E'], [1e15, 'P'], [1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k'],
];

/** Scales a value by the largest SI prefix (k = 1000) it reaches; returns [scaled, prefix]. */
export function siScale(v: number): [number, string] {
  for (const [m, s] of SI) if (v >= m) return [v / m, s];
  return [v, ''];
}

const BINARY: Array<[number, string]> = [[50, 'Pi'], [40, 'Ti'], [30, 'Gi'], [20, 'Mi'], [10, 'Ki']];

/** Rounds a byte count to the largest binary prefix it reaches (as nvme list does for the LBA size). */
export function binaryScale(v: number): [number, string] {
  for (const [shift, s] of BINARY) {
    const unit = 2 ** shift;
    if (Math.abs(v) >= unit) return [Math.floor((v + unit / 2) / unit), s];
  }
  return [v, ''];
}

/** "%.2f %sB" of a count of units of `bytesPerUnit` bytes, as SMART's Data Units (1000 × 512 bytes each). */
export function siBytes(units: bigint, bytesPerUnit: number): string {
  const [v, s] = siScale(Number(units) * bytesPerUnit);
  return `${v.toFixed(2)} ${s}B`;
}

/** Kelvin to whole degrees Celsius as nvme-cli computes them (K − 273). */
export function celsius(kelvin: number): number {
  return kelvin - 273;
}

/** Celsius to Fahrenheit with C integer arithmetic (t × 9 / 5 + 32, truncated). */
export function fahrenheit(kelvin: number): number {
  return Math.trunc((celsius(kelvin) * 9) / 5) + 32;
}
