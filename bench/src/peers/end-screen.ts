// The screen `npm start` ends with: one row per engine (vfio-node, the kernel's driver
// under fio, QEMU's userspace driver under qemu-img bench), the figures a reader
// compares (IOPS, bandwidth, mean and p99 latency), and each ratio in words. It is
// drawn from the "vfio-node compare" object of the JSON results (compareJson), so it
// can be printed on the host from the file the guest wrote.

import { VfioError } from '@vfio-node/core';
import type { PeerDirection, PeerResult } from './peer.js';

/** ERR_BENCH_RESULTS: a results file without the comparison the end screen is drawn from. */
function badResults(what: string): VfioError {
  return new VfioError({ code: 'ERR_BENCH_RESULTS', message: what, hint: 'Run the benchmark with --compare=kernel,qemu and --output-format=json or json+.' });
}

/** Reads compareJson()'s object back into peer results; ours is the 'vfio-node' entry. */
export function readCompareJson(obj: unknown): { ours: PeerResult; peers: PeerResult[] } {
  const peersJson = (obj as { peers?: unknown } | undefined)?.peers;
  if (!Array.isArray(peersJson)) throw badResults('the results have no "vfio-node compare" peers');
  const dir = (d: any): PeerDirection | undefined =>
    d && typeof d.iops === 'number'
      ? {
          iops: d.iops, bwBytes: d.bw_bytes, ios: d.ios,
          ...(typeof d.lat_mean_ns === 'number' ? { latMeanNs: d.lat_mean_ns } : {}),
          ...(typeof d.clat_p50_ns === 'number' ? { clatP50Ns: d.clat_p50_ns } : {}),
          ...(typeof d.clat_p99_ns === 'number' ? { clatP99Ns: d.clat_p99_ns } : {}),
        }
      : undefined;
  const all: PeerResult[] = peersJson.map((p: any) => {
    const read = dir(p.read);
    const write = dir(p.write);
    return { peer: p.peer, label: String(p.label ?? p.peer), command: Array.isArray(p.command) ? p.command : [], ...(read ? { read } : {}), ...(write ? { write } : {}), ...(p.note ? { note: String(p.note) } : {}) };
  });
  const ours = all.find((p) => p.peer === 'vfio-node');
  if (!ours) throw badResults('the results have no vfio-node entry in "vfio-node compare"');
  return { ours, peers: all.filter((p) => p !== ours) };
}

const ENGINE: Record<PeerResult['peer'], string> = {
  'vfio-node': 'vfio-node (userspace, VFIO)',
  kernel: "kernel nvme driver (fio)",
  qemu: "QEMU's userspace driver (qemu-img)",
};

/** 33012 → "33.0k", 812 → "812". */
function count(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(2)}k`;
  return v.toFixed(0);
}

/** Nanoseconds in the unit a reader expects: "212 us", "1.71 ms". */
function latency(ns: number | undefined): string {
  if (ns === undefined) return '-';
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  return `${(ns / 1e3).toFixed(ns >= 1e5 ? 0 : 1)} us`;
}

/**
 * The comparison as a table of engines and a sentence per peer, e.g.
 *   engine                        dir      IOPS     MiB/s    mean lat   p99 lat
 *   vfio-node (userspace, VFIO)   read    33.0k     129.0      967 us   1.71 ms
 *   ...
 *   vfio-node vs kernel nvme driver (fio): 1.75x the IOPS, 0.57x the mean latency, 0.61x the p99 latency
 */
export function formatEndScreen(ours: PeerResult, peers: readonly PeerResult[]): string {
  const sides = [ours, ...peers];
  const header = ['engine', 'dir', 'IOPS', 'MiB/s', 'mean lat', 'p99 lat'];
  const rows: string[][] = [];
  for (const s of sides) {
    for (const [name, d] of [['read', s.read], ['write', s.write]] as const) {
      if (!d) continue;
      rows.push([ENGINE[s.peer] ?? s.label, name, count(d.iops), (d.bwBytes / 1048576).toFixed(1), latency(d.latMeanNs), latency(d.clatP99Ns)]);
    }
  }
  const table = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('   ').trimEnd();
  const out = [line(header), ...rows.map(line), ''];
  for (const p of peers) {
    const parts: string[] = [];
    for (const [name, a, b] of [['read', ours.read, p.read], ['write', ours.write, p.write]] as const) {
      if (!a || !b) continue;
      const dir = ours.read && ours.write ? `${name} ` : '';
      if (b.iops > 0) parts.push(`${(a.iops / b.iops).toFixed(2)}x the ${dir}IOPS`);
      if (a.latMeanNs !== undefined && b.latMeanNs) parts.push(`${(a.latMeanNs / b.latMeanNs).toFixed(2)}x the ${dir}mean latency`);
      if (a.clatP99Ns !== undefined && b.clatP99Ns) parts.push(`${(a.clatP99Ns / b.clatP99Ns).toFixed(2)}x the ${dir}p99 latency`);
    }
    out.push(`vfio-node vs ${ENGINE[p.peer] ?? p.label}: ${parts.length ? parts.join(', ') : 'no common figures'}${p.note ? ` (${p.note})` : ''}`);
  }
  if (!peers.length) out.push('No peer ran (stopped early, or every peer failed): nothing to compare with.');
  return out.join('\n') + '\n';
}
