// Watching the driver work, with interrupts (issue 16): in interrupt mode the trace of a
// 4 KiB read shows the decoded submission entry, the SQ tail doorbell, the MSI-X interrupt
// (vector, and the CQ it woke with the entries found there), the completion and the CQ head
// doorbell, in that order; the Identify at open the same without an interrupt (the admin
// queue is polled until MSI-X is set up, step 9), an Identify after open with vector 0's
// interrupt on CQ0. On the raw QueuePair hot path (submitIo, ring, poll: bench's
// direct engine) the CQ head doorbell written by the C reap is traced with what the shadow
// doorbell's EventIdx decided. And the walkthrough drivers/nvme/LIFE-OF-A-READ.md still shows
// the lines the code traces today.

import { writeFileSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tracer, type TraceEvent } from '@vfio-node/core';
import { NvmeController, NvmOpcode } from '@vfio-node/nvme';
import { labNvme } from './lab-env.js';
import { WALKTHROUGH, captureLifeOfARead, diffLines, documentedLines, withLines } from './life-of-a-read.js';

/** The index of the first event at or after `from` that matches, or -1. */
function find(events: readonly TraceEvent[], from: number, kind: TraceEvent['kind'], text: RegExp): number {
  for (let i = from; i < events.length; i++) if (events[i]!.kind === kind && text.test(events[i]!.text)) return i;
  return -1;
}

/** The kinds of the events of queue `qid` (its SQ or CQ named in the text), from `from` on. */
function kindsOfQueue(events: readonly TraceEvent[], from: number, qid: number): string[] {
  const mine = new RegExp(`^(SQ${qid}\\[|SQ${qid}TDBL|CQ${qid}\\[|CQ${qid}HDBL|MSI-X vector \\d+ \\(.*\\) woke CQ${qid}:)`);
  return events.slice(from).filter((e) => mine.test(e.text)).map((e) => e.kind);
}

describe('interrupt mode: SQE, SQ doorbell, MSI-X interrupt, CQE, CQ doorbell, in order', () => {
  const tracer = new Tracer({ keep: true, write: () => undefined });
  let ctrl: NvmeController;
  beforeAll(async () => {
    // Shadow doorbells off and a shallow queue: every doorbell is a register write.
    ctrl = await NvmeController.open(labNvme()[0]!, { trace: tracer, completion: 'interrupt', shadowDoorbells: false, queueDepth: 8 });
  });
  afterAll(() => ctrl?.close());

  it('Identify Controller at open: its entry, SQ0TDBL, its completion, CQ0HDBL (the admin queue is polled before step 9: no interrupt line)', () => {
    const ev = tracer.events;
    const sqe = find(ev, 0, 'sqe', /^SQ0\[(\d+)\] Identify cid=\d+ cns=0x1 /);
    expect(sqe).toBeGreaterThan(0);
    const cid = /cid=(\d+)/.exec(ev[sqe]!.text)![1];
    const bell = find(ev, sqe, 'doorbell', /^SQ0TDBL <- \d+$/);
    const cqe = find(ev, bell, 'cqe', new RegExp(`^CQ0\\[\\d+\\] cid=${cid} status=Successful Completion `));
    const head = find(ev, cqe, 'doorbell', /^CQ0HDBL <- \d+$/);
    expect([sqe < bell, bell < cqe, cqe < head]).toEqual([true, true, true]);
    expect(ev.slice(sqe, head).some((e) => e.kind === 'irq')).toBe(false);
  });

  it('Identify Controller after open: its entry, SQ0TDBL, "MSI-X vector 0 ... woke CQ0: 1 new entry", its CQE, CQ0HDBL (the admin CQ listens to vector 0 from step 9)', async () => {
    const from = tracer.events.length;
    const id = await ctrl.admin.identifyController();
    expect(id.sn.length).toBeGreaterThan(0);
    const ev = tracer.events;
    expect(kindsOfQueue(ev, from, 0)).toEqual(['sqe', 'doorbell', 'irq', 'cqe', 'doorbell']);
    const sqe = find(ev, from, 'sqe', /^SQ0\[(\d+)\] Identify cid=\d+ cns=0x1 /);
    expect(sqe).toBeGreaterThanOrEqual(from);
    const cid = /cid=(\d+)/.exec(ev[sqe]!.text)![1];
    const bell = find(ev, sqe, 'doorbell', /^SQ0TDBL <- \d+$/);
    const irq = find(ev, bell, 'irq', /^MSI-X vector 0 \(eventfd count \d+\) woke CQ0: 1 new entry from CQ0\[(\d+)\]$/);
    expect([sqe < bell, bell < irq]).toEqual([true, true]);
    const slot = /CQ0\[(\d+)\]$/.exec(ev[irq]!.text)![1];
    const cqe = find(ev, irq, 'cqe', new RegExp(`^CQ0\\[${slot}\\] cid=${cid} status=Successful Completion `));
    expect(cqe).toBe(irq + 1);
    expect(ev[cqe + 1]).toMatchObject({ kind: 'doorbell', text: `CQ0HDBL <- ${(Number(slot) + 1) % 32}` });
  });

  it('a 4 KiB read: Read SQE, SQ1TDBL, "MSI-X vector 1 ... woke CQ1: 1 new entry", its CQE, CQ1HDBL, with their sections', async () => {
    const ns = ctrl.namespace(1);
    const buf = ctrl.allocBuffer(4096);
    const from = tracer.events.length;
    try {
      await ns.read(8, 4096 / ns.blockSize, buf.bytes);
    } finally {
      buf.release();
    }
    const ev = tracer.events;
    expect(kindsOfQueue(ev, from, 1)).toEqual(['sqe', 'doorbell', 'irq', 'cqe', 'doorbell']);
    const sqe = find(ev, from, 'sqe', /^SQ1\[(\d+)\] Read cid=(\d+) nsid=1 slba=0x8 /);
    const cid = /cid=(\d+)/.exec(ev[sqe]!.text)![1];
    const irq = find(ev, sqe, 'irq', /^MSI-X vector 1 \(eventfd count \d+\) woke CQ1: 1 new entry from CQ1\[(\d+)\]$/);
    expect(irq).toBeGreaterThan(sqe);
    expect(ev[irq]!.section).toMatch(/MSI-X/);
    const slot = /CQ1\[(\d+)\]$/.exec(ev[irq]!.text)![1];
    const cqe = find(ev, irq, 'cqe', new RegExp(`^CQ1\\[${slot}\\] cid=${cid} status=Successful Completion `));
    expect(cqe).toBe(irq + 1);
    expect(ev[cqe + 1]).toMatchObject({ kind: 'doorbell', text: `CQ1HDBL <- ${Number(slot) + 1}` });
  });
});

describe('polling mode on the raw QueuePair hot path (submitIo, ring, poll: the C reap writes the CQ head)', () => {
  const tracer = new Tracer({ keep: true, write: () => undefined });
  let ctrl: NvmeController;
  beforeAll(async () => {
    ctrl = await NvmeController.open(labNvme()[0]!, { trace: tracer, maxIoQueues: 2 });
  });
  afterAll(() => ctrl?.close());

  it('each 4 KiB read: Read SQE, SQ doorbell, CQE, then the CQ head doorbell the C reap wrote, saying whether EventIdx made it a register write', async () => {
    // Depth 8: below the lazy CQ head doorbell's threshold, so every poll() that reaps announces the head in C.
    await using qp = await ctrl.createQueuePair({ depth: 8 });
    const ns = ctrl.namespace(1);
    const buf = ctrl.allocBuffer(4096);
    let done = 0;
    qp.onComplete = (_cid, status) => {
      expect(status).toBe(0);
      done++;
    };
    const from = tracer.events.length;
    try {
      for (let i = 0; i < 3; i++) {
        qp.submitIo(NvmOpcode.Read, 1, 8 * i, 4096 / ns.blockSize - 1, Number(buf.iova), 4096, i);
        qp.ring();
        while (qp.poll() === 0) await new Promise((r) => setImmediate(r));
      }
    } finally {
      buf.release();
    }
    expect(done).toBe(3);
    const q = qp.qid;
    expect(kindsOfQueue(tracer.events, from, q)).toEqual(['sqe', 'doorbell', 'cqe', 'doorbell', 'sqe', 'doorbell', 'cqe', 'doorbell', 'sqe', 'doorbell', 'cqe', 'doorbell']);
    const heads = tracer.events.slice(from).filter((e) => e.kind === 'doorbell' && e.text.startsWith(`CQ${q}HDBL`));
    expect(heads.map((e) => /^CQ\d+HDBL <- (\d+)/.exec(e.text)![1])).toEqual(['1', '2', '3']);
    if (qp.usesShadowDoorbells) {
      // QEMU offers Doorbell Buffer Config: each line says what the EventIdx decided, never "maybe".
      for (const e of heads) expect(e.text).toMatch(/\((shadow doorbell, EventIdx crossed: register written|shadow doorbell only: EventIdx not crossed, no MMIO)\)$/);
      expect(heads[0]!.section).toBe('Base 2.0 §5.8, shadow doorbells');
    } else for (const e of heads) expect(e.text).toMatch(/^CQ\d+HDBL <- \d+$/);
  });
});

describe('drivers/nvme/LIFE-OF-A-READ.md shows the trace the code makes today', () => {
  it('the walkthrough\'s block equals a fresh capture (open with interrupts, one 4 KiB read), normalised the same way', async () => {
    const { lines, watchdogReads } = await captureLifeOfARead(labNvme()[0]!);
    expect(lines.length).toBeGreaterThan(20);
    if (process.env.VFIO_UPDATE_WALKTHROUGH === '1') {
      const out = `${process.env.VFIO_LAB_OUT ?? '/tmp'}/LIFE-OF-A-READ.md`;
      writeFileSync(out, withLines(readFileSync(WALKTHROUGH, 'utf8'), lines));
      process.stderr.write(`life-of-a-read: ${lines.length} lines (${watchdogReads} watchdog CSTS reads left out) written to ${out}\n`);
    }
    const documented = documentedLines();
    if (documented.join('\n') !== lines.join('\n')) {
      throw new Error(
        `drivers/nvme/LIFE-OF-A-READ.md no longer matches the driver's trace (- documented, + traced now):\n${diffLines(documented, lines)}\n\n` +
          'Regenerate its block, then check that the prose around it still says what the lines do:\n' +
          '  VFIO_UPDATE_WALKTHROUGH=1 node packages/cli/bin/vfio-node.js lab run --nvme size=256M,serial=LABSERIAL --out /tmp/walk -- node_modules/.bin/vitest run --project lab test/lab/nvme-trace-irq.test.ts\n' +
          '  cp /tmp/walk/LIFE-OF-A-READ.md drivers/nvme/LIFE-OF-A-READ.md',
      );
    }
  });
});
