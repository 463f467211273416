// fio 3.33's write_iolog fixtures (src/fixtures/*.iolog.txt) beside our I/Os for the same job,
// in one notation, for the tests that compare them I/O for I/O (rwmix, bssplit).
import { readFileSync } from 'node:fs';
import { runJobs } from '../src/engine.js';
import { IO_READ } from '../src/io-target.js';
import { parseJobFile, resolveJobs } from '../src/jobfile.js';
import { MemoryTarget } from '../src/memory-target.js';

/** The I/Os of a fio iolog fixture (lines "time file read|write offset length") as "r OFFSET LEN" / "w OFFSET LEN". */
export function fioIos(fixture: string): string[] {
  return readFileSync(new URL(`../src/fixtures/${fixture}`, import.meta.url), 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[2] === 'read' || f[2] === 'write')
    .map((f) => `${f[2]![0]} ${f[3]} ${f[4]}`);
}

/** Our I/Os for a job file, per job, in the same notation, over 16 MiB memory doubles. */
export async function ourIos(text: string): Promise<string[][]> {
  const targets: MemoryTarget[] = [];
  await runJobs({
    jobs: resolveJobs(parseJobFile(text)).jobs,
    open: async () => {
      const t = new MemoryTarget({ capacityBytes: 16 << 20, store: false, maxTransferBytes: 1 << 20 });
      targets.push(t);
      return t;
    },
  });
  return targets.map((t) => t.log.offset.map((off, k) => `${t.log.dir[k] === IO_READ ? 'r' : 'w'} ${off} ${t.log.length[k]}`));
}
