// --compare kernel,qemu: our figures next to the peers', as a table and as the
// top-level "vfio-node compare" object of the JSON output:
//   "vfio-node compare" : {
//     "peers" : [ { "peer": "vfio-node"|"vfio-runtime"|"kernel"|"qemu", "label", "command": [...],
//                   "read"/"write"/"trim": { "iops", "bw_bytes", "ios", "lat_mean_ns"?, "clat_p50_ns"?, "clat_p99_ns"? },
//                   "note"?, "series"? (job-series.ts), with "clat_bins"? per direction (fio's json+ bins) } ],
//     "ratios" : { "<peer>": { "read_iops": ours/theirs, "write_iops": ..., "read_lat_mean": ours/theirs, ... } }
//   }
// A ratio above 1 means more IOPS (or more latency) for vfio-node than for that peer.

import type { ReportedStat } from '../group.js';
import type { PeerDirection, PeerResult } from './peer.js';
import { calcPercentiles, newPlat, nonEmptyBins } from '../histogram.js';
import { seriesJson } from '../job-series.js';

/** The label of our figures when they come from the runtime engine (ioengine=vfio-runtime, or its peer). */
export const RUNTIME_ENGINE_LABEL = 'vfio-node runtime (promises from the main thread)';

/**
 * Our own result in the peers' shape, summing every reported stat.
 * @param label the name in the table (default: the direct engine's)
 */
export function ourPeerResult(stats: readonly ReportedStat[], label = 'vfio-node (userspace VFIO NVMe)'): PeerResult {
  const dir = (d: 0 | 1 | 2): PeerDirection | undefined => {
    let ios = 0;
    let bytes = 0;
    let runtime = 0;
    let latSum = 0;
    let p50 = 0;
    let p99 = 0;
    // Every job's completion-latency bins, summed: the report's latency curve for this side.
    const plat = newPlat();
    for (const { stat } of stats) {
      const s = stat.dir[d];
      for (let i = 0; i < plat.length; i++) plat[i]! += s.clatPlat[i]!;
      ios += s.totalIos;
      bytes += s.ioBytes;
      runtime = Math.max(runtime, s.runtimeMs);
      latSum += s.lat.mean * s.lat.samples;
      const [a = 0, b = 0] = calcPercentiles(s.clatPlat, s.clat.samples, [50, 99]);
      p50 = Math.max(p50, a);
      p99 = Math.max(p99, b);
    }
    if (!ios || !runtime) return undefined;
    const clatBins = nonEmptyBins(plat);
    return { iops: (ios * 1000) / runtime, bwBytes: Math.floor((bytes * 1000) / runtime), ios, latMeanNs: latSum / ios, clatP50Ns: p50, clatP99Ns: p99, ...(clatBins.length ? { clatBins } : {}) };
  };
  const read = dir(0);
  const write = dir(1);
  const trim = dir(2);
  return { peer: 'vfio-node', label, command: [], ...(read ? { read } : {}), ...(write ? { write } : {}), ...(trim ? { trim } : {}) };
}

type Metric = { key: string; label: string; get: (r: PeerResult) => number | undefined; unit: (v: number) => string };

const METRICS: Metric[] = [
  { key: 'read_iops', label: 'read IOPS', get: (r) => r.read?.iops, unit: (v) => v.toFixed(0) },
  { key: 'read_bw', label: 'read MiB/s', get: (r) => r.read && r.read.bwBytes / 1048576, unit: (v) => v.toFixed(1) },
  { key: 'read_lat_mean', label: 'read lat mean (us)', get: (r) => r.read?.latMeanNs && r.read.latMeanNs / 1000, unit: (v) => v.toFixed(1) },
  { key: 'read_clat_p99', label: 'read clat p99 (us)', get: (r) => r.read?.clatP99Ns && r.read.clatP99Ns / 1000, unit: (v) => v.toFixed(1) },
  { key: 'write_iops', label: 'write IOPS', get: (r) => r.write?.iops, unit: (v) => v.toFixed(0) },
  { key: 'write_bw', label: 'write MiB/s', get: (r) => r.write && r.write.bwBytes / 1048576, unit: (v) => v.toFixed(1) },
  { key: 'write_lat_mean', label: 'write lat mean (us)', get: (r) => r.write?.latMeanNs && r.write.latMeanNs / 1000, unit: (v) => v.toFixed(1) },
  { key: 'write_clat_p99', label: 'write clat p99 (us)', get: (r) => r.write?.clatP99Ns && r.write.clatP99Ns / 1000, unit: (v) => v.toFixed(1) },
  { key: 'trim_iops', label: 'trim IOPS', get: (r) => r.trim?.iops, unit: (v) => v.toFixed(0) },
  { key: 'trim_lat_mean', label: 'trim lat mean (us)', get: (r) => r.trim?.latMeanNs && r.trim.latMeanNs / 1000, unit: (v) => v.toFixed(1) },
  { key: 'trim_clat_p99', label: 'trim clat p99 (us)', get: (r) => r.trim?.clatP99Ns && r.trim.clatP99Ns / 1000, unit: (v) => v.toFixed(1) },
];

/** ours / theirs for every metric both have. */
export function ratios(ours: PeerResult, peers: readonly PeerResult[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const p of peers) {
    const r: Record<string, number> = {};
    for (const m of METRICS) {
      const a = m.get(ours);
      const b = m.get(p);
      if (a !== undefined && b !== undefined && b > 0) r[m.key] = a / b;
    }
    out[p.peer] = r;
  }
  return out;
}

/** A side-by-side table: one row per metric any side has, one column per side, then "x vs <peer>" ratio columns. */
export function formatCompareTable(ours: PeerResult, peers: readonly PeerResult[]): string {
  const sides = [ours, ...peers];
  const rows = METRICS.filter((m) => sides.some((s) => m.get(s) !== undefined));
  const header = ['', ...sides.map((s) => s.peer), ...peers.map((p) => `vs ${p.peer}`)];
  const body = rows.map((m) => {
    const a = m.get(ours);
    return [
      m.label,
      ...sides.map((s) => {
        const v = m.get(s);
        return v === undefined ? '-' : m.unit(v);
      }),
      ...peers.map((p) => {
        const b = m.get(p);
        return a !== undefined && b !== undefined && b > 0 ? `${(a / b).toFixed(2)}x` : '-';
      }),
    ];
  });
  const table = [header, ...body];
  const widths = header.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd();
  const notes = peers.filter((p) => p.note).map((p) => `  ${p.peer}: ${p.note}`);
  const cmds = peers.map((p) => `  ${p.peer}: ${p.command.join(' ')}`);
  return [line(header), ...body.map(line), '', 'Peers:', ...cmds, ...(notes.length ? ['Notes:', ...notes] : [])].join('\n') + '\n';
}

/** The "vfio-node compare" JSON object. */
export function compareJson(ours: PeerResult, peers: readonly PeerResult[]): Record<string, unknown> {
  const dir = (d: PeerDirection | undefined) =>
    d && {
      iops: d.iops, bw_bytes: d.bwBytes, ios: d.ios,
      ...(d.latMeanNs !== undefined ? { lat_mean_ns: d.latMeanNs } : {}),
      ...(d.clatP50Ns !== undefined ? { clat_p50_ns: d.clatP50Ns } : {}),
      ...(d.clatP99Ns !== undefined ? { clat_p99_ns: d.clatP99Ns } : {}),
      // fio's json+ shape: bin value (ns) as the key, count as the value.
      ...(d.clatBins?.length ? { clat_bins: Object.fromEntries(d.clatBins.map(([ns, c]) => [String(ns), c])) } : {}),
    };
  return {
    peers: [ours, ...peers].map((p) => ({
      peer: p.peer, label: p.label, command: p.command,
      ...(p.read ? { read: dir(p.read) } : {}), ...(p.write ? { write: dir(p.write) } : {}), ...(p.trim ? { trim: dir(p.trim) } : {}), ...(p.note ? { note: p.note } : {}),
      ...(p.series ? { series: seriesJson(p.series) } : {}),
    })),
    ratios: ratios(ours, peers),
  };
}
