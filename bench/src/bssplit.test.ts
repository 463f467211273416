import { describe, expect, it } from 'vitest';
import { runJobs } from './engine.js';
import { IO_READ, IO_WRITE } from './io-target.js';
import { parseJobFile, resolveJobs } from './jobfile.js';
import { MemoryTarget } from './memory-target.js';
import { applyOption, defaultJobOptions } from './options.js';
import { formatRunHeader } from './report-normal.js';
import { fioIos, ourIos } from '../test/fio-iolog.js';
import { BlockSizes, fioBsSeeds } from './bssplit.js';

const split = (v: string) => {
  const o = defaultJobOptions('j');
  applyOption(o, 'bssplit', v);
  return o.bssplit;
};

async function sizes(text: string) {
  const targets: MemoryTarget[] = [];
  const res = await runJobs({
    jobs: resolveJobs(parseJobFile(text)).jobs,
    open: async () => {
      const t = new MemoryTarget({ capacityBytes: 1 << 28, store: false, maxTransferBytes: 1 << 20 });
      targets.push(t);
      return t;
    },
  });
  const t = targets[0]!;
  const count = (dir: number) => {
    const m = new Map<number, number>();
    t.log.length.forEach((len, k) => {
      if (t.log.dir[k] === dir) m.set(len, (m.get(len) ?? 0) + 1);
    });
    return m;
  };
  return { read: count(IO_READ), write: count(IO_WRITE), t, stat: res.results[0]!.stat };
}

const share = (m: Map<number, number>, bs: number) => (m.get(bs) ?? 0) / [...m.values()].reduce((a, b) => a + b, 0);

describe('bssplit (fio HOWTO "bssplit", checked against fio 3.33 write_iolog counts)', () => {
  it('parses shares, fills missing ones evenly, sorts largest share first, per direction', () => {
    expect(split('4k/10:64k/50:32k/40')).toEqual([
      [{ bs: 65536, perc: 50 }, { bs: 32768, perc: 40 }, { bs: 4096, perc: 10 }],
      [{ bs: 65536, perc: 50 }, { bs: 32768, perc: 40 }, { bs: 4096, perc: 10 }],
    ]);
    expect(split('4k/50:1k/:32k/')[0]).toEqual([{ bs: 4096, perc: 50 }, { bs: 1024, perc: 25 }, { bs: 32768, perc: 25 }]);
    expect(split('2k/50:4k/50,4k/90:8k/10')).toEqual([[{ bs: 2048, perc: 50 }, { bs: 4096, perc: 50 }], [{ bs: 4096, perc: 90 }, { bs: 8192, perc: 10 }]]);
    expect(split(',4k/10:8k/90')[0]).toBeUndefined();
    expect(split('8k')[0]).toEqual([{ bs: 8192, perc: 100 }]);
    // fio reads a share with atoi(): 12.5 is 12; 0 counts as not given; over 100 a lone blank
    // entry gets fio's unsigned wrap of 100 - sum (kept as a negative share).
    expect(split('4k/12.5:8k/87.5')[0]).toEqual([{ bs: 8192, perc: 87 }, { bs: 4096, perc: 12 }]);
    expect(split('4k/12.5:6k/50:8k')[0]).toEqual([{ bs: 6144, perc: 50 }, { bs: 8192, perc: 38 }, { bs: 4096, perc: 12 }]);
    expect(split('4k/0:8k/50')[0]).toEqual([{ bs: 4096, perc: 50 }, { bs: 8192, perc: 50 }]);
    expect(split('4k/60:8k/60:16k/')[0]).toEqual([{ bs: 4096, perc: 60 }, { bs: 8192, perc: 60 }, { bs: 16384, perc: -20 }]);
    expect(split('4k/10:8k/:16k/')[0]).toEqual([{ bs: 8192, perc: 45 }, { bs: 16384, perc: 45 }, { bs: 4096, perc: 10 }]);
    expect(() => split('4k/80:8k/:16k/')).not.toThrow();
    expect(() => split('4k/120')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => split('4k/60:8k/60:16k/:32k/')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => split('4x/10')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
  });

  it('issues the sizes in their shares (fio 3.33, rw=rw 256m: 4k/12.5:8k/87.5 gave 12.0% 4k)', async () => {
    const { read, write, stat } = await sizes('[j]\nrw=rw\nsize=64m\nbssplit=4k/12.5:8k/87.5\n');
    expect(share(read, 4096)).toBeGreaterThan(0.11);
    expect(share(read, 4096)).toBeLessThan(0.14);
    expect(share(write, 8192)).toBeGreaterThan(0.86);
    expect(stat.dir[0].ioBytes + stat.dir[1].ioBytes).toBe(64 << 20);
  });

  it('shares under 100 leave the rest to the last size tried; over 100 the last ones lose (as fio 3.33)', async () => {
    const under = await sizes('[j]\nrw=read\nsize=64m\nbssplit=4k/30:8k/30\n');
    expect(share(under.read, 4096)).toBeGreaterThan(0.28);
    expect(share(under.read, 4096)).toBeLessThan(0.32);
    const over = await sizes('[j]\nrw=read\nsize=64m\nbssplit=4k/60:8k/60\n');
    expect(share(over.read, 4096)).toBeGreaterThan(0.58);
    expect(share(over.read, 4096)).toBeLessThan(0.62);
  });

  it('per direction: reads split, writes at one size; sequential offsets advance by each size', async () => {
    const { read, write, t } = await sizes('[j]\nrw=rw\nsize=16m\nbssplit=4k/10:64k/50:32k/40,8k\n');
    expect([...write.keys()]).toEqual([8192]);
    expect(share(read, 65536)).toBeGreaterThan(0.46);
    expect(share(read, 65536)).toBeLessThan(0.54);
    const reads = t.log.offset.map((off, k) => [off, t.log.length[k]!, t.log.dir[k]!]).filter(([, , d]) => d === IO_READ);
    for (let k = 1; k < reads.length; k++) expect(reads[k]![0]).toBe(reads[k - 1]![0]! + reads[k - 1]![1]!);
  });

  it('random offsets of a split are aligned to its smallest size and stay inside the region', async () => {
    const { t } = await sizes('[j]\nrw=randread\nsize=1m\nbssplit=4k/50:64k/50\n');
    t.log.offset.forEach((off, k) => {
      expect(off % 4096).toBe(0);
      expect(off + t.log.length[k]!).toBeLessThanOrEqual(1 << 20);
    });
  });

  it("fio's run header shows each direction's size range", () => {
    const header = formatRunHeader(resolveJobs(parseJobFile('[j]\nbssplit=4k/10:64k/90,8k\n')).jobs);
    expect(header).toContain('bs=(R) 4096B-65536B, (W) 8192B-8192B');
  });
});

// fio 3.33's write_iolog on its null engine for the same jobs (fixtures fio-3.33-bssplit-*):
//   write: fio --name=j --ioengine=null --rw=write --size=4m --bssplit=4k/10:64k/50:32k/40 --write_iolog=F
//   rw: --rw=rw --size=4m --bssplit=4k/30:8k/70,16k/50:4k/50
//   fraction-unaligned: --rw=write --size=2m --bssplit=4k/12.5:6k/50:8k
//   over100: --rw=write --size=1m --bssplit=4k/60:8k/60:16k/
describe("bssplit: fio 3.33's size choice, seed for seed", () => {
  it.each([
    ['write', '[j]\nrw=write\nsize=4m\nbssplit=4k/10:64k/50:32k/40\n', 95],
    ['rw', '[j]\nrw=rw\nsize=4m\nbssplit=4k/30:8k/70,16k/50:4k/50\n', 491],
    ['fraction-unaligned', '[j]\nrw=write\nsize=2m\nbssplit=4k/12.5:6k/50:8k\n', 368],
    ['over100', '[j]\nrw=write\nsize=1m\nbssplit=4k/60:8k/60:16k/\n', 64],
  ])('%s: every I/O (direction, offset, size) is the one fio issued', async (name, job, count) => {
    const want = fioIos(`fio-3.33-bssplit-${name}.iolog.txt`);
    expect(want.length).toBe(count);
    const [ours] = await ourIos(job);
    expect(ours).toEqual(want);
  });

  it('the rw job passes size by its last I/O, as fio did (4104 KiB of 4096)', async () => {
    const [ours] = await ourIos('[j]\nrw=rw\nsize=4m\nbssplit=4k/30:8k/70,16k/50:4k/50\n');
    const bytes = ours!.reduce((a, io) => a + Number(io.split(' ')[2]), 0);
    expect(bytes).toBe(4104 * 1024);
  });

  it('each direction draws from its own generator; a size that does not fit is drawn again; none fits: 0', () => {
    const o = defaultJobOptions('j');
    applyOption(o, 'bssplit', '4k/50:64k/50');
    const sizes = new BlockSizes(o, fioBsSeeds(o, 1));
    const twin = new BlockSizes(o, fioBsSeeds(o, 1));
    const all = () => true;
    // Reads only from the twin: the writes of the first are not moved by them.
    for (let i = 0; i < 10; i++) twin.next(IO_READ, all);
    const a = Array.from({ length: 20 }, () => sizes.next(IO_WRITE, all));
    const b = Array.from({ length: 20 }, () => twin.next(IO_WRITE, all));
    expect(a).toEqual(b);
    expect(new Set(a)).toEqual(new Set([4096, 65536]));
    // 32 KiB left: only 4k fits, drawn as often as it takes.
    expect(Array.from({ length: 20 }, () => sizes.next(IO_READ, (_d, len) => len <= 32768))).toEqual(Array(20).fill(4096));
    expect(sizes.next(IO_READ, (_d, len) => len < 4096)).toBe(0);
    // With verify, writes draw what reads draw (fio seeds them alike).
    const v = defaultJobOptions('j');
    applyOption(v, 'bssplit', '4k/50:64k/50');
    applyOption(v, 'verify', 'crc32c');
    const [r, w] = fioBsSeeds(v, 1);
    expect(r).toBe(w);
    expect(fioBsSeeds(o, 1)[0]).not.toBe(fioBsSeeds(o, 1)[1]);
  });
});
