// fio's percentile_list (HOWTO "percentile_list", fio 3.33): up to 20 percentages in (0, 100]
// separated by ':', reported in ascending order. fio prints them (normal output) with as many
// decimals as the most precise one given has: "50:99" prints 50th and 99th, "99.9999:1.5"
// prints 1.5000th and 99.9999th; the default list prints two (99.95, 99.99).

import { invalidArgument } from '@vfio-node/core';
import type { JobOptions } from './options.js';

/** fio's limit on the list's length ("the list exceeding max length 20"). */
export const MAX_PERCENTILES = 20;

type Setter = (o: JobOptions, value: string | undefined, key: string) => void;

/** The option table entry of percentile_list (merged into options.ts's table). */
export const PERCENTILE_SETTERS: Record<string, Setter> = {
  percentile_list: (o, v, k) => {
    const text = v ?? '';
    const list = text.split(':').map((p) => (p.trim() === '' ? NaN : Number(p)));
    if (!text || list.some((p) => !(p > 0 && p <= 100))) throw invalidArgument(k, text, 'percentages in (0, 100] separated by ":"');
    if (list.length > MAX_PERCENTILES) throw invalidArgument(k, text, `at most ${MAX_PERCENTILES} percentages`, "fio's limit.");
    o.percentileList = list.sort((a, b) => a - b);
  },
};

/** The decimals fio prints percentiles with: the most any entry of the list has. */
export function percentilePrecision(list: readonly number[]): number {
  let p = 0;
  for (const v of list) {
    const s = String(v);
    const dot = s.indexOf('.');
    if (dot >= 0) p = Math.max(p, s.length - dot - 1);
  }
  return p;
}
