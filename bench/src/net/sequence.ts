// The check count runs on pktgen's sequence numbers, in RFC 4737's terms: NextExp is one
// past the highest number seen; a frame below it arrived after a later one (reordered),
// a frame above it leaves a gap (lost, until the missing frames turn up). With a count,
// a bitmap (one byte per number, allocated once) also says exactly which numbers came
// and which came twice. One add() per frame, nothing allocated.

/** Largest count the bitmap covers (64 MiB). */
export const SEQUENCE_BITMAP_MAX = 1 << 26;

/**
 * Checks the sequence numbers of received pktgen frames: a gap is a loss (until the frames turn up), a step back
 * a reordering; with a count, a bitmap also finds duplicates.
 */
export class SequenceCheck {
  /** Frames checked. */
  frames = 0;
  /** Numbers skipped and not seen since (a gap, less the frames that filled it later). */
  lost = 0;
  /** Frames whose number was below NextExp (RFC 4737 §3.3), duplicates excluded when the bitmap can tell. */
  reordered = 0;
  /** The first number seen (-1: none yet). */
  firstSeq = -1;
  /** NextExp: one past the highest number seen (-1: none yet). */
  nextExp = -1;
  private readonly seen: Uint8Array | undefined;
  private distinctCount = 0;
  private duplicateCount = 0;

  /** @param count numbers 0..count-1 are expected (exact counts with a bitmap when count ≤ SEQUENCE_BITMAP_MAX) */
  constructor(readonly count = Infinity) {
    this.seen = Number.isFinite(count) && count <= SEQUENCE_BITMAP_MAX ? new Uint8Array(count) : undefined;
  }

  /** Records one received sequence number. */
  add(seq: number): void {
    this.frames++;
    const seen = this.seen;
    if (seen && seq < this.count) {
      if (seen[seq]) {
        this.duplicateCount++;
        return;
      }
      seen[seq] = 1;
      this.distinctCount++;
    }
    const next = this.nextExp;
    if (next < 0) {
      this.firstSeq = seq;
      this.lost += seq; // pktgen starts at 0: the numbers before the first one seen are missing
    } else if (seq < next) {
      this.reordered++;
      if (this.lost > 0) this.lost--;
      return;
    } else {
      this.lost += seq - next;
    }
    this.nextExp = seq + 1;
  }

  /** True once every number below count was seen (with the bitmap), or count frames were checked (without). */
  get complete(): boolean {
    return (this.seen ? this.distinctCount : this.frames) >= this.count;
  }

  /** With the bitmap: numbers below count never seen, and frames seen again; else undefined. */
  get missing(): number | undefined {
    return this.seen ? this.count - this.distinctCount : undefined;
  }

  /** Numbers that came more than once (only with a count: undefined without the bitmap). */
  get duplicates(): number | undefined {
    return this.seen ? this.duplicateCount : undefined;
  }

  /** The highest number seen (-1: none). */
  get lastSeq(): number {
    return this.nextExp - 1;
  }
}
