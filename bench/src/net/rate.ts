// Per-second rates, printed the way ixy's apps print them: one line per port and
// direction, Mpps and Gbit/s. Gbit/s counts what a real link carries for each frame:
// the frame, its 4-byte FCS, the 8-byte preamble and the 12-byte inter-frame gap
// (frame bytes + 24), so that 64-byte frames at 10 GbE line rate read 14.88 Mpps, 10 Gbit/s.

/** Bytes a frame occupies on the wire beyond its own: FCS 4 + preamble 8 + IFG 12. */
export const WIRE_OVERHEAD = 24;

/** A rate sample: packets and bits per second since the previous sample. */
export interface RateSample {
  /** Seconds since the app started. */
  t: number;
  port: string;
  dir: 'rx' | 'tx';
  /** Frames and bytes in this interval. */
  packets: number;
  bytes: number;
  mpps: number;
  gbps: number;
  /** Totals so far. */
  totalPackets: number;
  totalBytes: number;
}

/** Counters read by a meter: the queue's stats object (read, never copied on the hot path). */
export interface Counted {
  packets: number;
  bytes: number;
}

/** Turns packet and byte counters into rates: each sample() gives the rate since the previous one. */
export class RateMeter {
  private lastPackets: number;
  private lastBytes: number;
  private lastTime: number;

  constructor(
    readonly port: string,
    readonly dir: 'rx' | 'tx',
    private readonly counters: Counted,
    private readonly start: number,
  ) {
    this.lastPackets = counters.packets;
    this.lastBytes = counters.bytes;
    this.lastTime = start;
  }

  /** The rate since the previous sample (now in ms, performance.now()). */
  sample(now: number): RateSample {
    const dt = (now - this.lastTime) / 1000 || 1e-9;
    const packets = this.counters.packets - this.lastPackets;
    const bytes = this.counters.bytes - this.lastBytes;
    this.lastPackets = this.counters.packets;
    this.lastBytes = this.counters.bytes;
    this.lastTime = now;
    return {
      t: Math.round((now - this.start) / 10) / 100,
      port: this.port,
      dir: this.dir,
      packets,
      bytes,
      mpps: packets / dt / 1e6,
      gbps: ((bytes + packets * WIRE_OVERHEAD) * 8) / dt / 1e9,
      totalPackets: this.counters.packets,
      totalBytes: this.counters.bytes,
    };
  }
}

/** "[0000:00:04.0] TX: 0.094 Mpps, 0.063 Gbit/s" (ixy's format, in Gbit/s). */
export function formatRate(s: RateSample): string {
  return `[${s.port}] ${s.dir.toUpperCase()}: ${s.mpps.toFixed(3)} Mpps, ${s.gbps.toFixed(3)} Gbit/s`;
}
