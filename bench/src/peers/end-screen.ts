// The screen `npm start` ends with: one row per engine (vfio-node's direct engine, its
// runtime's promise API, the kernel's driver under fio, QEMU's userspace driver under
// qemu-img bench), the figures a reader compares (IOPS, bandwidth, mean and p99
// latency), and each ratio in words: the direct engine against every peer, and the
// runtime against the kernel and QEMU, so both of our paths face the kernel. It is
// drawn from the "vfio-node compare" object of the JSON results (compareJson), so it
// can be printed on the host from the file the guest wrote.

import { VfioError } from '@vfio-node/core';
import { RUNTIME_ENGINE_LABEL } from './compare.js';
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
  'vfio-runtime': 'vfio-node runtime (promises)',
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
  // Our jobs ran on the runtime engine (--ioengine=vfio-runtime): name them so.
  const engineOf = (s: PeerResult) => (s.peer === 'vfio-node' && s.label === RUNTIME_ENGINE_LABEL ? ENGINE['vfio-runtime'] : ENGINE[s.peer] ?? s.label);
  const header = ['engine', 'dir', 'IOPS', 'MiB/s', 'mean lat', 'p99 lat'];
  const rows: string[][] = [];
  for (const s of sides) {
    for (const [name, d] of [['read', s.read], ['write', s.write]] as const) {
      if (!d) continue;
      rows.push([engineOf(s), name, count(d.iops), (d.bwBytes / 1048576).toFixed(1), latency(d.latMeanNs), latency(d.clatP99Ns)]);
    }
  }
  const table = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('   ').trimEnd();
  const out = [line(header), ...rows.map(line), ''];
  // With the runtime among the peers, "vfio-node" alone would not say which of our paths.
  const runtime = peers.find((p) => p.peer === 'vfio-runtime');
  const oursName = runtime ? 'vfio-node direct' : 'vfio-node';
  for (const p of peers) out.push(ratioSentence(ours, oursName, p, engineOf(p)));
  if (runtime) for (const p of peers) if (p !== runtime) out.push(ratioSentence(runtime, 'vfio-node runtime', p, engineOf(p)));
  if (!peers.length) out.push('No peer ran (stopped early, or every peer failed): nothing to compare with.');
  return out.join('\n') + '\n';
}

/** "NAME vs PEER: 1.75x the IOPS, 0.57x the mean latency, 0.55x the p99 latency (note)". */
function ratioSentence(a: PeerResult, aName: string, b: PeerResult, bName: string): string {
  const parts: string[] = [];
  for (const [name, x, y] of [['read', a.read, b.read], ['write', a.write, b.write]] as const) {
    if (!x || !y) continue;
    const dir = a.read && a.write ? `${name} ` : '';
    if (y.iops > 0) parts.push(`${(x.iops / y.iops).toFixed(2)}x the ${dir}IOPS`);
    if (x.latMeanNs !== undefined && y.latMeanNs) parts.push(`${(x.latMeanNs / y.latMeanNs).toFixed(2)}x the ${dir}mean latency`);
    if (x.clatP99Ns !== undefined && y.clatP99Ns) parts.push(`${(x.clatP99Ns / y.clatP99Ns).toFixed(2)}x the ${dir}p99 latency`);
  }
  return `${aName} vs ${bName}: ${parts.length ? parts.join(', ') : 'no common figures'}${b.note ? ` (${b.note})` : ''}`;
}
