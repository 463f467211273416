// fio's per-direction option values (HOWTO "blocksize"): "bs=256k,8k" gives reads 256k and
// writes 8k; one value without a comma sets every direction; an empty part leaves that
// direction at its default ("rate=,500k" limits only writes, "rate=500k," only reads). A
// third part is for trims. One helper so that bs, rate, rate_iops, rate_min and bssplit
// read the same way.

/**
 * Splits `value` into its read, write and trim parts as fio does: one part applies to all
 * three; with commas, each part to its direction and a missing or empty part is undefined.
 */
export function splitPerDirection(value: string): [read: string | undefined, write: string | undefined, trim: string | undefined] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.length === 1) return [parts[0], parts[0], parts[0]];
  const at = (i: number) => (parts[i] ? parts[i] : undefined);
  return [at(0), at(1), at(2)];
}
