// fio's num2str() (lib/num2str.c): "cheesy number->string conversion, complete with
// carry rounding error". Used for every human number in fio's normal output: IOPS=10.6k,
// BW=41.2MiB/s, io=1984KiB, clat min=2574.4k. Reproduced exactly, rounding quirks
// included, so our summary reads like fio's.

export const N2S_NONE = 0;
export const N2S_PERSEC = 1;
export const N2S_BYTE = 2;
export const N2S_BIT = 3;
export const N2S_BYTEPERSEC = 4;
export const N2S_BITPERSEC = 5;

const SI = ['', 'k', 'M', 'G', 'T', 'P', 'E'];
const IEC = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
const UNITS = ['', '/s', 'B', 'bit', 'B/s', 'bit/s'];

/**
 * fio's num2str(): a number with an SI or IEC prefix in at most maxlen characters, rounded as fio rounds it.
 *
 * @param num the quantity (a non-negative integer)
 * @param maxlen most digits before the unit prefix, the '.' included
 * @param base multiplier for num (1, or 1024 when num is in KiB)
 * @param pow2 true for IEC prefixes (Ki, Mi) and steps of 1024, false for SI and 1000
 * @param units one of N2S_*
 */
export function num2str(num: number, maxlen: number, base: number, pow2: boolean, units: number): string {
  const prefix = pow2 ? IEC : SI;
  const thousand = pow2 ? 1024 : 1000;
  let post = 0;
  for (; base > 1; post++) base /= thousand;
  num = Math.floor(num);
  if (units === N2S_BIT || units === N2S_BITPERSEC) num *= 8;
  let modulo = -1;
  let carry = false;
  while (post < SI.length) {
    if (String(num).length <= maxlen) break;
    modulo = num % thousand;
    num = Math.floor(num / thousand);
    carry = modulo >= thousand / 2;
    post++;
  }
  if (post >= SI.length) post = 0;
  const unit = UNITS[units]!;
  if (modulo === -1) return `${num}${prefix[post]}${unit}`;
  const digits = String(num).length;
  if (maxlen - digits <= 1) {
    if (carry) num++;
    return `${num}${prefix[post]}${unit}`;
  }
  // C's "%.*f" of modulo/thousand; a result of "1.0..." carries into num.
  const frac = (modulo / thousand).toFixed(maxlen - digits - 1);
  if (frac[0] === '1') num++;
  return `${num}.${frac.slice(2)}${prefix[post]}${unit}`;
}
