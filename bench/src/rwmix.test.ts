// fio's read/write choice (rwmix.ts) against fio 3.33's write_iolog on its null engine, I/O
// for I/O. The fixtures (one line per I/O: time, file, read|write, offset, length) were made with:
//   fio-3.33-rwmix-50: fio --name=j --ioengine=null --rw=rw --bs=4k --size=1m --write_iolog=F
//   fio-3.33-rwmix-read70: the same with --rwmixread=70
//   fio-3.33-rwmix-randrw-write10-randseed7: --rw=randrw --rwmixwrite=10 --randseed=7
//   fio-3.33-rwmix-second-job-read30: fio --ioengine=null --bs=4k --size=1m --name=a --rw=rw
//     --name=b --rw=rw --rwmixread=30 --write_iolog=F (job b, thread number 2)

import { describe, expect, it } from 'vitest';
import { fioIos, ourIos } from '../test/fio-iolog.js';
import { IO_READ, IO_WRITE } from './io-target.js';
import { FIO_RAND_MIX_OFF, fioSeed } from './rand.js';
import { RwMix } from './rwmix.js';

const dirs = (ios: string[]) => ios.map((io) => io[0]).join('');

describe("rwmix: fio 3.33's read/write choice, seed for seed", () => {
  it.each([
    ['fio-3.33-rwmix-50.iolog.txt', '[j]\nrw=rw\nbs=4k\nsize=1m\n'],
    ['fio-3.33-rwmix-read70.iolog.txt', '[j]\nrw=rw\nbs=4k\nsize=1m\nrwmixread=70\n'],
  ])('%s: every I/O (direction, offset, length) is the one fio issued', async (fixture, job) => {
    const want = fioIos(fixture);
    expect(want.length).toBe(256);
    const [ours] = await ourIos(job);
    expect(ours).toEqual(want);
  });

  it('randrw with rwmixwrite=10 and randseed=7: the same directions as fio (offsets are the random map\'s)', async () => {
    const want = fioIos('fio-3.33-rwmix-randrw-write10-randseed7.iolog.txt');
    const [ours] = await ourIos('[j]\nrw=randrw\nbs=4k\nsize=1m\nrwmixwrite=10\nrandseed=7\n');
    expect(dirs(ours!)).toBe(dirs(want));
    // About one write in ten, as asked (fio's own count in this log).
    expect(dirs(want).split('w').length - 1).toBe(dirs(ours!).split('w').length - 1);
  });

  it("the second job of a run draws from its own seed (thread number 2), as fio's job b", async () => {
    const want = fioIos('fio-3.33-rwmix-second-job-read30.iolog.txt');
    const [a, b] = await ourIos('[global]\nbs=4k\nsize=1m\n[a]\nrw=rw\n[b]\nrw=rw\nrwmixread=30\n');
    expect(b).toEqual(want);
    expect(dirs(a!)).not.toBe(dirs(b!));
  });

  it('keeps a new direction until it has issued (old count x its share / 100), redraws each I/O otherwise', () => {
    const mix = new RwMix(50, fioSeed(FIO_RAND_MIX_OFF, undefined, true, 1));
    const seq: number[] = [];
    for (let i = 0; i < 64; i++) {
      const d = mix.next();
      seq.push(d);
      mix.issued(d);
    }
    // fio's first 64 of rw=rw (the fixture): rrrwrrwwwrwrwrrr...
    expect(seq.map((d) => (d === IO_READ ? 'r' : 'w')).join('')).toBe(dirs(fioIos('fio-3.33-rwmix-50.iolog.txt')).slice(0, 64));
    // A rate that hands the turn to the other direction makes it the current one.
    const m = new RwMix(100, 1);
    expect(m.next()).toBe(IO_READ);
    m.issued(IO_WRITE);
    expect(m.next()).toBe(IO_READ);
  });

  it('rwmixread=0 and 100 choose one direction only', async () => {
    for (const [mix, d] of [['0', 'w'], ['100', 'r']] as const) {
      const [ours] = await ourIos(`[j]\nrw=rw\nbs=4k\nsize=256k\nrwmixread=${mix}\n`);
      expect(dirs(ours!)).toBe(d.repeat(64));
    }
  });
});
