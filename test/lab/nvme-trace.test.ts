// Watching the driver work (issue 16): with { trace }, opening the lab's controller and
// reading one block shows, in order, the bring-up's register writes with CSTS polling in
// one line, the Identify command and its completion, then the Read's submission entry,
// its SQ doorbell, its completion and its CQ head doorbell, each with its section.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tracer, type TraceEvent } from '@vfio-node/core';
import { NvmeController } from '@vfio-node/nvme';
import { labNvme, runBenchCli } from './lab-env.js';

/** The index of the first event at or after `from` that matches, or -1. */
function find(events: readonly TraceEvent[], from: number, kind: TraceEvent['kind'], text: RegExp): number {
  for (let i = from; i < events.length; i++) if (events[i]!.kind === kind && text.test(events[i]!.text)) return i;
  return -1;
}

describe('--trace: the driver\'s traffic with the controller, decoded, in order', () => {
  const lines: string[] = [];
  const tracer = new Tracer({ keep: true, write: (l) => lines.push(l) });
  let ctrl: NvmeController;
  beforeAll(async () => {
    // Shadow doorbells off and a shallow queue (no lazy CQ head): every doorbell is a register write.
    ctrl = await NvmeController.open(labNvme()[0]!, { trace: tracer, shadowDoorbells: false, queueDepth: 8 });
  });
  afterAll(() => ctrl?.close());

  it('bring-up: CC written, CSTS.RDY polled in one line, then Identify and its completion', () => {
    const ev = tracer.events;
    expect(ev[0]).toMatchObject({ kind: 'reg', section: 'Base 2.0 §3.1.3.1' });
    expect(ev[0]!.text).toMatch(/^read CAP -> 0x[0-9a-f]+ \(MQES \d+/);
    const cc = find(ev, 0, 'reg', /^write CC <- 0x[0-9a-f]*1$/); // CC.EN = 1
    expect(cc).toBeGreaterThan(0);
    expect(ev[cc]!.section).toBe('Base 2.0 §3.1.3.5');
    const rdy = find(ev, cc, 'poll', /^CSTS\.RDY=1 after \d+ reads?, [\d.]+ ms$/);
    expect(rdy).toBeGreaterThan(cc);
    // No line per CSTS read while polling: the poll line stands for them.
    expect(ev.slice(cc + 1, rdy).filter((e) => e.kind === 'reg' && e.text.startsWith('read CSTS'))).toEqual([]);
    const identify = find(ev, rdy, 'sqe', /^SQ0\[\d+\] Identify cid=\d+ cns=0x1 /);
    expect(identify).toBeGreaterThan(rdy);
    expect(ev[identify]!.section).toBe('Base 2.0 §5.17');
    const bell = find(ev, identify, 'doorbell', /^SQ0TDBL <- \d+$/);
    const cqe = find(ev, bell, 'cqe', /^CQ0\[\d+\] cid=\d+ status=Successful Completion sqhd=\d+/);
    expect(bell).toBeGreaterThan(identify);
    expect(cqe).toBeGreaterThan(bell);
  });

  it('a 4 KiB read: SQE (Read, nsid, slba, nlb, PRP1), SQ1 tail doorbell, its completion by name, CQ1 head doorbell', async () => {
    const ns = ctrl.namespace(1);
    const buf = ctrl.allocBuffer(4096);
    const from = tracer.events.length;
    try {
      await ns.read(8, 4096 / ns.blockSize, buf.bytes);
    } finally {
      buf.release();
    }
    const ev = tracer.events;
    const sqe = find(ev, from, 'sqe', /^SQ1\[\d+\] Read cid=(\d+) nsid=1 slba=0x8 nlb=\d+ \(\d+ blocks\) prp1=0x[0-9a-f]+ prp2=0x0$/);
    expect(sqe).toBeGreaterThanOrEqual(from);
    expect(ev[sqe]!.section).toBe('NVM 1.0 §3.2.4');
    const cid = /cid=(\d+)/.exec(ev[sqe]!.text)![1];
    const bell = find(ev, sqe, 'doorbell', /^SQ1TDBL <- \d+$/);
    const cqe = find(ev, bell, 'cqe', new RegExp(`^CQ1\\[\\d+\\] cid=${cid} status=Successful Completion sqhd=\\d+`));
    const head = find(ev, cqe, 'doorbell', /^CQ1HDBL <- \d+$/);
    expect(bell).toBeGreaterThan(sqe);
    expect(cqe).toBeGreaterThan(bell);
    expect(head).toBeGreaterThan(cqe);
    // The text form names who and the section on every line.
    expect(lines.some((l) => /ms {2}\S+ {2}sqe {7}SQ1\[\d+\] Read .* {2}NVM 1\.0 §3\.2\.4\n$/.test(l))).toBe(true);
  });
});

describe('vfio-node --trace=json: the runtime\'s worker threads trace their own queue pairs', () => {
  it('a bench job through the runtime (--ioengine=vfio-runtime) shows the Read entries, doorbells and completions of worker 0\'s queue', async () => {
    const { code, stderr } = await runBenchCli([
      '--trace=json', '--name=t', `--filename=${labNvme()[0]!}/1`, '--ioengine=vfio-runtime', '--rw=read', '--bs=4k', '--size=16k', '--iodepth=1', '--output-format=json',
    ]);
    expect(code, stderr).toBe(0); // as before: the bench must succeed (execFile rejected otherwise)
    const events = stderr.split('\n').filter((l) => l.startsWith('{"t_ms"')).map((l) => JSON.parse(l) as { who: string; kind: string; text: string });
    const worker = events.filter((e) => / worker 0$/.test(e.who));
    // Four 4 KiB reads from LBA 0 (512-byte blocks): slba 0x0, 0x8, 0x10, 0x18, each with its doorbell and completion.
    const reads = worker.filter((e) => e.kind === 'sqe' && / Read cid=\d+ nsid=1 slba=0x[0-9a-f]+ nlb=7 /.test(e.text));
    expect(reads.map((e) => /slba=(0x[0-9a-f]+)/.exec(e.text)![1])).toEqual(['0x0', '0x8', '0x10', '0x18']);
    expect(worker.filter((e) => e.kind === 'doorbell' && /^SQ\d+TDBL <- /.test(e.text)).length).toBeGreaterThanOrEqual(4);
    expect(worker.filter((e) => e.kind === 'cqe' && /status=Successful Completion/.test(e.text)).length).toBeGreaterThanOrEqual(4);
    // The controller itself (the main thread) traced its bring-up.
    expect(events.some((e) => e.who === labNvme()[0] && e.kind === 'poll' && e.text.startsWith('CSTS.RDY=1'))).toBe(true);
  });
});
