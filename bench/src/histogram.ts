// fio's log-linear latency histogram (fio stat.h/stat.c, "io_u_plat"): values in
// nanoseconds; the first 2*64 bins are exact, then each power-of-two group is split into
// 64 equal bins, so the error is below 1/2^(PLAT_BITS+1) of the value. 29 groups of 64 =
// 1856 bins cover up to 2^(29+6-1) ns (about 17 s); larger values land in the last bin.
// Bin numbering and bin values match fio exactly, because json+ "bins" are keyed by
// plat_idx_to_val() and tools (fio_jsonplus_clat2csv) rebuild histograms from them.

/** FIO_IO_U_PLAT_BITS: bits of the value kept in each group. */
export const FIO_IO_U_PLAT_BITS = 6;
/** FIO_IO_U_PLAT_VAL: bins per group. */
export const FIO_IO_U_PLAT_VAL = 1 << FIO_IO_U_PLAT_BITS;
/** FIO_IO_U_PLAT_GROUP_NR: groups. */
export const FIO_IO_U_PLAT_GROUP_NR = 29;
/** FIO_IO_U_PLAT_NR: all bins (1856). */
export const FIO_IO_U_PLAT_NR = FIO_IO_U_PLAT_GROUP_NR * FIO_IO_U_PLAT_VAL;

const TWO32 = 2 ** 32;

/** Index of the most significant set bit of a non-negative integer below 2^53 (0 for 0). */
function msb(val: number): number {
  if (val < TWO32) return val === 0 ? 0 : 31 - Math.clz32(val);
  return 63 - Math.clz32(Math.floor(val / TWO32));
}

/** fio's plat_val_to_idx(): the bin of a latency in ns. */
export function platValToIdx(val: number): number {
  const m = msb(val);
  // MSB <= PLAT_BITS: the value is its own index (no rounding).
  if (m <= FIO_IO_U_PLAT_BITS) return val;
  const errorBits = m - FIO_IO_U_PLAT_BITS;
  const base = (errorBits + 1) << FIO_IO_U_PLAT_BITS;
  // (val >> errorBits) & (PLAT_VAL - 1), without 32-bit truncation for large values.
  const offset = Math.floor(val / 2 ** errorBits) % FIO_IO_U_PLAT_VAL;
  const idx = base + offset;
  return idx < FIO_IO_U_PLAT_NR - 1 ? idx : FIO_IO_U_PLAT_NR - 1;
}

/** fio's plat_idx_to_val(): the value a bin stands for (the middle of its range), in ns. */
export function platIdxToVal(idx: number): number {
  if (idx < FIO_IO_U_PLAT_VAL << 1) return idx;
  const errorBits = (idx >> FIO_IO_U_PLAT_BITS) - 1;
  const base = 2 ** (errorBits + FIO_IO_U_PLAT_BITS);
  const k = idx % FIO_IO_U_PLAT_VAL;
  // fio computes base + (k + 0.5) * 2^errorBits in double and truncates to an integer.
  return Math.floor(base + (k + 0.5) * 2 ** errorBits);
}

/** A histogram is just its counts; Float64Array counts stay exact to 2^53. */
export type Plat = Float64Array;

export const newPlat = (): Plat => new Float64Array(FIO_IO_U_PLAT_NR);

/**
 * fio's calc_clat_percentiles(): for each percentile p (sorted ascending), the value of
 * the first bin where the running count reaches p/100 * n. Returns [] when n is 0.
 */
export function calcPercentiles(plat: Plat, n: number, percentiles: readonly number[]): number[] {
  if (n === 0 || percentiles.length === 0) return [];
  const list = [...percentiles].sort((a, b) => a - b);
  const out: number[] = new Array(list.length);
  let sum = 0;
  let j = 0;
  for (let i = 0; i < FIO_IO_U_PLAT_NR && j < list.length; i++) {
    sum += plat[i]!;
    while (j < list.length && sum >= (list[j]! / 100) * n) {
      out[j] = platIdxToVal(i);
      j++;
    }
  }
  return out;
}

/** json+ "bins": every non-empty bin as [plat_idx_to_val(i), count], in index order. */
export function nonEmptyBins(plat: Plat): Array<[value: number, count: number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < FIO_IO_U_PLAT_NR; i++) if (plat[i]) out.push([platIdxToVal(i), plat[i]!]);
  return out;
}
