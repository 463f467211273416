// What a peer of --compare is doing, on the terminal line where the jobs' status line
// was: "peer kernel: fio --ioengine=io_uring on /dev/nvme0n1: 4 s of about 10 s",
// redrawn every second, so that nothing is silent while the peers run. Shown only
// where the status line is (fio's --eta rules).

/** One line rewritten in place with the elapsed seconds of the current step. */
export class PeerStatus {
  #text = '';
  #expectedSec: number | undefined;
  #since = 0;
  #width = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly now: () => number = Date.now,
  ) {}

  /** Shows a new step; expectedSec, when known, is printed as "of about N s". */
  start(text: string, expectedSec?: number): void {
    this.#text = text;
    this.#expectedSec = expectedSec;
    this.#since = this.now();
    this.draw();
    if (!this.#timer) {
      this.#timer = setInterval(() => this.draw(), 1000);
      this.#timer.unref();
    }
  }

  /** The line as it is drawn now. */
  line(): string {
    const s = Math.round((this.now() - this.#since) / 1000);
    const of = this.#expectedSec ? ` of about ${Math.round(this.#expectedSec)} s` : '';
    return `${this.#text}: ${s} s${of}`;
  }

  /** Redraws the line (once a second while started). */
  draw(): void {
    if (!this.#text) return;
    const l = this.line();
    this.stream.write(`\r${l.padEnd(this.#width)}`);
    this.#width = l.length;
  }

  /** Erases the line (before an error message); the next start() draws again. */
  clear(): void {
    if (this.#width) this.stream.write(`\r${' '.repeat(this.#width)}\r`);
    this.#width = 0;
  }

  /** Erases the line and stops redrawing it. */
  stop(): void {
    this.clear();
    this.#text = '';
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
