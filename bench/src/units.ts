// fio's value grammar (HOWTO "Parameter types", fio 3.x): sizes with unit suffixes whose
// meaning depends on kb_base, times with d/h/m/s/ms/us suffixes, booleans as 0/1.
// Everything here is pure so the meanings can be tested against the HOWTO's examples.

import { invalidArgument } from '@vfio-node/core';

/**
 * Parses an fio `int` quantity of data: "4k", "1m", "0x1000", "4096B", "1mi", "4KiB".
 * With kb_base=1024 (fio's default) k/m/g/t/p are powers of 1024 and ki/mi/... are
 * powers of 1000 ("opposite from SI and IEC ... for compatibility with old scripts");
 * with kb_base=1000 it is the standard way round. A trailing 'b'/'B' means byte.
 * @throws VfioError ERR_INVALID_ARG naming the option.
 */
export function parseSize(option: string, text: string, kbBase: 1000 | 1024 = 1024): number {
  const m = /^\s*(0x[0-9a-f]+|\d+(?:\.\d+)?)\s*([kmgtpe]?)(i?)(b?)\s*$/i.exec(text);
  if (!m) throw invalidArgument(option, text, "a size such as 4096, 4k, 1m, 0x1000 or 2g", "fio's size suffixes: k, m, g, t, p (powers of 1024 by default).");
  const [, num, prefix = '', iec = '', _b] = m;
  const value = num!.toLowerCase().startsWith('0x') ? parseInt(num!, 16) : Number(num);
  if (!prefix) {
    if (iec) throw invalidArgument(option, text, 'a unit prefix before "i" (ki, mi, ...)');
    return Math.floor(value);
  }
  const power = 'kmgtpe'.indexOf(prefix.toLowerCase()) + 1;
  // HOWTO: with kb_base=1024, "k" is 1024 and "ki" is 1000; with kb_base=1000 the reverse.
  const base = iec ? (kbBase === 1024 ? 1000 : 1024) : kbBase;
  return Math.floor(value * base ** power);
}

/**
 * A size that may also be given as a percentage of the target ("50%"), as fio allows for
 * size and offset. Returns {percent} for a percentage so the caller can apply it to the
 * device's capacity once it is known.
 */
export function parseSizeOrPercent(option: string, text: string, kbBase: 1000 | 1024 = 1024): { bytes: number } | { percent: number } {
  const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(text);
  if (m) {
    const percent = Number(m[1]);
    if (percent > 100) throw invalidArgument(option, text, 'a percentage between 0% and 100%');
    return { percent };
  }
  return { bytes: parseSize(option, text, kbBase) };
}

/**
 * Parses an fio `time`: an integer with an optional suffix d, h, m, s (default unless
 * `defaultUnit` says otherwise), ms/msec, us/usec. Returns microseconds.
 */
export function parseTimeUs(option: string, text: string, defaultUnit: 's' | 'ms' | 'us' = 's'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(d|h|m|s|sec|ms|msec|us|usec)?\s*$/i.exec(text);
  if (!m) throw invalidArgument(option, text, 'a time such as 30, 30s, 500ms, 2m or 1h');
  const unit = (m[2] ?? defaultUnit).toLowerCase();
  const scale: Record<string, number> = { d: 86_400e6, h: 3_600e6, m: 60e6, s: 1e6, sec: 1e6, ms: 1e3, msec: 1e3, us: 1, usec: 1 };
  return Math.round(Number(m[1]) * scale[unit]!);
}

/** fio's bool: 1/0, and the spellings fio's parser also takes (true/false, yes/no, on/off). */
export function parseBool(option: string, text: string): boolean {
  const t = text.trim().toLowerCase();
  if (t === '1' || t === 'true' || t === 'yes' || t === 'on') return true;
  if (t === '0' || t === 'false' || t === 'no' || t === 'off') return false;
  throw invalidArgument(option, text, '1 or 0');
}

/** A plain integer (decimal or 0x hex), with optional size suffixes as fio's `int` allows. */
export function parseInteger(option: string, text: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = parseSize(option, text);
  if (!Number.isSafeInteger(v) || v < min || v > max) throw invalidArgument(option, text, `an integer from ${min} to ${max}`);
  return v;
}
