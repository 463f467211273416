// `vfio-node net bringup ADDR [--explain] [--step]`: opens a virtio-net NIC and walks its
// bring-up (virtio 1.2 §3.1.1) one step at a time, printing for each what the
// specification says, what the driver wrote and what the device answered. The steps are
// the driver's own (VirtioNet.open's onStep observer): nothing of the handshake is
// repeated here. --step waits for Enter (a line on stdin, also from a pipe) between steps.

import { readSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BRINGUP_STEPS, VirtioNet, type BringupStep, type VirtioNetOptions } from '@vfio-node/virtio-net';

/** The help text of `vfio-node net bringup`. */
export const BRINGUP_USAGE = `usage: vfio-node net bringup ADDR [--explain] [--step] [--json] [--interrupts] [--packed] [--queue-size N]

Brings the virtio-net NIC at ADDR up (virtio 1.2 §3.1.1), prints what it found, and
resets it again (close).
  --explain       each step: what the specification says, the driver's register
                  writes and the device's answers, decoded
  --step          with --explain, wait for Enter before each next step (reads lines
                  from stdin; piped input works; at its end the walk goes on)
  --json          with --explain, one JSON object per step
  --interrupts    set up MSI-X vectors (step 7b) instead of polling
  --packed        ask for packed virtqueues when the device offers them
  --queue-size N  descriptors per queue (default 256)`;

const TOTAL = Object.keys(BRINGUP_STEPS).length;
const STEP_INDEX = new Map(Object.keys(BRINGUP_STEPS).map((id, i) => [id, i + 1]));

/** Words wrapped to `width` columns, each line indented by `indent`. */
export function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines.join('\n');
}

/** One step as --explain prints it. */
export function formatStep(s: BringupStep): string {
  const out = [
    `Step ${STEP_INDEX.get(s.id) ?? '?'} of ${TOTAL}: §3.1.1 step ${s.number}: ${s.title}  (${s.section})`,
    '  What the specification says:',
    wrap(s.spec, 100, '    '),
  ];
  if (s.accesses.length) out.push('  What the driver did and what the device answered:', ...s.accesses.map((a) => `    ${a}`));
  out.push(`  Result: ${s.outcome}`, '');
  return out.join('\n');
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Blocks until a line arrives on `fd` (stdin by default, a terminal or a pipe). Returns
 * false at the end of the input (nothing more will come).
 */
export function readLineSync(fd = 0): boolean {
  const b = Buffer.alloc(1);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, b, 0, 1, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A non-blocking stdin (a pipe some parents hand over so): wait a little and try again.
      if (code === 'EAGAIN') {
        Atomics.wait(sleeper, 0, 0, 20);
        continue;
      }
      if (code === 'EOF') return false;
      throw err;
    }
    if (n === 0) return false;
    if (b[0] === 0x0a) return true;
  }
}

/** Runs `net bringup ARGS`; returns the exit status. */
export async function bringup(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        explain: { type: 'boolean' },
        step: { type: 'boolean' },
        json: { type: 'boolean' },
        interrupts: { type: 'boolean' },
        packed: { type: 'boolean' },
        'queue-size': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    console.error(`vfio-node net bringup: ${(err as Error).message}\n\n${BRINGUP_USAGE}`);
    return 2;
  }
  const { values: v, positionals: p } = parsed;
  if (v.help) {
    console.log(BRINGUP_USAGE);
    return 0;
  }
  if (p.length !== 1) {
    console.error(`vfio-node net bringup takes one PCI address, got ${p.length}\n\n${BRINGUP_USAGE}`);
    return 2;
  }
  if ((v.step || v.json) && !v.explain) {
    console.error(`vfio-node net bringup: --${v.step ? 'step' : 'json'} goes with --explain\n\n${BRINGUP_USAGE}`);
    return 2;
  }
  const queueSize = v['queue-size'] === undefined ? undefined : Number(v['queue-size']);
  let inputEnded = false;
  const onStep = (s: BringupStep) => {
    console.log(v.json ? JSON.stringify({ step: STEP_INDEX.get(s.id), ...s }) : formatStep(s));
    if (!v.step || inputEnded || s.id === 'driver-ok') return;
    process.stderr.write('Press Enter for the next step. ');
    if (!readLineSync(0)) {
      inputEnded = true;
      process.stderr.write('(end of input: going on without waiting)\n');
    }
  };
  const options: VirtioNetOptions = {
    interrupts: v.interrupts ? 'msix' : 'poll',
    features: { packed: !!v.packed },
    ...(queueSize !== undefined ? { queueSize } : {}),
    ...(v.explain ? { onStep } : {}),
  };
  const nic = VirtioNet.open(p[0]!, options);
  try {
    const summary = { address: nic.address, mac: nic.macString, mtu: nic.mtu, linkUp: nic.linkUp, packed: nic.packed, eventIdx: nic.eventIdx, queuePairs: nic.queuePairs, status: nic.status };
    if (v.json) console.log(JSON.stringify({ up: summary }));
    else console.log(`${nic.address} is up: MAC ${summary.mac}, MTU ${summary.mtu}, link ${summary.linkUp ? 'up' : 'down'}, ${summary.packed ? 'packed' : 'split'} rings${summary.eventIdx ? ' with EVENT_IDX' : ''}, device_status 0x${summary.status.toString(16)}. Closing it resets the device.`);
  } finally {
    nic.close();
  }
  return 0;
}
