// What the host cost scripts (direct-host.mjs, runtime-host.mjs, ../bdev/cost-host.mjs) share:
// reading back callgrind's dumps. Each script runs, per case, a warm-up, a window of N and a
// window of 2N, each ended by a marker (getppid(2), where `--dump-before=getppid` makes
// callgrind dump that thread's counters); Ir per operation = (Ir(2N window) - Ir(N window)) / N.

import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * The windows of each case, in order: [{ n, perOp, nWindow, twoNWindow }], from the marker
 * dumps in dir whose file names match `files` (all threads by default), `cases` cases of
 * three dumps each, and N from dir/n.txt.
 */
export function markerWindows(dir, cases, files = /^callgrind\.out/) {
  const parts = readdirSync(dir)
    .filter((f) => files.test(f))
    .map((f) => readFileSync(path.join(dir, f), 'utf8').slice(0, 4000))
    .filter((h) => /^desc: Trigger: .*getppid/m.test(h))
    .map((h) => ({ part: Number(/^part: (\d+)/m.exec(h)[1]), ir: Number((/^summary: (\d+)/m.exec(h) ?? /^totals: (\d+)/m.exec(h))[1]) }))
    .sort((a, b) => a.part - b.part);
  const n = Number(readFileSync(path.join(dir, 'n.txt'), 'utf8'));
  if (parts.length !== 3 * cases) throw new Error(`expected ${3 * cases} marker dumps in ${dir}, found ${parts.length}`);
  return Array.from({ length: cases }, (_, k) => {
    const [, a, b] = parts.slice(3 * k, 3 * k + 3);
    return { n, perOp: (b.ir - a.ir) / n, nWindow: a.ir / n, twoNWindow: b.ir / (2 * n) };
  });
}

/** "(N window X, 2N window Y per UNIT; N = n)", the line every script prints after its figure. */
export function windowsText(w, unit) {
  return `(N window ${w.nWindow.toFixed(1)}, 2N window ${w.twoNWindow.toFixed(1)} per ${unit}; N = ${w.n})`;
}
