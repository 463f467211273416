// fio's rw offset modifier and rw_sequencer (HOWTO "rw" and "rw_sequencer", fio 3.33):
// - rw=randread:8 takes a new random offset for every 8th I/O only; the I/Os between follow
//   the previous one of their direction (rw_sequencer=sequential, the default) or repeat its
//   offset (rw_sequencer=identical). fio 3.33's write_iolog (null engine, bs=4k, 64k) showed
//   the rhythm: a new random offset at I/O 1, N+1, 2N+1, ... counted over both directions,
//   a sequential I/O that would run past the end drawing a random one instead, and the random
//   draws not held to the random map (a block may come twice).
// - rw=read:4k (a sequential mode) adds that many bytes after each I/O: sequential with holes.

import { invalidArgument } from '@vfio-node/core';
import type { JobOptions } from './options.js';
import { parseInteger, parseSize } from './units.js';

type Setter = (o: JobOptions, value: string | undefined, key: string) => void;

/** The option table entry of rw_sequencer (merged into options.ts's table); rw= itself reads its suffix with parseRwSuffix. */
export const RW_SEQUENCER_SETTERS: Record<string, Setter> = {
  rw_sequencer: (o, v, k) => {
    const s = (v ?? '').toLowerCase();
    if (s !== 'sequential' && s !== 'identical') throw invalidArgument(k, v ?? '', 'sequential or identical');
    o.rwSequencer = s;
  },
};

/**
 * The number after "rw=MODE:": for a random mode a count of I/Os per random offset (1 or
 * more), for a sequential one the bytes to skip after each I/O (a size such as 4k).
 * @throws VfioError ERR_INVALID_ARG for a bad number.
 */
export function parseRwSuffix(key: string, text: string, random: boolean, kbBase: 1000 | 1024): number {
  return random ? parseInteger(key, text, 1) : parseSize(key, text, kbBase);
}

/** Counts I/Os and says which one takes a new random offset (one in every `nr`). */
export class RwSequencer {
  private count = 0;

  constructor(private readonly nr: number) {}

  /** Call once per I/O: true when this one takes a new random offset. */
  newRandom(): boolean {
    return this.count++ % this.nr === 0;
  }
}
