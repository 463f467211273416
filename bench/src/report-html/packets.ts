// What the report shows of a packet app's result file (net/result-json.ts): per port and
// direction, the packets per second of each second, and a summary row (mean and peak
// rate, mean bits per second, frames in all).

/** One port and direction of one packet app's run. */
export interface PacketLine {
  /** Legend text: the file's name when several are drawn, the app, port and direction. */
  label: string;
  /** The app (pktgen, count, fwd). */
  app: string;
  /** The PCI address of the port. */
  port: string;
  /** Received or transmitted. */
  dir: 'rx' | 'tx';
  /** [s since the app started, packets per second]. */
  pps: [s: number, value: number][];
  /** [s since the app started, bits per second on the wire]. */
  bps: [s: number, value: number][];
  /** Frames counted over the run. */
  packets: number;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Whether a parsed result file is a packet app's (it has the "vfio-node net" key). */
export const isPacketResult = (doc: unknown): boolean => 'vfio-node net' in obj(doc);

/**
 * The lines of one packet app's result file: one per port and direction that has rates.
 * `name` prefixes the labels when several files are laid side by side.
 * @throws Error when the file has no rates (an app stopped within its first second)
 */
export function packetLinesFromJson(doc: unknown, origin: string, name?: string): PacketLine[] {
  const net = obj(obj(doc)['vfio-node net']);
  const app = String(net.app ?? 'net');
  const rates = Array.isArray(net.rates) ? (net.rates as unknown[]).map(obj) : [];
  const byKey = new Map<string, PacketLine>();
  for (const r of rates) {
    const t = num(r.t);
    const pps = num(r.pps);
    const dir = r.dir === 'tx' ? 'tx' : r.dir === 'rx' ? 'rx' : undefined;
    if (t === undefined || pps === undefined || !dir) continue;
    const port = String(r.port ?? '?');
    const key = `${port} ${dir}`;
    let line = byKey.get(key);
    if (!line) {
      line = { label: `${name ? `${name}: ` : ''}${app} ${port} ${dir.toUpperCase()}`, app, port, dir, pps: [], bps: [], packets: 0 };
      byKey.set(key, line);
    }
    line.pps.push([t, pps]);
    line.bps.push([t, num(r.bps) ?? 0]);
    line.packets += num(r.packets) ?? 0;
  }
  if (!byKey.size) throw new Error(`${origin}: the packet app recorded no per-second rate (it ran less than a second?)`);
  return [...byKey.values()];
}

/** A line's mean and peak packets per second and mean bits per second, over its seconds. */
export function packetLineSummary(l: PacketLine): { meanPps: number; peakPps: number; meanBps: number } {
  const n = l.pps.length || 1;
  return {
    meanPps: l.pps.reduce((a, [, v]) => a + v, 0) / n,
    peakPps: l.pps.reduce((a, [, v]) => Math.max(a, v), 0),
    meanBps: l.bps.reduce((a, [, v]) => a + v, 0) / n,
  };
}
