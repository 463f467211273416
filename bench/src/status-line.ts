// fio's live status line (eta.c), printed only to a terminal:
//   Jobs: 1 (f=1): [r(1)][45.0%][r=41.2MiB/s][r=10.6k IOPS][eta 00m:05s]
// One character per job in fio's run_str: R/r sequential/random read, W/w write, M/m
// mixed, V verifying, / ramping, _ done. Rates are since the previous line.

import type { JobProgress } from './job-runner.js';
import { num2str, N2S_BYTEPERSEC, N2S_NONE } from './num2str.js';

function jobChar(p: JobProgress): string {
  if (p.phase === 'done') return '_';
  if (p.phase === 'ramp') return '/';
  if (p.phase === 'verify') return 'V';
  const c = p.rw === 'read' || p.rw === 'randread' ? 'r' : p.rw === 'write' || p.rw === 'randwrite' ? 'w' : 'm';
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

/** Formats successive status lines; keeps the previous byte counts to compute rates. */
export class StatusLine {
  private lastBytes = [0, 0];
  private lastIos = [0, 0];
  private lastSec = 0;

  format(progress: readonly JobProgress[], elapsedSec: number): string {
    const running = progress.filter((p) => p.phase !== 'done').length;
    const bytes = [0, 0];
    const ios = [0, 0];
    let fraction = 0;
    let eta = 0;
    for (const p of progress) {
      bytes[0]! += p.bytes[0];
      bytes[1]! += p.bytes[1];
      ios[0]! += p.ios[0];
      ios[1]! += p.ios[1];
      fraction += p.fraction / progress.length;
      eta = Math.max(eta, p.etaSec);
    }
    const dt = Math.max(1e-3, elapsedSec - this.lastSec);
    const bw = [0, 1].map((d) => Math.floor((bytes[d]! - this.lastBytes[d]!) / dt));
    const iops = [0, 1].map((d) => Math.floor((ios[d]! - this.lastIos[d]!) / dt));
    this.lastBytes = bytes;
    this.lastIos = ios;
    this.lastSec = elapsedSec;
    const dirs = [0, 1].filter((d) => progress.some((p) => (d === 0 ? p.rw !== 'write' && p.rw !== 'randwrite' : p.rw !== 'read' && p.rw !== 'randread') || p.phase === 'verify' && d === 0));
    const name = ['r', 'w'];
    const bwStr = dirs.map((d) => `${name[d]}=${num2str(bw[d]!, 4, 1, true, N2S_BYTEPERSEC)}`).join(',');
    const iopsStr = dirs.map((d) => `${name[d]}=${num2str(iops[d]!, 4, 1, false, N2S_NONE)}`).join(',');
    return `Jobs: ${running} (f=${running}): [${runStr(progress)}][${(fraction * 100).toFixed(1)}%][${bwStr}][${iopsStr} IOPS][eta ${etaToStr(eta)}]`;
  }
}

/** Writes a status line over the previous one on a terminal stream; clear() erases it. */
export class TerminalStatus {
  private width = 0;
  private readonly line = new StatusLine();

  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(progress: readonly JobProgress[], elapsedSec: number): void {
    const s = this.line.format(progress, elapsedSec);
    this.stream.write(`\r${s.padEnd(this.width)}`);
    this.width = s.length;
  }

  clear(): void {
    if (this.width) this.stream.write(`\r${' '.repeat(this.width)}\r`);
    this.width = 0;
  }
}
