// The packet apps' results as a file (`vfio-node net pktgen|count|fwd ... --output FILE`),
// the way fio writes its JSON: one object, written when the app ends, holding what it
// printed each second (per port and direction: packets and bits per second) and its
// summary. `vfio-node report FILE` draws it (packets per second over time and a table).
//   { "vfio-node net": { "version": 1, "app": "pktgen", "command": [...], "time": "...",
//       "rates": [ { "t": s, "port", "dir": "rx"|"tx", "packets", "bytes", "pps", "bps" } ],
//       "summary": { ...what the app's --json summary line says } } }
// bps counts what a link carries for each frame (frame + FCS + preamble + gap: rate.ts).

import type { RateSample } from './rate.js';

/** The top-level key of a packet app's result file. */
export const NET_RESULT_KEY = 'vfio-node net';

/** One per-second rate in a result file. */
export interface NetRate {
  /** Seconds since the app started. */
  t: number;
  /** The PCI address of the port. */
  port: string;
  /** Received or transmitted. */
  dir: 'rx' | 'tx';
  /** Frames and bytes in this second. */
  packets: number;
  bytes: number;
  /** Packets per second. */
  pps: number;
  /** Bits per second on the wire (frame bytes + 24 per frame). */
  bps: number;
}

/** Collects an app's per-second samples and builds its result file. */
export class NetResultRecorder {
  private readonly rates: NetRate[] = [];

  /** @param app the subcommand; @param command the command line, for the record */
  constructor(
    private readonly app: string,
    private readonly command: readonly string[],
  ) {}

  /** One per-second sample, as the app reports it. */
  add(s: RateSample): void {
    this.rates.push({ t: s.t, port: s.port, dir: s.dir, packets: s.packets, bytes: s.bytes, pps: Math.round(s.mpps * 1e6), bps: Math.round(s.gbps * 1e9) });
  }

  /** The whole file's object, with the app's summary(ies) (fwd has one per direction). */
  json(summary: unknown, now = new Date()): Record<string, unknown> {
    return { [NET_RESULT_KEY]: { version: 1, app: this.app, command: [...this.command], time: now.toISOString(), rates: this.rates, summary } };
  }
}
