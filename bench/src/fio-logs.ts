// fio's per-job logs (HOWTO "Log File Formats"; fio stat.c add_log_sample,
// __add_samples, add_bw_sample, add_iops_sample; iolog.c flush_samples), with fio's
// file names and line formats, so fio2gnuplot, fio-plot and fiologparser_hist.py read
// ours unchanged:
//   <prefix>_bw.<job>.log, _iops, _lat, _clat, _slat: "time, value, ddir, bs, prio",
//     or with log_offset=1 "time, value, ddir, bs, offset, prio". time in ms since the
//     job started; ddir 0 read, 1 write, 2 trim; prio is the I/O priority (always 0 here).
//   Without log_avg_msec, one line per I/O: the latency in ns; IOPS 1; bandwidth
//     bytes * 10^6 / (completion latency in ns) (fio's add_bw_sample gets the clat).
//   With log_avg_msec=N, one line per direction per window of N ms: the window's mean
//     latency (rounded), IOPS and KiB/s over the window, bs 0 (fio's __add_stat_to_log).
//   <prefix>_clat_hist.<job>.log (write_hist_log, every log_hist_msec): "time, ddir,
//     bs, " then the 1856 bins of fio's completion-latency histogram, counts of the
//     interval (fio's flush_hist_samples writes the difference from the last line).
// With per_job_logs=0 the ".<job>" part is left out.

import { FIO_IO_U_PLAT_NR, platValToIdx } from './histogram.js';

/** What fio's log options asked for (undefined prefix: that log is off). */
export interface FioLogOptions {
  /** write_bw_log=PREFIX */
  bwPrefix?: string;
  /** write_iops_log=PREFIX */
  iopsPrefix?: string;
  /** write_lat_log=PREFIX: lat, clat and slat logs. */
  latPrefix?: string;
  /** write_hist_log=PREFIX */
  histPrefix?: string;
  /** log_avg_msec (0: one line per I/O). */
  avgMsec: number;
  /** log_hist_msec (0: the histogram log is written once, at the end). */
  histMsec: number;
  /** log_offset: add each I/O's offset (per-I/O lines only). */
  logOffset: boolean;
  /** per_job_logs (default true): the job number in the file name. */
  perJobLogs: boolean;
}

/** One log file: its name and its whole text. */
export interface FioLogFile {
  name: string;
  text: string;
}

/** Reads, writes and trims (fio's DDIR_READ, DDIR_WRITE, DDIR_TRIM; trims log as direction 2). */
const DDIRS = 3;

/** A window's running sums for one direction. */
class Window {
  ios = 0;
  bytes = 0;
  latSum = 0;
  clatSum = 0;
  slatSum = 0;
  slatSamples = 0;
  reset(): void {
    this.ios = this.bytes = this.latSum = this.clatSum = this.slatSum = this.slatSamples = 0;
  }
}

/**
 * The logs of one job (fio's thread): feed it every completion with the job's clock,
 * call tick() now and then (the benchmark's loop does it between batches), finish() at
 * the end, then files().
 */
export class FioJobLogs {
  private readonly lines = { bw: [] as string[], iops: [] as string[], lat: [] as string[], clat: [] as string[], slat: [] as string[], hist: [] as string[] };
  private readonly windows = [new Window(), new Window(), new Window()];
  private windowStart = 0;
  /** The time (ms) of the last averaged lines, so the end never repeats it. */
  private lastFlushMs = -1;
  private readonly hist: Uint32Array[] | null;
  private readonly histLast: Uint32Array[] | null;
  private histStart = 0;
  private readonly histBs = [0, 0, 0];

  /** `job` is fio's job number, from 1, as in the file names. */
  constructor(
    private readonly opts: FioLogOptions,
    private readonly job: number,
  ) {
    const plats = () => Array.from({ length: DDIRS }, () => new Uint32Array(FIO_IO_U_PLAT_NR));
    this.hist = opts.histPrefix ? plats() : null;
    this.histLast = opts.histPrefix ? plats() : null;
  }

  /** Whether any log is on. */
  get enabled(): boolean {
    const o = this.opts;
    return !!(o.bwPrefix || o.iopsPrefix || o.latPrefix || o.histPrefix);
  }

  /**
   * One completed I/O at `nowMs` (ms since the job started): its direction (0 read,
   * 1 write, 2 trim), size, offset, completion and total latency in ns, and its submission
   * latency in ns when measured (undefined: no slat line, as fio for engines without one).
   */
  complete(nowMs: number, ddir: number, bs: number, offset: number, clatNs: number, latNs: number, slatNs?: number): void {
    const o = this.opts;
    const t = Math.floor(nowMs);
    if (this.hist) {
      this.hist[ddir]![platValToIdx(Math.round(clatNs))]!++;
      this.histBs[ddir] = bs;
    }
    if (o.avgMsec === 0) {
      const tail = o.logOffset ? `${ddir}, ${bs}, ${offset}, 0` : `${ddir}, ${bs}, 0`;
      if (o.latPrefix) {
        this.lines.lat.push(`${t}, ${Math.round(latNs)}, ${tail}`);
        this.lines.clat.push(`${t}, ${Math.round(clatNs)}, ${tail}`);
        if (slatNs !== undefined) this.lines.slat.push(`${t}, ${Math.round(slatNs)}, ${tail}`);
      }
      if (o.iopsPrefix) this.lines.iops.push(`${t}, 1, ${tail}`);
      // fio's account_io_completion() hands add_bw_sample() the completion latency.
      if (o.bwPrefix) this.lines.bw.push(`${t}, ${clatNs > 0 ? Math.floor((bs * 1e6) / clatNs) : 0}, ${tail}`);
    } else {
      const w = this.windows[ddir]!;
      w.ios++;
      w.bytes += bs;
      w.latSum += latNs;
      w.clatSum += clatNs;
      if (slatNs !== undefined) {
        w.slatSum += slatNs;
        w.slatSamples++;
      }
    }
    this.tick(nowMs);
  }

  /** Closes the windows (and histogram intervals) that ended by `nowMs`. */
  tick(nowMs: number): void {
    const o = this.opts;
    if (o.avgMsec > 0 && nowMs - this.windowStart >= o.avgMsec) this.flushWindow(nowMs);
    if (this.hist && o.histMsec > 0 && nowMs - this.histStart >= o.histMsec) this.flushHist(nowMs);
  }

  /** The end of the job: the last partial window and histogram interval. */
  finish(nowMs: number): void {
    // A window closed in this same millisecond already wrote its lines: the few I/Os after
    // it are left out rather than written as a second point at the same time.
    if (this.opts.avgMsec > 0 && Math.floor(nowMs) > this.lastFlushMs) this.flushWindow(nowMs);
    if (this.hist) this.flushHist(nowMs);
  }

  private flushWindow(nowMs: number): void {
    const o = this.opts;
    const t = Math.floor(nowMs);
    const spent = t - this.windowStart;
    for (let d = 0; d < DDIRS; d++) {
      const w = this.windows[d]!;
      if (w.ios === 0) continue;
      // fio's __add_stat_to_log: bs 0, and offset 0 when log_offset asks for the column.
      const tail = o.logOffset ? `${d}, 0, 0, 0` : `${d}, 0, 0`;
      // fio rounds a window's mean up from .5 (mean + 0.50, truncated).
      if (o.latPrefix) {
        this.lines.lat.push(`${t}, ${Math.floor(w.latSum / w.ios + 0.5)}, ${tail}`);
        this.lines.clat.push(`${t}, ${Math.floor(w.clatSum / w.ios + 0.5)}, ${tail}`);
        if (w.slatSamples) this.lines.slat.push(`${t}, ${Math.floor(w.slatSum / w.slatSamples + 0.5)}, ${tail}`);
      }
      if (spent > 0) {
        if (o.iopsPrefix) this.lines.iops.push(`${t}, ${Math.floor((w.ios * 1000) / spent)}, ${tail}`);
        if (o.bwPrefix) this.lines.bw.push(`${t}, ${Math.floor((w.bytes * 1000) / spent / 1024)}, ${tail}`);
      }
      w.reset();
    }
    // The next window starts on a multiple of log_avg_msec, as fio's avg_last.
    this.windowStart = t - (t % o.avgMsec);
    this.lastFlushMs = t;
  }

  private flushHist(nowMs: number): void {
    const t = Math.floor(nowMs);
    for (let d = 0; d < DDIRS; d++) {
      const cur = this.hist![d]!;
      const last = this.histLast![d]!;
      let any = false;
      const deltas = new Array<number>(FIO_IO_U_PLAT_NR);
      for (let i = 0; i < FIO_IO_U_PLAT_NR; i++) {
        deltas[i] = cur[i]! - last[i]!;
        if (deltas[i]) any = true;
      }
      if (!any) continue;
      this.lines.hist.push(`${t}, ${d}, ${this.histBs[d]}, ${deltas.join(', ')}`);
      last.set(cur);
    }
    this.histStart = t;
  }

  /** The log files, named as fio names them; only the logs that were asked for. */
  files(): FioLogFile[] {
    const o = this.opts;
    const name = (prefix: string, kind: string) => (o.perJobLogs ? `${prefix}_${kind}.${this.job}.log` : `${prefix}_${kind}.log`);
    const text = (lines: string[]) => (lines.length ? `${lines.join('\n')}\n` : '');
    const out: FioLogFile[] = [];
    if (o.bwPrefix) out.push({ name: name(o.bwPrefix, 'bw'), text: text(this.lines.bw) });
    if (o.iopsPrefix) out.push({ name: name(o.iopsPrefix, 'iops'), text: text(this.lines.iops) });
    if (o.latPrefix) {
      out.push({ name: name(o.latPrefix, 'lat'), text: text(this.lines.lat) });
      out.push({ name: name(o.latPrefix, 'clat'), text: text(this.lines.clat) });
      out.push({ name: name(o.latPrefix, 'slat'), text: text(this.lines.slat) });
    }
    if (o.histPrefix) out.push({ name: name(o.histPrefix, 'clat_hist'), text: text(this.lines.hist) });
    return out;
  }
}

/**
 * Reads a bw or iops log (fio's or ours) into per-direction series [ms, value], for the
 * report: direction 0 read, 1 write, 2 trim (fio's DDIR_TRIM). Lines that do not parse,
 * or of another direction, are skipped.
 */
export function parseFioLog(text: string): { read: [number, number][]; write: [number, number][]; trim: [number, number][] } {
  const out = { read: [] as [number, number][], write: [] as [number, number][], trim: [] as [number, number][] };
  const byDir = [out.read, out.write, out.trim];
  for (const line of text.split('\n')) {
    const f = line.split(',').map((s) => Number(s.trim()));
    if (f.length < 3 || f.some((x, i) => i < 3 && !Number.isFinite(x))) continue;
    byDir[f[2]!]?.push([f[0]!, f[1]!]);
  }
  return out;
}
