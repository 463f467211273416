// The programs in examples/ run as a user runs them: `node examples/dist/NAME.js ARGS` in a
// child process of its own, against the lab's devices, and print what they promise. The
// NVMe examples use the second controller (VFIONODE1: 4 KiB blocks, two namespaces), at
// LBAs no other lab file relies on; the responder uses both NICs.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { labNics, labNvme } from './lab-env.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const EXAMPLES = ['read-write', 'append-log', 'runtime-workers', 'net-responder', 'trace-bringup'];

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs examples/dist/NAME.js with args from the repository's root; resolves with its exit status and output. */
function example(name: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [`examples/dist/${name}.js`, ...args], { cwd: repo, env, timeout: 100_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const status = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ status, stdout, stderr });
    });
  });
}

/** Expects exit status 0, showing the output when it is not. */
function expectSuccess(r: Run): void {
  expect(r.status, `exit status ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
}

/**
 * The second NVMe controller's address, checked at the start of every test (the examples
 * open the devices themselves, in their own processes): outside the lab each test fails.
 */
function labController(): string {
  const all = labNvme();
  if (all.length < 2) throw new Error(`the lab has ${all.length} NVMe controllers, the examples test uses the second (lab run --nvme ... --nvme size=64M,lba=4096,namespaces=2)`);
  const missing = EXAMPLES.filter((n) => !fs.existsSync(`${repo}/examples/dist/${n}.js`));
  if (missing.length) throw new Error(`examples not built (tsc -b builds examples/dist): ${missing.join(', ')}`);
  return all[1]!;
}

describe('examples/read-write writes a pattern, reads it back and compares', () => {
  it('identifies the controller and namespace and reads back identical data', async () => {
    const r = await example('read-write', [labController(), '1', '6000']);
    expectSuccess(r);
    expect(r.stdout).toMatch(/^controller .+: QEMU NVMe Ctrl, serial VFIONODE1, firmware \S+$/m);
    expect(r.stdout).toContain('namespace 1: 16384 blocks of 4096 bytes');
    expect(r.stdout).toContain('wrote 4 blocks at LBA 6000; read back: identical');
  });

  it('takes the first controller in $VFIO_LAB_NVME when no address is given', async () => {
    const nvme = labController();
    // The second controller first in the list: LBA 0 of the first one stays untouched.
    const r = await example('read-write', [], { ...process.env, VFIO_LAB_NVME: [...labNvme()].reverse().join(' ') });
    expectSuccess(r);
    expect(r.stdout).toContain(`controller ${nvme}: QEMU NVMe Ctrl, serial VFIONODE1`);
    expect(r.stdout).toContain('wrote 4 blocks at LBA 0; read back: identical');
  });
});

describe('examples/append-log keeps an append-only log on a raw namespace across processes', () => {
  const log = (...args: string[]) => example('append-log', ['--device', labController(), '--nsid', '2', ...args]);

  it('formats, appends in two processes (one record longer than a block), and a third process replays all three in order', async () => {
    const f = await log('format');
    expectSuccess(f);
    expect(f.stdout).toContain('formatted namespace 2');

    const a = await log('append', 'first', 'second');
    expectSuccess(a);
    expect(a.stdout).toContain('replayed 0 records; the next goes to LBA 1');
    expect(a.stdout).toContain('appended record 1 at LBA 1: first');
    expect(a.stdout).toContain('appended record 2 at LBA 2: second');

    const long = 'x'.repeat(5000); // 32 + 5000 bytes: two 4 KiB blocks
    const b = await log('append', long);
    expectSuccess(b);
    expect(b.stdout).toContain('replayed 2 records; the next goes to LBA 3');
    expect(b.stdout).toContain(`appended record 3 at LBA 3: ${long}`);

    const r = await log('replay');
    expectSuccess(r);
    expect(r.stdout.trim().split('\n')).toEqual([
      'replayed 3 records; the next goes to LBA 5',
      'record 1 at LBA 1: first',
      'record 2 at LBA 2: second',
      `record 3 at LBA 3: ${long}`,
    ]);
  }, 400_000); // four processes, each opening and shutting down the controller

  it('a new format empties the log: the old records on the blocks are not replayed', async () => {
    expectSuccess(await log('format'));
    const r = await log('replay');
    expectSuccess(r);
    expect(r.stdout.trim()).toBe('replayed 0 records; the next goes to LBA 1');
  });

  it('refuses to replay a namespace that holds no log, naming the fix', async () => {
    const r = await example('append-log', ['--device', labController(), '--nsid', '1', 'replay']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('holds no log (run this example with \'format\' first)');
  });
});

describe('examples/runtime-workers reads and writes through two worker threads', () => {
  it('reads back what it wrote, and each worker\'s checksum on its own queue pair matches', async () => {
    const r = await example('runtime-workers', [labController(), '1', '7000']);
    expectSuccess(r);
    expect(r.stdout).toContain('2 workers, one I/O queue pair each');
    expect(r.stdout).toContain('wrote 256 blocks from LBA 7000 and read them back: identical');
    const workers = [...r.stdout.matchAll(/^worker (\d) \(I\/O queue (\d+)\): CRC-32 of LBA (\d+)\.\.(\d+) is 0x[0-9a-f]{8}, as written$/gm)];
    expect(workers.map((m) => [m[1], m[3], m[4]])).toEqual([['0', '7000', '7127'], ['1', '7128', '7255']]);
    expect(workers[0]![2]).not.toBe(workers[1]![2]);
  });
});

describe('examples/net-responder answers ARP and ping on one NIC, pinged from the other', () => {
  it('resolves the responder\'s MAC by ARP and gets every echo reply', async () => {
    const nics = labNics();
    expect(nics.length, 'the lab needs 2 NICs (lab run --nics 2)').toBeGreaterThanOrEqual(2);
    const r = await example('net-responder', [nics[0]!, nics[1]!, '4']);
    expectSuccess(r);
    expect(r.stdout).toMatch(/^arp: 10\.0\.0\.1 is at ([0-9a-f]{2}:){5}[0-9a-f]{2}$/m);
    for (let seq = 1; seq <= 4; seq++) expect(r.stdout).toMatch(new RegExp(`^24 bytes from 10\\.0\\.0\\.1: icmp_seq=${seq} time=`, 'm'));
    expect(r.stdout).toContain('4 packets transmitted, 4 received');
  });
});

describe('examples/trace-bringup prints the register accesses of the bring-up by their specification names', () => {
  it('shows the steps of §3.5.1 in order, Identify, the I/O queue pair and the shutdown', async () => {
    const r = await example('trace-bringup', [labController()]);
    expectSuccess(r);
    const out = r.stdout;
    const at = (pattern: RegExp) => {
      const m = pattern.exec(out);
      expect(m, `${pattern} in\n${out}`).not.toBeNull();
      return m!.index;
    };
    const order = [
      at(/^ {2}read {2}CAP {6}-> 0x[0-9a-f]+$/m),
      at(/^ {2}read {2}CSTS .* RDY=0 /m),
      at(/^ {2}write AQA .*admin queues of 32 entries$/m),
      at(/^ {2}write ASQ .*admin submission queue at IOVA 0x[0-9a-f]+$/m),
      at(/^ {2}write ACQ .*admin completion queue at IOVA 0x[0-9a-f]+$/m),
      at(/^ {2}write CC .* EN=1 SHN=0 MPS=0 IOSQES=6 IOCQES=4$/m),
      at(/^ {2}read {2}CSTS .* RDY=1 CFS=0 SHST=0$/m),
      at(/^Identify Controller \{"sn":"VFIONODE1","mn":"QEMU NVMe Ctrl"/m),
      at(/^I\/O queue pair 1: 256 entries, SQ at IOVA 0x[0-9a-f]+, CQ at IOVA 0x[0-9a-f]+, completions by poll$/m),
      at(/^shutdown:$/m),
      at(/^ {2}write CC .* EN=1 SHN=1 /m),
      at(/^ {2}read {2}CSTS .* SHST=2$/m),
      at(/^ {2}write CC .* EN=0 SHN=1 /m),
      at(/^closed$/m),
    ];
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });
});
