// What the HTML report shows, read from result files: fio's JSON and JSON+ output,
// written by fio itself or by vfio-node bench (same schema; ours adds the top-level
// "vfio-node compare" object with the peers of --compare, and per-job "vfio-node").
// One "side" is one thing measured: a job of a file, or a peer of a comparison. Packet
// apps' result files (net/result-json.ts) give packet lines instead (packets.ts).

import type { PacketLine } from './packets.js';

/** A latency histogram bin: fio's bin value (ns) and how many completions fell in it. */
export type LatencyBin = readonly [ns: number, count: number];

/** One direction (read, write or trim) of one side. */
export interface DirectionSummary {
  /** I/O operations per second. */
  iops: number;
  /** Bytes per second. */
  bwBytes: number;
  /** I/Os completed. */
  ios: number;
  /** Mean total latency, ns (fio's lat_ns.mean), when known. */
  latMeanNs?: number;
  /** Completion latency percentiles, ns, keyed by percent (50, 99, 99.9, ...). */
  clatPercentilesNs: Record<string, number>;
  /** Completion latency histogram (fio json+ clat_ns.bins), sorted by value; empty without json+. */
  clatBins: LatencyBin[];
  /**
   * Per-interval samples (time ms since the job started, ramp included; IOPS), from
   * vfio-node bench's series (jobs[].vfio-node.series, or a peer's); empty when the side has none.
   */
  iopsSeries: [ms: number, value: number][];
  /** Per-interval samples (time ms since the job started; bytes per second); empty when the side has none. */
  bwSeries: [ms: number, value: number][];
}

/** One measured thing: a job of a result file, or a peer of a comparison. */
export interface ReportSide {
  /** A short unique name for legends ("vfio-node", "kernel", "before: randread"). */
  label: string;
  /** Where it came from (the file and job, or the peer's command). */
  origin: string;
  /** The job's options (fio's "job options", with the file's "global options" under them). */
  options: Record<string, string>;
  read?: DirectionSummary;
  write?: DirectionSummary;
  /** Trims (fio's "trim" object: rw=trim, randtrim, trimwrite). */
  trim?: DirectionSummary;
  /** Ramp time in ms (fio's ramp_time), for marking on time series. */
  rampMs: number;
  /** A note on how it differs from the others (a peer's own note). */
  note?: string;
}

/** Everything one page shows. */
export interface ReportData {
  /** The page title. */
  title: string;
  /** When the page was made. */
  generatedAt: string;
  /** The result files read. */
  sources: string[];
  /** Every side, in the order of the files, ours first within a comparison. */
  sides: ReportSide[];
  /** Facts about where it ran (machine, kernel, Node, QEMU, the lab, the commit), as found in the files or given. */
  environment: Record<string, string>;
  /** The packet apps' per-second rates, from their result files (none: no packet section). */
  packets?: PacketLine[];
}

type Json = Record<string, unknown>;

const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** fio's percentile keys ("99.900000") as plain percents ("99.9"). */
function percentKey(k: string): string {
  return String(Number(k));
}

/** [ms, value] pairs from JSON, the malformed ones dropped. */
function pairs(v: unknown): [number, number][] {
  if (!Array.isArray(v)) return [];
  return v.filter((p): p is [number, number] => Array.isArray(p) && p.length >= 2 && num(p[0]) !== undefined && num(p[1]) !== undefined).map((p) => [p[0], p[1]]);
}

/** fio's directions, as its JSON names them. */
export type ReportDirection = 'read' | 'write' | 'trim';

/** One direction of a "series" object (job-series.ts's JSON): its IOPS and bandwidth points. */
function seriesOf(series: unknown, dir: ReportDirection): { iopsSeries: [number, number][]; bwSeries: [number, number][] } {
  const d = obj(obj(series)[dir]);
  return { iopsSeries: pairs(d.iops), bwSeries: pairs(d.bw_bytes) };
}

/** fio json+ bins ({ "<ns>": count }) as sorted [ns, count] pairs. */
function bins(v: unknown): LatencyBin[] {
  return Object.entries(obj(v))
    .map(([k, c]) => [Number(k), num(c) ?? 0] as const)
    .filter(([k, c]) => Number.isFinite(k) && c > 0)
    .sort((a, b) => a[0] - b[0]);
}

function direction(d: unknown, series?: unknown, dirName: ReportDirection = 'read'): DirectionSummary | undefined {
  const o = obj(d);
  const ios = num(o.total_ios) ?? num(o.short_ios) ?? 0;
  const iops = num(o.iops) ?? 0;
  if (ios <= 0 && iops <= 0) return undefined;
  const clat = obj(o.clat_ns);
  const pct = obj(clat.percentile);
  const clatPercentilesNs: Record<string, number> = {};
  for (const [k, v] of Object.entries(pct)) if (num(v) !== undefined) clatPercentilesNs[percentKey(k)] = v as number;
  const clatBins = bins(clat.bins);
  const latMeanNs = num(obj(o.lat_ns).mean);
  return { iops, bwBytes: num(o.bw_bytes) ?? (num(o.bw) ?? 0) * 1024, ios, ...(latMeanNs !== undefined ? { latMeanNs } : {}), clatPercentilesNs, clatBins, ...seriesOf(series, dirName) };
}

function stringRecord(v: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries(obj(v)).map(([k, x]) => [k, String(x)]));
}

/** fio's ramp_time as ms ("2", "2s", "500ms"; fio's default unit is seconds). */
function rampMs(v: string | undefined): number {
  if (!v) return 0;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/i.exec(v.trim());
  if (!m) return 0;
  const n = Number(m[1]);
  const unit = (m[2] ?? 's').toLowerCase();
  return unit === 'ms' ? n : unit === 'm' ? n * 60_000 : n * 1000;
}

/**
 * The sides of one result file: each job (as fio or vfio-node bench wrote it), and,
 * when the file holds a "vfio-node compare" object, each peer of the comparison.
 * `name` prefixes the labels when several files are laid side by side.
 * @throws Error when `doc` is not fio's JSON output (no "jobs" array).
 */
export function sidesFromFioJson(doc: unknown, origin: string, name?: string): ReportSide[] {
  const root = obj(doc);
  if (!Array.isArray(root.jobs)) throw new Error(`${origin} is not fio JSON output (no "jobs" array): write it with --output-format=json or json+`);
  const global = stringRecord(root['global options']);
  const prefix = name ? `${name}: ` : '';
  const jobs = root.jobs as unknown[];
  const ours = 'vfio-node compare' in root || jobs.some((j) => 'vfio-node' in obj(j));
  const sides: ReportSide[] = jobs.map((j, i) => {
    const job = obj(j);
    const options = { ...global, ...stringRecord(job['job options']) };
    const jobname = String(job.jobname ?? `job ${i}`);
    const who = ours ? 'vfio-node' : 'fio';
    const series = obj(job['vfio-node']).series;
    const read = direction(job.read, series, 'read');
    const write = direction(job.write, series, 'write');
    const trim = direction(job.trim, series, 'trim');
    const rampFromSeries = num(obj(series).ramp_ms);
    return {
      label: `${prefix}${jobs.length > 1 ? `${who} ${jobname}` : who}`,
      origin: `${origin}, job ${jobname}`,
      options,
      ...(read ? { read } : {}),
      ...(write ? { write } : {}),
      ...(trim ? { trim } : {}),
      rampMs: rampFromSeries ?? rampMs(options.ramp_time),
    };
  });
  // The peers of a comparison (ours is listed first there too: the jobs above stand for it).
  const compare = obj(root['vfio-node compare']);
  const peers = Array.isArray(compare.peers) ? (compare.peers as unknown[]).map(obj) : [];
  for (const p of peers) {
    if (p.peer === 'vfio-node') continue;
    const dir = (d: unknown, dirName: ReportDirection): DirectionSummary | undefined => {
      const o = obj(d);
      const iops = num(o.iops);
      if (iops === undefined) return undefined;
      const pct: Record<string, number> = {};
      if (num(o.clat_p50_ns) !== undefined) pct['50'] = o.clat_p50_ns as number;
      if (num(o.clat_p99_ns) !== undefined) pct['99'] = o.clat_p99_ns as number;
      const lat = num(o.lat_mean_ns);
      // A peer with bins (the kernel's fio json+) gets the marked percentiles the compare object leaves out.
      const b = bins(o.clat_bins);
      for (const q of MARKED_PERCENTILES) if (pct[q] === undefined && b.length) pct[q] = percentileFromBins(b, Number(q));
      return { iops, bwBytes: num(o.bw_bytes) ?? 0, ios: num(o.ios) ?? 0, ...(lat !== undefined ? { latMeanNs: lat } : {}), clatPercentilesNs: pct, clatBins: b, ...seriesOf(p.series, dirName) };
    };
    const read = dir(p.read, 'read');
    const write = dir(p.write, 'write');
    const trim = dir(p.trim, 'trim');
    const command = Array.isArray(p.command) ? (p.command as unknown[]).map(String).join(' ') : '';
    sides.push({
      label: `${prefix}${String(p.peer)}`,
      origin: command ? `${String(p.label ?? p.peer)}: ${command}` : String(p.label ?? p.peer),
      options: sides[0]?.options ?? {},
      ...(read ? { read } : {}),
      ...(write ? { write } : {}),
      ...(trim ? { trim } : {}),
      rampMs: num(obj(p.series).ramp_ms) ?? sides[0]?.rampMs ?? 0,
      ...(typeof p.note === 'string' ? { note: p.note } : {}),
    });
  }
  return sides;
}

/** The facts about where a file's run happened that the file itself records. */
export function environmentFromFioJson(doc: unknown): Record<string, string> {
  const root = obj(doc);
  const env: Record<string, string> = {};
  if (typeof root['fio version'] === 'string') env['written by'] = root['fio version'];
  if (typeof root.time === 'string') env.time = root.time;
  const vn = obj(root['vfio-node environment']);
  for (const [k, v] of Object.entries(vn)) env[k] = String(v);
  const target = obj(obj((root.jobs as unknown[] | undefined)?.[0])['vfio-node']).target;
  if (typeof target === 'string') env.device = target;
  return env;
}

/** Percentiles the report marks, when the results have them. */
export const MARKED_PERCENTILES = ['50', '99', '99.9', '99.99'] as const;

/**
 * A completion-latency CDF from histogram bins: [ns, fraction of I/Os at or below].
 * Empty bins are skipped; the last point is 1.
 */
export function cdfFromBins(bins: readonly LatencyBin[]): [number, number][] {
  const total = bins.reduce((a, [, c]) => a + c, 0);
  if (total === 0) return [];
  let seen = 0;
  return bins.map(([ns, c]) => {
    seen += c;
    return [ns, seen / total];
  });
}

/** The value of the bin in which `percent` of the completions are reached (fio's way of reading its bins). */
export function percentileFromBins(bins: readonly LatencyBin[], percent: number): number {
  const total = bins.reduce((a, [, c]) => a + c, 0);
  const want = (total * percent) / 100;
  let seen = 0;
  for (const [ns, c] of bins) {
    seen += c;
    if (seen >= want) return ns;
  }
  return bins.at(-1)?.[0] ?? 0;
}

/** Ratio of a to b when both are known and b is not 0. */
export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
}
