// fio's trim workloads (HOWTO "rw", fio 3.33): rw=trim trims sequentially, randtrim at
// random offsets (over the random map, each block once, as randread), and trimwrite trims
// a block, then writes the same block, then moves on (fio 3.33's write_iolog, null engine:
// "trim 0 4096, write 0 4096, trim 4096 4096, ..."); with size=1M each of the two moves
// 1 MiB, as fio's JSON shows (trim and write io_bytes both 1048576). Trims are counted in
// the trim direction of the statistics (fio's DDIR_TRIM: the "trim" object of the JSON, the
// "trim:" lines and "TRIM:" run status of the normal output). On NVMe a trim is Dataset
// Management with the Deallocate attribute (NVM Command Set 1.0 §3.2.3), one range per I/O.
// Not implemented with trims: rate limits and bssplit (refused by name, not ignored).

import { invalidArgument } from '@vfio-node/core';
import { rwHasTrims, type JobOptions } from './options.js';
import { rateActive } from './rate.js';

/**
 * Refuses the options a trim job cannot honour here, naming them.
 * @throws VfioError ERR_INVALID_ARG for rate*, or bssplit, in a job with trims.
 */
export function checkTrimOptions(o: JobOptions): void {
  if (!rwHasTrims(o.rw)) return;
  if (rateActive(o.rate)) throw invalidArgument('rate', `rw=${o.rw}`, 'no rate, rate_iops, rate_min or rate_iops_min in a job with trims', 'Rate limits are implemented for reads and writes only; drop them from this job.');
  if (o.bssplit[0] || o.bssplit[1]) throw invalidArgument('bssplit', `rw=${o.rw}`, 'bs= (bs=R,W,T) in a job with trims', 'bssplit is implemented for reads and writes only; give the trim size as the third part of bs=.');
}
