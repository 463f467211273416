// fio's read/write choice for rw=rw and rw=randrw (fio 3.33 io_u.c get_rw_ddir, get_rand_ddir
// and set_rwmix_bytes; read for facts, not copied). The job keeps a current direction and
// a threshold. Before an I/O, once the current direction has issued at least the threshold,
// a number from 1 to 100 is drawn from the job's mix generator (seed rand_seeds[FIO_RAND_MIX_OFF],
// rand.ts): at most rwmixread picks reads, above it writes. On a change of direction the
// threshold becomes the I/Os the old direction has issued so far times the new direction's
// share / 100 (integer division), so a direction that just took over keeps its turn until it
// has issued that many; while the direction stays, every I/O draws again. The counts are
// fio's io_issues (issued I/Os per direction over the whole job, never reset). A rate limit
// may hand an I/O to the other direction (rate.ts), which then becomes the current one.
// Checked against fio 3.33's write_iolog on its null engine (fixtures fio-3.33-rwmix-*).

import { IO_READ, IO_WRITE } from './io-target.js';
import { fioRandBetween, Taus88 } from './rand.js';

/** The direction of each I/O of a job that both reads and writes, as fio 3.33 chooses it. */
export class RwMix {
  private readonly rng: Taus88;
  private readonly share: [number, number];
  private readonly issues = [0, 0];
  private current: typeof IO_READ | typeof IO_WRITE = IO_READ;
  private threshold = 0;

  /**
   * @param rwmixread the share of reads in percent (rwmixwrite is 100 minus it)
   * @param seed the job's FIO_RAND_MIX_OFF seed (rand.ts fioSeed)
   */
  constructor(rwmixread: number, seed: number) {
    this.rng = new Taus88(seed);
    this.share = [rwmixread, 100 - rwmixread];
  }

  /** The direction of the next I/O (call once per I/O, then issued() when it goes out). */
  next(): typeof IO_READ | typeof IO_WRITE {
    const cur = this.current;
    if (this.issues[cur]! >= this.threshold) {
      const d = fioRandBetween(this.rng, 1, 100) <= this.share[IO_READ] ? IO_READ : IO_WRITE;
      if (d !== cur) this.threshold = Math.floor((this.issues[cur]! * this.share[d]) / 100);
      this.current = d;
    }
    return this.current;
  }

  /** An I/O went out in `dir` (the rate may have changed next()'s choice): counts it, and it is the current direction. */
  issued(dir: typeof IO_READ | typeof IO_WRITE): void {
    this.current = dir;
    this.issues[dir]!++;
  }
}
