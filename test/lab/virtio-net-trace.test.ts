// Watching the virtio-net driver work (issue 16): with { trace }, one frame sent from one
// lab NIC and received on the other shows, in order, the transmit descriptor and its
// virtio_net_hdr, the available ring update and the notification (or why none); then the
// used entry, the received frame's header and the buffer given back. With MSI-X, the
// interrupt that woke the waiter. And `vfio-node net bringup --explain [--step]` walks
// the §3.1.1 steps with the values the device gave.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tracer, type TraceEvent } from '@vfio-node/core';
import { VirtioNet } from '@vfio-node/virtio-net';
import { labNics } from './lab-env.js';

/** The index of the first event at or after `from` of `kind` whose text matches, or -1. */
function find(events: readonly TraceEvent[], from: number, kind: TraceEvent['kind'], text: RegExp): number {
  for (let i = from; i < events.length; i++) if (events[i]!.kind === kind && text.test(events[i]!.text)) return i;
  return -1;
}

function frameFor(to: VirtioNet, from: VirtioNet): Uint8Array {
  const f = new Uint8Array(100);
  f.set(to.mac, 0);
  f.set(from.mac, 6);
  f[12] = 0x88; // local experimental EtherType 0x88b5 (IEEE 802)
  f[13] = 0xb5;
  for (let i = 14; i < f.length; i++) f[i] = i;
  return f;
}

async function receiveOne(nic: VirtioNet): Promise<number> {
  const q = nic.rxQueue(0);
  for (let tries = 0; tries < 20_000; tries++) {
    const n = q.receive();
    if (n > 0) return n;
    await new Promise((r) => setTimeout(r, 1));
  }
  return 0;
}

describe('--trace: one frame each way, decoded, in order (polling)', () => {
  const tracer = new Tracer({ keep: true, write: () => {} });
  let tx: VirtioNet;
  let rx: VirtioNet;
  beforeAll(() => {
    const [a, b] = labNics();
    tx = VirtioNet.open(a!, { trace: tracer });
    rx = VirtioNet.open(b!, { trace: tracer });
  });
  afterAll(() => {
    tx?.close();
    rx?.close();
  });

  it('the bring-up is traced: device features read by name, FEATURES_OK kept, DRIVER_OK', () => {
    const ev = tracer.events.filter((e) => e.who === tx.address);
    const reset = find(ev, 0, 'reg', /^write device_status <- 0 \(reset\)$/);
    const features = find(ev, reset, 'reg', /^read device_feature -> 0x[0-9a-f]+ \(bits 32-63: .*VIRTIO_F_VERSION_1/);
    const ok = find(ev, features, 'step', /^§3\.1\.1 step 6: Read FEATURES_OK back: FEATURES_OK still set/);
    const live = find(ev, ok, 'step', /^§3\.1\.1 step 8: DRIVER_OK: device_status = ACKNOWLEDGE\|DRIVER\|DRIVER_OK\|FEATURES_OK \(0xf\)/);
    expect(reset).toBeGreaterThanOrEqual(0);
    expect(features).toBeGreaterThan(reset);
    expect(ok).toBeGreaterThan(features);
    expect(live).toBeGreaterThan(ok);
    expect(ev[features]!.section).toBe('virtio 1.2 §2.2, §4.1.4.3');
  });

  it('transmit: the descriptor, its virtio_net_hdr, avail.idx, then the notification or why it was skipped', () => {
    const from = tracer.events.length;
    expect(tx.send([frameFor(rx, tx)])).toBe(1);
    const ev = tracer.events;
    const desc = find(ev, from, 'desc', /^transmitq1 desc\[(\d+)\] addr=0x[0-9a-f]+ len=112 flags=0$/);
    expect(desc).toBeGreaterThanOrEqual(from);
    expect(ev[desc]!.section).toBe('virtio 1.2 §2.7.5');
    const id = /desc\[(\d+)\]/.exec(ev[desc]!.text)![1];
    const hdr = find(ev, desc, 'hdr', new RegExp(`^transmitq1 buffer ${id}: virtio_net_hdr flags=0 gso_type=NONE num_buffers=0$`));
    const avail = find(ev, hdr, 'avail', /^transmitq1 avail\.idx <- \d+ \(1 new: ring\[\d+\.\.\d+\]\)$/);
    const notify = find(ev, avail, 'notify', /^transmitq1 notify(: write 1 to BAR\d+\+0x[0-9a-f]+| skipped): (avail_event=\d+ (not )?in \(old \d+, new \d+\]|used\.flags=\w+)$/);
    expect(hdr).toBeGreaterThan(desc);
    expect(avail).toBeGreaterThan(hdr);
    expect(notify).toBeGreaterThan(avail);
    // With EVENT_IDX (QEMU offers it) the decision cites §2.7.10 and §2.7.13.4.
    if (tx.eventIdx) expect(ev[notify]!.section).toMatch(/^virtio 1\.2 §2\.7\.10, §2\.7\.13\.4/);
  });

  it('receive: the used entry, the frame\'s header; the next receive gives the buffer back with avail.idx and the notification decision', async () => {
    const from = tracer.events.length;
    expect(await receiveOne(rx)).toBe(1);
    const ev = tracer.events;
    const used = find(ev, from, 'used', /^receiveq1 used ring\[\d+\] id=(\d+) len=112 \(used\.idx \d+\)$/);
    expect(used).toBeGreaterThanOrEqual(from);
    const id = /id=(\d+)/.exec(ev[used]!.text)![1];
    const hdr = find(ev, used, 'hdr', new RegExp(`^receiveq1 frame of 100 bytes in buffer ${id}: virtio_net_hdr flags=\\w+ gso_type=NONE num_buffers=${rx.features & (1n << 15n) ? 1 : 0}$`));
    expect(hdr).toBeGreaterThan(used);
    expect(ev[hdr]!.section).toBe('virtio 1.2 §5.1.6.4');
    const back = tracer.events.length;
    rx.rxQueue(0).receive();
    const desc = find(ev, back, 'desc', new RegExp(`^receiveq1 desc\\[${id}\\] addr=0x[0-9a-f]+ len=\\d+ flags=WRITE$`));
    const avail = find(ev, desc, 'avail', /^receiveq1 avail\.idx <- \d+ \(1 new: ring\[\d+\.\.\d+\]\)$/);
    const notify = find(ev, avail, 'notify', /^receiveq1 notify(: write 0 to BAR\d+\+0x[0-9a-f]+| skipped): /);
    expect(desc).toBeGreaterThanOrEqual(back);
    expect(avail).toBeGreaterThan(desc);
    expect(notify).toBeGreaterThan(avail);
  });

  it('the sender takes its buffer back: the used entry of the transmit queue', () => {
    const from = tracer.events.length;
    const q = tx.txQueue(0);
    for (let tries = 0; tries < 1000 && q.reclaim() === 0; tries++);
    expect(find(tracer.events, from, 'used', /^transmitq1 used ring\[\d+\] id=\d+ len=\d+ \(used\.idx \d+\)$/)).toBeGreaterThanOrEqual(from);
  });
});

describe('--trace with MSI-X: the interrupt that woke the receiver', () => {
  const tracer = new Tracer({ keep: true, write: () => {} });
  let tx: VirtioNet;
  let rx: VirtioNet;
  beforeAll(() => {
    const [a, b] = labNics();
    tx = VirtioNet.open(a!);
    rx = VirtioNet.open(b!, { trace: tracer, interrupts: 'msix' });
  });
  afterAll(() => {
    tx?.close();
    rx?.close();
  });

  it('asks for an interrupt, waits on the queue\'s vector, and says which vector fired and what it woke', async () => {
    const q = rx.rxQueue(0);
    while (q.receive() > 0);
    const from = tracer.events.length;
    const waiting = rx.wait(q, 60_000);
    setImmediate(() => tx.send([frameFor(rx, tx)]));
    expect(await waiting).toBe(true);
    const ev = tracer.events;
    const ask = find(ev, from, 'irq', /^receiveq1 asks for an interrupt: (used_event <- \d+|avail\.flags <- 0)/);
    const wait = find(ev, ask, 'irq', /^waiting for MSI-X vector 1 \(receiveq1, vq 0\)$/);
    const fired = find(ev, wait, 'irq', /^MSI-X vector 1 fired \(eventfd count \d+\): woke the waiter on receiveq1 \(vq 0\), used buffers pending$/);
    expect(ask).toBeGreaterThanOrEqual(from);
    expect(wait).toBeGreaterThan(ask);
    expect(fired).toBeGreaterThan(wait);
    expect(ev[fired]!.section).toBe('virtio 1.2 §4.1.5.3');
    const got = tracer.events.length;
    expect(q.receive()).toBe(1);
    expect(find(ev, got, 'used', /^receiveq1 used ring\[\d+\] id=\d+ len=112/)).toBeGreaterThanOrEqual(got);
    // The MSI-X step of the bring-up was traced with the vectors the device kept.
    expect(find(ev, 0, 'reg', /^read msix_config -> 0$/)).toBeGreaterThanOrEqual(0);
    expect(find(ev, 0, 'reg', /^read queue_msix_vector -> 1$/)).toBeGreaterThanOrEqual(0);
  });
});

/** Runs `vfio-node ARGS` with `input` on stdin; never throws. */
function cli(args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const bin = fileURLToPath(new URL('../../packages/cli/bin/vfio-node.js', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** The steps --explain printed: [header line, the rest] each. */
function steps(stdout: string): string[] {
  return stdout.split(/^(?=Step \d+ of \d+: )/m).filter((s) => s.startsWith('Step '));
}

describe('vfio-node net bringup --explain [--step]', () => {
  it('walks the §3.1.1 steps in order with the values the device gave', async () => {
    const { code, stdout, stderr } = await cli(['net', 'bringup', labNics()[0]!, '--explain']);
    expect(code, stderr).toBe(0);
    const s = steps(stdout);
    expect(s.map((x) => /^Step (\d+) of 12: §3\.1\.1 step (\w+): /.exec(x)?.slice(1).join(' '))).toEqual(['1 0', '2 1', '3 2', '4 3', '5 4', '6 5', '7 6', '8 7a', '9 7b', '10 7c', '11 7d', '12 8']);
    // Each step says what the specification says and what came of it.
    for (const x of s) expect(x).toMatch(/What the specification says:\n {4}\S.*\n[\s\S]*  Result: \S/);
    expect(s[1]).toMatch(/ {4}write device_status <- 0 \(reset\)\n {4}read device_status -> 0 \(reset\) after \d+ reads?, [\d.]+ ms\n/);
    expect(s[4]).toMatch(/ {4}read device_feature -> 0x[0-9a-f]+ \(bits 0-31: .*VIRTIO_NET_F_MAC/);
    expect(s[4]).toMatch(/ {4}read device_feature -> 0x[0-9a-f]+ \(bits 32-63: .*VIRTIO_F_VERSION_1 VIRTIO_F_ACCESS_PLATFORM/);
    expect(s[4]).toMatch(/ {4}write driver_feature <- 0x[0-9a-f]+ \(bits 32-63: VIRTIO_F_VERSION_1 VIRTIO_F_ACCESS_PLATFORM\)/);
    expect(s[4]).toMatch(/Result: the device offers .*; the driver accepts .*VIRTIO_F_VERSION_1/);
    expect(s[5]).toMatch(/write device_status <- ACKNOWLEDGE\|DRIVER\|FEATURES_OK \(0xb\)/);
    expect(s[6]).toMatch(/read device_status -> ACKNOWLEDGE\|DRIVER\|FEATURES_OK \(0xb\)\n[\s\S]*Result: FEATURES_OK still set/);
    expect(s[7]).toMatch(/read virtio_net_config .*: mac=([0-9a-f]{2}:){5}[0-9a-f]{2} /);
    expect(s[9]).toMatch(/ {4}read queue_size -> \d+ /);
    expect(s[9]).toMatch(/ {4}write queue_enable <- 1\n/);
    expect(s[11]).toMatch(/Result: device_status = ACKNOWLEDGE\|DRIVER\|DRIVER_OK\|FEATURES_OK \(0xf\): the device is live/);
    expect(stdout).toMatch(/is up: MAC ([0-9a-f]{2}:){5}[0-9a-f]{2}, MTU \d+/);
  });

  it('--step reads one line per step from a pipe, and goes on when the input ends', async () => {
    // Three lines for eleven pauses: the fourth prompt finds the end of the input.
    const { code, stdout, stderr } = await cli(['net', 'bringup', labNics()[0]!, '--explain', '--step'], '\n\n\n');
    expect(code, stderr).toBe(0);
    expect(steps(stdout)).toHaveLength(12);
    const prompts = stderr.split('Press Enter for the next step. ');
    expect(prompts).toHaveLength(5);
    expect(prompts[4]).toMatch(/^\(end of input: going on without waiting\)\n/);
  });

  it('--step with a line for every pause waits at each of the 11', async () => {
    const { code, stdout, stderr } = await cli(['net', 'bringup', labNics()[0]!, '--explain', '--step'], '\n'.repeat(11));
    expect(code, stderr).toBe(0);
    expect(steps(stdout)).toHaveLength(12);
    expect(stderr.split('Press Enter for the next step. ')).toHaveLength(12);
    expect(stderr).not.toMatch(/end of input/);
  });

  it('--trace=json on the command: the bring-up\'s register accesses as JSON lines', async () => {
    const { code, stderr } = await cli(['--trace=json', 'net', 'bringup', labNics()[0]!]);
    expect(code, stderr).toBe(0);
    const ev = stderr.split('\n').filter((l) => l.startsWith('{"t_ms"')).map((l) => JSON.parse(l) as { kind: string; text: string; section?: string });
    const i = ev.findIndex((e) => e.kind === 'reg' && e.text === 'write device_status <- ACKNOWLEDGE (0x1)');
    expect(i).toBeGreaterThanOrEqual(0);
    expect(ev[i]!.section).toBe('virtio 1.2 §2.1, §4.1.4.3');
    expect(ev.slice(i).some((e) => e.kind === 'step' && e.text.startsWith('§3.1.1 step 8: DRIVER_OK'))).toBe(true);
    expect(ev.some((e) => e.kind === 'desc' && /^receiveq1 \d+ receive buffers made available/.test(e.text))).toBe(true);
  });
});
