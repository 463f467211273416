// Watching a driver work: one line per thing that happens between the driver and the
// device (a register access, a submission entry, a doorbell, an interrupt, a completion,
// a descriptor), in order, with a timestamp, who did it, and the section of the
// specification that defines it. Off unless asked for: { trace: true } in a driver's
// options, VFIO_NODE_TRACE=1 (or =json) in the environment, or --trace on the command
// line. When it is off the drivers pay one test of a field that is null.
//
//   +    1.234 ms  0000:00:03.0  reg       write CC = 0x460001                    Base 2.0 §3.1.3.5
//   +    1.301 ms  0000:00:03.0  poll      CSTS.RDY=1 after 42 reads, 0.9 ms      Base 2.0 §3.5.1
//   +    2.002 ms  0000:00:03.0  sqe       Identify cid=0 cns=0x1 ... prp1=0x...  Base 2.0 §5.17
//
// --trace=json writes the same as JSON lines ({ t_ms, who, kind, text, section }) for tools.

/** What a trace line is about. */
export type TraceKind =
  | 'reg' // a register read or write
  | 'poll' // a register polled until it changed (collapsed into one line)
  | 'step' // a step of a bring-up or shutdown sequence
  | 'sqe' // an NVMe submission queue entry
  | 'prp' // a PRP list or SGL segment
  | 'doorbell' // a doorbell write (or a shadow doorbell, and whether MMIO followed)
  | 'cqe' // an NVMe completion queue entry
  | 'irq' // an interrupt (MSI-X vector) and what it woke
  | 'desc' // a virtqueue descriptor
  | 'avail' // an available ring update
  | 'used' // a used ring entry
  | 'notify' // a virtqueue notification, or its suppression
  | 'hdr' // a virtio_net_hdr
  | 'ctrl'; // a virtio-net control queue command, or its ack

/** One line of the trace. */
export interface TraceEvent {
  /** Milliseconds since the tracer started. */
  tMs: number;
  /** Who: the device's address, with the thread ("0000:00:03.0 worker 1") when not the main one. */
  who: string;
  kind: TraceKind;
  /** The decoded text. */
  text: string;
  /** Where the specification defines it ("Base 2.0 §5.17"), when it does. */
  section?: string;
}

/** How a driver's `trace` option is given: true (text on stderr), 'json', or a Tracer of one's own. */
export type TraceOption = boolean | 'text' | 'json' | Tracer;

/** A register being polled (Tracer.poll()): count the reads, then say what it became. */
export interface TracePoll {
  /** One more read of the register. */
  read(): void;
  /** The register said what was waited for: one line with `text`, the reads and the time. */
  done(text: string): void;
}

/** Where and how a Tracer writes. */
export interface TracerOptions {
  /** 'text' (aligned, coloured on a terminal) or 'json' (JSON lines). Default 'text'. */
  format?: 'text' | 'json';
  /** Gets every formatted line (with its newline). Default: process.stderr. */
  write?: (line: string) => void;
  /** Colour the text (default: when writing to a terminal stderr). */
  color?: boolean;
  /** Also keep every event in `events` (tests, the walkthrough's check). Default false. */
  keep?: boolean;
  /** The clock, ms (default performance.now). */
  now?: () => number;
}

const COLORS: Partial<Record<TraceKind, string>> = {
  reg: '\x1b[36m', poll: '\x1b[36m', step: '\x1b[1m', sqe: '\x1b[33m', prp: '\x1b[33m', doorbell: '\x1b[35m',
  cqe: '\x1b[32m', irq: '\x1b[31m', desc: '\x1b[33m', avail: '\x1b[35m', used: '\x1b[32m', notify: '\x1b[31m', hdr: '\x1b[33m',
};

/** Writes trace lines. One per process is usual (Tracer.shared()); drivers take one through their `trace` option. */
export class Tracer {
  /** Every event so far, when created with keep: true. */
  readonly events: TraceEvent[] = [];
  private readonly format: 'text' | 'json';
  private readonly write: (line: string) => void;
  private readonly color: boolean;
  private readonly keep: boolean;
  private readonly now: () => number;
  private readonly t0: number;

  constructor(options: TracerOptions = {}) {
    this.format = options.format ?? 'text';
    this.write = options.write ?? ((line) => process.stderr.write(line));
    this.color = options.color ?? (options.write === undefined && process.stderr.isTTY === true);
    this.keep = options.keep ?? false;
    this.now = options.now ?? (() => performance.now());
    this.t0 = this.now();
  }

  /** Writes one line. */
  emit(who: string, kind: TraceKind, text: string, section?: string): void {
    const ev: TraceEvent = { tMs: this.now() - this.t0, who, kind, text, ...(section ? { section } : {}) };
    if (this.keep) this.events.push(ev);
    this.write(this.format === 'json' ? `${JSON.stringify({ t_ms: Number(ev.tMs.toFixed(3)), who, kind, text, ...(section ? { section } : {}) })}\n` : this.line(ev));
  }

  private line(ev: TraceEvent): string {
    const t = `+${ev.tMs.toFixed(3).padStart(10)} ms`;
    const kind = ev.kind.padEnd(8);
    const sec = ev.section ? `  ${ev.section}` : '';
    if (!this.color) return `${t}  ${ev.who}  ${kind}  ${ev.text}${sec}\n`;
    return `\x1b[2m${t}\x1b[0m  ${ev.who}  ${COLORS[ev.kind] ?? ''}${kind}\x1b[0m  ${ev.text}\x1b[2m${sec}\x1b[0m\n`;
  }

  /**
   * A register polled until it says something: one line when it does, with how many reads
   * and how long (instead of a line per read). Call done() with the final text.
   */
  poll(who: string, section?: string): TracePoll {
    const start = this.now();
    let reads = 0;
    return {
      read: () => {
        reads++;
      },
      done: (text: string) => this.emit(who, 'poll', `${text} after ${reads} read${reads === 1 ? '' : 's'}, ${(this.now() - start).toFixed(1)} ms`, section),
    };
  }

  private static sharedTracer: Tracer | null = null;
  private static sharedFrom: string | undefined;

  /**
   * The process's tracer from VFIO_NODE_TRACE (1, true or text: text on stderr; json:
   * JSON lines), or null when it is unset. Made once per value of the variable.
   */
  static shared(): Tracer | null {
    const v = (process.env.VFIO_NODE_TRACE ?? '').toLowerCase();
    if (v !== Tracer.sharedFrom) {
      Tracer.sharedFrom = v;
      Tracer.sharedTracer = v === '' || v === '0' || v === 'false' ? null : new Tracer({ format: v === 'json' ? 'json' : 'text' });
    }
    return Tracer.sharedTracer;
  }

  /** The tracer a driver's `trace` option asks for: null when off (then VFIO_NODE_TRACE decides). */
  static from(option: TraceOption | undefined): Tracer | null {
    if (option instanceof Tracer) return option;
    if (option === 'json') return Tracer.shared()?.format === 'json' ? Tracer.shared() : new Tracer({ format: 'json' });
    if (option === true || option === 'text') return Tracer.shared() ?? new Tracer();
    if (option === false) return null;
    return Tracer.shared();
  }
}
