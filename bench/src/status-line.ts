// fio's live status line (eta.c), printed on stdout when it is a terminal (--eta):
//   Jobs: 1 (f=1): [r(1)][45.0%][r=41.2MiB/s][r=10.6k IOPS][eta 00m:05s]
// One character per job in fio's run_str: R/r sequential/random read, W/w write, M/m
// mixed, D/d trim (fio HOWTO "Interpreting the output"; trimwrite shows as W, a write
// job to fio), V verifying, / ramping, I not started yet, _ done. Rates are since the
// previous line.

import type { JobProgress } from './job-runner.js';
import { rwHasReads, rwHasTrims, rwHasWrites } from './options.js';
import { num2str, N2S_BYTEPERSEC, N2S_NONE } from './num2str.js';

function jobChar(p: JobProgress): string {
  if (p.phase === 'done') return '_';
  if (p.phase === 'init') return 'I';
  if (p.phase === 'ramp') return '/';
  if (p.phase === 'verify') return 'V';
  const c = p.rw === 'read' || p.rw === 'randread' ? 'r' : p.rw === 'write' || p.rw === 'randwrite' || p.rw === 'trimwrite' ? 'w' : p.rw === 'trim' || p.rw === 'randtrim' ? 'd' : 'm';
  return p.rw.startsWith('rand') ? c : c.toUpperCase();
}

/** fio's eta_to_str(): "05s" style pieces: [Nd:][Nh:]MMm:SSs. */
export function etaToStr(sec: number): string {
  let s = Math.max(0, Math.round(sec));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${d ? `${d}d:` : ''}${d || h ? `${p2(h)}h:` : ''}${p2(m)}m:${p2(s)}s`;
}

/** Run-length string of job states, as fio prints it: "r(2),_(1)" → fio writes "[r(2)_(1)]". */
function runStr(progress: readonly JobProgress[]): string {
  let out = '';
  let prev = '';
  let n = 0;
  for (const p of progress) {
    const c = jobChar(p);
    if (c === prev) n++;
    else {
      if (prev) out += `${prev}(${n})`;
      prev = c;
      n = 1;
    }
  }
  if (prev) out += `${prev}(${n})`;
  return out;
}

/**
 * Formats successive status lines. Rates are since the previous line, per job over the
 * job's own clock (`atSec`, when its counters were taken; else `elapsedSec`), summed over
 * the jobs: a worker that published twice between two lines counts over the time between
 * its publishes, not the main thread's timer. A job with nothing new keeps its last rate.
 */
export class StatusLine {
  private last: Array<{ bytes: number[]; ios: number[]; at: number; bw: number[]; iops: number[] }> = [];

  /** fio's status line for these jobs' progress, with the rates since the previous line. */
  format(progress: readonly JobProgress[], elapsedSec: number): string {
    if (this.last.length !== progress.length) this.last = progress.map(() => ({ bytes: [0, 0, 0], ios: [0, 0, 0], at: 0, bw: [0, 0, 0], iops: [0, 0, 0] }));
    const running = progress.filter((p) => p.phase !== 'done' && p.phase !== 'init').length;
    const bw = [0, 0, 0];
    const iops = [0, 0, 0];
    let fraction = 0;
    let eta = 0;
    progress.forEach((p, i) => {
      const l = this.last[i]!;
      const at = p.atSec ?? elapsedSec;
      const dt = at - l.at;
      if (dt > 1e-3) {
        for (const d of [0, 1, 2] as const) {
          l.bw[d] = Math.max(0, (p.bytes[d] - l.bytes[d]!) / dt);
          l.iops[d] = Math.max(0, (p.ios[d] - l.ios[d]!) / dt);
        }
        l.bytes = [...p.bytes];
        l.ios = [...p.ios];
        l.at = at;
      }
      // A finished job moves nothing any more.
      if (p.phase === 'done') l.bw = [0, 0, 0], l.iops = [0, 0, 0];
      for (const d of [0, 1, 2] as const) {
        bw[d]! += l.bw[d]!;
        iops[d]! += l.iops[d]!;
      }
      fraction += p.fraction / progress.length;
      eta = Math.max(eta, p.etaSec);
    });
    const does = [rwHasReads, rwHasWrites, rwHasTrims];
    const dirs = [0, 1, 2].filter((d) => progress.some((p) => does[d]!(p.rw) || (p.phase === 'verify' && d === 0)));
    const name = ['r', 'w', 't'];
    // fio keeps the rate in KiB/s and prints it with base 1024: an idle line says "r=0KiB/s".
    const bwStr = dirs.map((d) => `${name[d]}=${num2str(Math.floor(bw[d]! / 1024), 4, 1024, true, N2S_BYTEPERSEC)}`).join(',');
    const iopsStr = dirs.map((d) => `${name[d]}=${num2str(Math.floor(iops[d]!), 4, 1, false, N2S_NONE)}`).join(',');
    return `Jobs: ${running} (f=${running}): [${runStr(progress)}][${(fraction * 100).toFixed(1)}%][${bwStr}][${iopsStr} IOPS][eta ${etaToStr(eta)}]`;
  }
}

/** Where the output goes, for statusLineWanted(). */
export interface StatusOutput {
  /** --output-format includes normal. */
  normal: boolean;
  /** The report goes to stdout (no --output=FILE). */
  toStdout: boolean;
  /** stdout is a terminal. */
  isTTY: boolean;
}

/**
 * fio's --eta=auto|always|never (eta.c skip_eta()): never when the report on stdout is
 * not the normal one (JSON must stay parseable); otherwise always prints, never does not,
 * auto prints when stdout is a terminal (also when the report goes to --output=FILE).
 */
export function statusLineWanted(eta: 'auto' | 'always' | 'never', out: StatusOutput): boolean {
  if (!out.normal && out.toStdout) return false;
  if (eta === 'never') return false;
  return eta === 'always' || out.isTTY;
}

/** Writes a status line over the previous one on a terminal stream; clear() erases it. */
export class TerminalStatus {
  private width = 0;
  private readonly line = new StatusLine();

  constructor(private readonly stream: NodeJS.WritableStream) {}

  /** Draws the status line over the previous one. */
  update(progress: readonly JobProgress[], elapsedSec: number): void {
    const s = this.line.format(progress, elapsedSec);
    this.stream.write(`\r${s.padEnd(this.width)}`);
    this.width = s.length;
  }

  /** Erases the line. */
  clear(): void {
    if (this.width) this.stream.write(`\r${' '.repeat(this.width)}\r`);
    this.width = 0;
  }
}
