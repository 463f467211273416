import { describe, expect, it } from 'vitest';
import { runJobs } from './engine.js';
import { IO_READ } from './io-target.js';
import { parseJobFile, resolveJobs } from './jobfile.js';
import { MemoryTarget } from './memory-target.js';
import { applyOption, defaultJobOptions } from './options.js';

async function blocks(text: string) {
  const targets: MemoryTarget[] = [];
  await runJobs({
    jobs: resolveJobs(parseJobFile(text)).jobs,
    open: async () => {
      const t = new MemoryTarget({ capacityBytes: 1 << 20, store: false });
      targets.push(t);
      return t;
    },
  });
  const t = targets[0]!;
  return t.log.offset.map((off, k) => ({ b: off / 4096, dir: t.log.dir[k]! }));
}

const rw = (v: string, ...more: Array<[string, string]>) => {
  const o = defaultJobOptions('j');
  applyOption(o, 'rw', v);
  for (const [k, x] of more) applyOption(o, k, x);
  return [o.rw, o.rwSuffix, o.rwSequencer];
};

describe('rw=MODE:N and rw_sequencer (fio HOWTO "rw", "rw_sequencer")', () => {
  it('reads a count after a random mode and a size after a sequential one', () => {
    expect(rw('randread:8')).toEqual(['randread', 8, 'sequential']);
    expect(rw('read:4k')).toEqual(['read', 4096, 'sequential']);
    expect(rw('randrw:3', ['rw_sequencer', 'identical'])).toEqual(['randrw', 3, 'identical']);
    expect(rw('readwrite')).toEqual(['rw', 0, 'sequential']);
    expect(() => rw('randread:0')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => rw('randread:x')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => rw('read', ['rw_sequencer', 'random'])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
  });

  it('randread:4 seeks once per 4 I/Os; the 3 between follow the random one (fio 3.33: 15 16 17 18 189 190 ...)', async () => {
    const io = await blocks('[j]\nrw=randread:4\nbs=4k\nsize=1m\n');
    expect(io.length).toBe(256);
    let seeks = 0;
    io.forEach(({ b }, k) => {
      if (k % 4 === 0) return;
      // Sequential after the previous one, unless that would run past the end (then a new random one).
      if (io[k - 1]!.b === 255) seeks++;
      else expect(b).toBe(io[k - 1]!.b + 1);
    });
    expect(seeks).toBeLessThan(8);
    // The I/Os between the random ones are not marked in the random map: some blocks come twice.
    expect(new Set(io.map((x) => x.b)).size).toBeLessThan(256);
  });

  it('rw_sequencer=identical repeats each random offset 4 times (fio 3.33: 15 15 15 15 189 189 ...)', async () => {
    const io = await blocks('[j]\nrw=randread:4\nrw_sequencer=identical\nbs=4k\nsize=256k\n');
    expect(io.length).toBe(64);
    io.forEach(({ b }, k) => expect(b).toBe(io[k - (k % 4)]!.b));
  });

  it('randrw:3 counts over both directions; each direction follows its own last I/O', async () => {
    const io = await blocks('[j]\nrw=randrw:3\nbs=4k\nsize=512k\n');
    const last = new Map<number, number>();
    let followed = 0;
    io.forEach(({ b, dir }, k) => {
      // size=512k is 128 blocks: after the last one there is nothing to follow.
      if (k % 3 !== 0 && last.has(dir) && last.get(dir)! < 127) {
        expect(b).toBe(last.get(dir)! + 1);
        followed++;
      }
      last.set(dir, b);
    });
    expect(followed).toBeGreaterThan(60);
  });

  it('read:4k skips 4k after each I/O and wraps at the end, still issuing size bytes (fio 3.33: 0 2 4 ... 14 0 2 ...)', async () => {
    const io = await blocks('[j]\nrw=read:4k\nbs=4k\nsize=64k\n');
    expect(io.map((x) => x.b)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14]);
    expect(io.every((x) => x.dir === IO_READ)).toBe(true);
  });

  it('refuses a hole that is not a multiple of the logical block', async () => {
    await expect(blocks('[j]\nrw=read:2\nbs=4k\nsize=64k\n')).rejects.toMatchObject({ code: 'ERR_BENCH_BS' });
  });
});
