import { describe, expect, it } from 'vitest';
import { SequenceCheck } from './sequence.js';

const run = (seqs: number[], count?: number) => {
  const s = new SequenceCheck(count);
  for (const q of seqs) s.add(q);
  return { lost: s.lost, reordered: s.reordered, missing: s.missing, duplicates: s.duplicates, lastSeq: s.lastSeq, complete: s.complete };
};

describe('the sequence check count runs (RFC 4737 NextExp)', () => {
  it('finds nothing wrong in 0, 1, 2, ... and is complete at the count', () => {
    expect(run([0, 1, 2, 3], 4)).toEqual({ lost: 0, reordered: 0, missing: 0, duplicates: 0, lastSeq: 3, complete: true });
  });

  it('counts a swap of two neighbours as one reordered frame and nothing lost', () => {
    expect(run([0, 2, 1, 3], 4)).toMatchObject({ lost: 0, reordered: 1, missing: 0 });
  });

  it('counts every frame one early frame overtook as reordered (QEMU hub pattern: 3 ahead of 1 and 2)', () => {
    expect(run([0, 3, 1, 2, 4], 5)).toMatchObject({ lost: 0, reordered: 2, missing: 0, duplicates: 0 });
  });

  it('counts a gap as lost, and lost frames that turn up late as reordered', () => {
    expect(run([0, 1, 4, 5], 6)).toMatchObject({ lost: 2, reordered: 0, missing: 2, complete: false });
    expect(run([0, 1, 4, 5, 2], 6)).toMatchObject({ lost: 1, reordered: 1, missing: 1 });
    // Without a count the first number seen tells how many came before it.
    expect(run([3, 4])).toMatchObject({ lost: 3, missing: undefined });
  });

  it('tells a duplicate from a reordered frame when it has the bitmap, and leaves lost alone', () => {
    expect(run([0, 1, 3, 1, 2], 4)).toEqual({ lost: 0, reordered: 1, missing: 0, duplicates: 1, lastSeq: 3, complete: true });
    // Without a count a duplicate looks like a reordered frame.
    expect(run([0, 1, 1, 2])).toMatchObject({ reordered: 1, duplicates: undefined });
  });
});
