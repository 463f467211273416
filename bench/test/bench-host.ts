// The host a bench unit test runs against: the memory double for any device, files in a
// map, stdout and stderr collected, and the peers' commands recorded and answered (by
// default fio 3.33's JSON of a 256-read job, and qemu-img bench's lines).
import { PassThrough } from 'node:stream';
import { MemoryTarget } from '../src/memory-target.js';
import type { BenchHost } from '../src/run.js';

/** What a recorded peer command returns. */
export interface CommandResult {
  stdout: string;
  stderr: string;
  status: number;
}

function defaultAnswer(argv: string[]): CommandResult {
  if (argv[0] === 'qemu-img') return { stdout: 'Sending 256 read requests, 4096 bytes each, 4 in parallel (starting at offset 0, step size 4096)\nRun completed in 0.010 seconds.\n', stderr: '', status: 0 };
  return { stdout: '{"fio version":"fio-3.33","jobs":[{"read":{"total_ios":256,"io_bytes":1048576,"runtime":20,"lat_ns":{"mean":50000,"N":256},"clat_ns":{"percentile":{"50.000000":40000,"99.000000":90000}}},"write":{"total_ios":0,"io_bytes":0,"runtime":0,"lat_ns":{"mean":0,"N":0},"clat_ns":{}}}]}', stderr: '', status: 0 };
}

/** A BenchHost for unit tests (see the file's comment); `over` replaces any of its members. */
export function benchHost(over: Partial<BenchHost> = {}, answer: (argv: string[]) => CommandResult = defaultAnswer) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += c));
  stderr.on('data', (c) => (err += c));
  const files = new Map<string, string>();
  const commands: string[][] = [];
  const h: BenchHost = {
    openNvme: async () => new MemoryTarget({ capacityBytes: 4 << 20, name: '0000:00:03.0/1' }),
    readFile: (p) => {
      const t = files.get(p);
      if (t === undefined) throw new Error(`ENOENT ${p}`);
      return t;
    },
    writeFile: (p, t) => void files.set(p, t),
    stdout,
    stderr,
    runCommand: async (argv) => {
      commands.push(argv);
      return answer(argv);
    },
    ...over,
  };
  return { h, files, commands, out: () => out, err: () => err };
}
