// Sizes as people write them on command lines: 512, 4K, 1G, 2GiB, 256M. Binary units
// (K = 1024), as QEMU and fio read them.

import { invalidOption } from './errors.js';

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/**
 * Parses a size such as `1G`, `512`, `4k`, `2GiB` or `256MB` into bytes.
 * @param text the size; a bare number is bytes
 * @param what names the option in the error message
 * @returns the size in bytes (a safe integer)
 * @throws LabError ERR_INVALID_ARG when the text is not a size
 */
export function parseSize(text: string | number, what = 'size'): number {
  if (typeof text === 'number') {
    if (Number.isSafeInteger(text) && text >= 0) return text;
    throw invalidOption(what, text, 'a whole number of bytes');
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) throw invalidOption(what, text, 'a size such as 512, 4K, 256M, 1G');
  const bytes = Number(m[1]) * UNITS[m[2]!.toUpperCase()]!;
  if (!Number.isSafeInteger(bytes)) throw invalidOption(what, text, 'a whole number of bytes');
  return bytes;
}

/** Formats bytes the way parseSize reads them back: the largest exact unit (`1G`, `1536M`, `4097`). */
export function formatSize(bytes: number): string {
  for (const unit of ['T', 'G', 'M', 'K'] as const) {
    const n = UNITS[unit]!;
    if (bytes >= n && bytes % n === 0) return `${bytes / n}${unit}`;
  }
  return String(bytes);
}
