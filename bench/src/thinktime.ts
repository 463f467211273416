// fio's thinktime (HOWTO "I/O rate": thinktime, thinktime_spin, thinktime_blocks,
// thinktime_blocks_type), fio 3.33 meanings: before the job issues an I/O, it looks at its
// count of I/Os (completed ones by default, issued ones with thinktime_blocks_type=issue);
// once that count has grown by thinktime_blocks (default 1) since the last pause, the job
// lets every I/O in flight complete, spends thinktime_spin busy (the CPU stays on the job,
// as an application working on the data), then stays idle for the rest of thinktime before
// issuing again. With type=issue, thinktime_blocks caps the queue depth; with the default
// (completions), a deep queue can issue more than thinktime_blocks between pauses, as in fio.
// Times without a unit are µs.
// thinktime_iotime (fio 3.33 backend.c handle_thinktime, read for facts; HOWTO): the pause
// also comes once thinktime_iotime + thinktime has passed since the last pause began (since
// the job's start at first), so the job issues for thinktime_iotime between pauses after the
// first period; without a unit it is in seconds. Without an explicit thinktime_blocks only
// the time counts; with one, whichever comes first (and either restarts both). fio 3.33's
// --write_iops_log for thinktime=200ms thinktime_iotime=300ms showed I/O for the first 500
// ms, then pauses at 500-700, 1000-1200, 1500-1700 ms (fixture fio-3.33-thinktime-iotime).
// The state machine never sleeps: it tells the job whether it may issue and until when it
// is idle; the engine waits.

import { invalidArgument } from '@vfio-node/core';
import type { JobOptions } from './options.js';
import { parseInteger, parseTimeUs } from './units.js';

/** The thinktime options of one job. */
export interface ThinktimeOptions {
  /** thinktime= in µs (0: none). */
  us: number;
  /** thinktime_spin= in µs: the busy part of each pause. */
  spinUs: number;
  /** thinktime_blocks=: I/Os between pauses (fio's default 1). */
  blocks: number;
  /** Whether the job gave thinktime_blocks= (with thinktime_iotime, fio counts blocks only then). */
  blocksGiven: boolean;
  /** thinktime_iotime= in µs: time issuing between pauses (0: not set). */
  iotimeUs: number;
  /** thinktime_blocks_type=: count completed I/Os (fio's default) or issued ones. */
  blocksType: 'complete' | 'issue';
}

/** fio's defaults: no thinktime, 1 block, counted on completion. */
export function defaultThinktimeOptions(): ThinktimeOptions {
  return { us: 0, spinUs: 0, blocks: 1, blocksGiven: false, iotimeUs: 0, blocksType: 'complete' };
}

type Setter = (o: JobOptions, value: string | undefined, key: string) => void;

const req = (key: string, v: string | undefined): string => {
  if (v === undefined || v === '') throw invalidArgument(key, v ?? '', `a value (${key}=...)`);
  return v;
};

/** The option table entries of the thinktime options (merged into options.ts's table). */
export const THINKTIME_SETTERS: Record<string, Setter> = {
  thinktime: (o, v, k) => { o.thinktime.us = parseTimeUs(k, req(k, v), 'us'); },
  thinktime_spin: (o, v, k) => { o.thinktime.spinUs = parseTimeUs(k, req(k, v), 'us'); },
  thinktime_blocks: (o, v, k) => {
    o.thinktime.blocks = parseInteger(k, req(k, v), 1);
    o.thinktime.blocksGiven = true;
  },
  // fio: a time in seconds when the unit is omitted.
  thinktime_iotime: (o, v, k) => { o.thinktime.iotimeUs = parseTimeUs(k, req(k, v), 's'); },
  thinktime_blocks_type: (o, v, k) => {
    const t = req(k, v).toLowerCase();
    if (t !== 'complete' && t !== 'issue') throw invalidArgument(k, v, 'complete or issue');
    o.thinktime.blocksType = t;
  },
};

/** Where a job is in its think cycle. */
export enum ThinkState {
  /** Issuing I/O; counting blocks. */
  Issuing,
  /** thinktime_blocks reached: waiting for the I/O in flight to complete. */
  Draining,
  /** Thinking: busy until spinEndNs, then idle until endNs. */
  Thinking,
}

/** One job's think cycle. Times are the engine's clock in ns. */
export class Thinktime {
  state = ThinkState.Issuing;
  private issuedCount = 0;
  private completedCount = 0;
  /** The count (issued or completed) at the last pause. */
  private last = 0;
  /** thinktime_iotime: when the last pause began (the job's first look at first), ns; -1 before that. */
  private lastPauseNs = -1;
  private readonly onIssue: boolean;
  /** While thinking: the end of the busy part and of the whole pause. */
  spinEndNs = 0;
  endNs = 0;

  constructor(private readonly t: ThinktimeOptions) {
    this.onIssue = t.blocksType === 'issue';
  }

  /** One I/O was issued. */
  issued(): void {
    this.issuedCount++;
  }

  /** `n` I/Os completed. */
  completed(n: number): void {
    this.completedCount += n;
  }

  /**
   * True when the job may issue now. Moves from draining to thinking once nothing is in
   * flight, and from thinking back to issuing once the pause is over. `pausedNs` gets the
   * length of a pause that just ended (for rate_ignore_thinktime), else 0.
   */
  mayIssue(now: number, inFlight: number): boolean {
    this.pausedNs = 0;
    if (this.state === ThinkState.Issuing) {
      // fio looks after each I/O it queued and after reaping a full queue; looking before
      // the next I/O, with every completion reaped so far counted, comes to the same.
      const b = this.onIssue ? this.issuedCount : this.completedCount;
      let due = false;
      if (this.t.iotimeUs) {
        // The job's first look is its start (the engine asks before its first I/O).
        if (this.lastPauseNs < 0) this.lastPauseNs = now;
        due = now - this.lastPauseNs >= (this.t.iotimeUs + this.t.us) * 1000;
        if (!due && !this.t.blocksGiven) return true;
      }
      if (!due && b < this.last + this.t.blocks) return true;
      this.state = ThinkState.Draining;
      this.last = b;
      if (this.t.iotimeUs) this.lastPauseNs = now;
    }
    if (this.state === ThinkState.Draining) {
      if (inFlight > 0) return false;
      this.state = ThinkState.Thinking;
      this.spinEndNs = now + this.t.spinUs * 1000;
      this.endNs = now + this.t.us * 1000;
    }
    if (now < this.endNs) return false;
    this.pausedNs = this.t.us * 1000;
    this.state = ThinkState.Issuing;
    return true;
  }

  /** Set by mayIssue(): the length of the pause that just ended, in ns (0 if none ended). */
  pausedNs = 0;

  /** While thinking: the time until which the job may be put to sleep (0 while it must spin or drain). */
  sleepUntil(now: number): number {
    return this.state === ThinkState.Thinking && now >= this.spinEndNs ? this.endNs : 0;
  }
}
