// `vfio-node nvme bringup ADDR [--explain [--step]]`: brings the controller up and shuts
// it down again. With --explain, each step of NVMe Base 2.0 §3.5.1 is printed as the
// driver does it (the driver's bring-up observer: no second copy of the bring-up here);
// with --step, it waits for Enter (a line on stdin, piped or typed) after each step.

import { createInterface, type Interface } from 'node:readline';
import { formatVersion, NvmeController, type BringupStep } from '@vfio-node/nvme';
import { addressArg, parseNvmeArgs } from './args.js';
import { formatStep, stepPrompt } from './bringup-explain.js';
import { usage } from './run-identify.js';
import { print } from './session.js';

export const BRINGUP_USAGE = `usage: vfio-node nvme bringup ADDR [--explain [--step]] [-o normal|json]

Brings the controller up as NVMe Base 2.0 §3.5.1 "Memory-based Controller Initialization"
orders it (reset, admin queue, CC, enable, Identify, namespaces, I/O queues), prints a
summary, and shuts it down normally (§3.6).
  --explain   print each step as it happens: its number and what the specification asks,
              what the driver wrote (registers decoded, commands), what the controller
              answered (CAP, CSTS.RDY, Identify's model and serial, queues granted...)
  --step      with --explain: wait for Enter after each step (reads lines from stdin)
  -o, --output-format  normal (default) or json (the summary)`;

/** Lines from stdin, one per next() (null once stdin has ended: then no more waiting). */
class LineReader {
  private readonly rl: Interface;
  private readonly lines: string[] = [];
  private waiting: ((line: string | null) => void) | null = null;
  private ended = false;

  constructor() {
    this.rl = createInterface({ input: process.stdin, terminal: false });
    this.rl.on('line', (line) => {
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        w(line);
      } else this.lines.push(line);
    });
    this.rl.on('close', () => {
      this.ended = true;
      this.waiting?.(null);
      this.waiting = null;
    });
  }

  next(): Promise<string | null> {
    if (this.lines.length > 0) return Promise.resolve(this.lines.shift()!);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  close(): void {
    this.rl.close();
    process.stdin.pause();
  }
}

export async function bringup(argv: string[]): Promise<number> {
  const p = parseNvmeArgs('bringup', argv, { explain: { type: 'boolean' }, step: { type: 'boolean' } });
  if (p.help) return usage(BRINGUP_USAGE);
  const address = addressArg('bringup', p);
  const stepping = p.values.step === true;
  const explain = p.values.explain === true || stepping;
  const reader = stepping ? new LineReader() : null;
  let steps = 0;
  const observer = async (step: BringupStep): Promise<void> => {
    steps++;
    console.log(formatStep(step));
    if (reader) {
      console.log(stepPrompt(step));
      await reader.next();
    }
  };
  if (explain) console.log(`${address}: bringing the controller up, NVM Express Base Specification 2.0 §3.5.1 (Memory-based Controller Initialization)`);
  let ctrl: NvmeController;
  try {
    ctrl = await NvmeController.open(address, explain ? { bringupObserver: observer } : {});
  } finally {
    reader?.close();
  }
  ctrl.on('error', (err) => {
    console.error(`vfio-node: ${address}: ${err.message}`);
    process.exitCode = 1;
  });
  const id = ctrl.identify;
  const namespaces = ctrl.namespaceIds.map((nsid) => {
    const ns = ctrl.namespace(nsid);
    return { nsid, blocks: ns.blocks, blockSize: ns.blockSize };
  });
  const pairs = ctrl.queuePairs;
  try {
    print(
      p.format,
      () =>
        [
          `${explain ? `bring-up done in ${steps} steps. ` : ''}${address}: ${id.mn}, serial ${id.sn}, firmware ${id.fr}, NVMe ${formatVersion(ctrl.vs)}`,
          `  namespaces: ${namespaces.map((n) => `${n.nsid} (${n.blocks} blocks of ${n.blockSize} bytes)`).join(', ') || 'none'}`,
          `  I/O queue pairs: ${pairs.map((q) => `${q.qid} (${q.depth} entries, ${q.completion === 'interrupt' ? 'interrupts' : 'polled'})`).join(', ')}; granted ${ctrl.queuesAllocated.nsqa} SQs and ${ctrl.queuesAllocated.ncqa} CQs`,
        ].join('\n'),
      () => ({
        address, mn: id.mn, sn: id.sn, fr: id.fr, version: formatVersion(ctrl.vs),
        namespaces: namespaces.map((n) => ({ nsid: n.nsid, nsze: Number(n.blocks), lbads: n.blockSize })),
        io_queues: pairs.map((q) => ({ qid: q.qid, depth: q.depth })),
        nsqa: ctrl.queuesAllocated.nsqa, ncqa: ctrl.queuesAllocated.ncqa,
      }),
    );
  } finally {
    await ctrl.close();
  }
  if (p.format === 'normal') console.log(`${address}: shut down (§3.6: I/O queues deleted, CC.SHN = 01b, CSTS.SHST = 10b, CC.EN = 0)`);
  return 0;
}
