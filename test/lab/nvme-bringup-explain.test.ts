// `vfio-node nvme bringup ADDR --explain [--step]` (issue 16): the controller's
// initialization printed step by step as NVMe Base 2.0 §3.5.1 numbers it, with what the
// driver wrote and what the lab's controller (QEMU's, scripts/test.sh configures it as
// --nvme size=256M,serial=LABSERIAL) answered; with --step, a pause after each step until a
// line arrives on stdin.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { labNvme } from './lab-env.js';

const BIN = fileURLToPath(new URL('../../packages/cli/bin/vfio-node.js', import.meta.url));
const PROMPT = /^-- step \d+\+? done; press Enter to go on --$/;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  /** With answerPrompts: the largest number of prompts seen unanswered at once. */
  maxUnanswered: number;
  /** With answerPrompts: prompts after which something else was printed before the answer. */
  notPaused: number;
}

/**
 * Runs `vfio-node nvme ARGS` with stdin a pipe. answerPrompts: write one newline for each
 * --step prompt once it is the last thing printed (else stdin gets nothing until the end).
 */
function nvme(args: string[], answerPrompts = false): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'nvme', ...args], { stdio: ['pipe', 'pipe', 'pipe'], timeout: 180_000 });
    let stdout = '';
    let stderr = '';
    let answered = 0;
    let maxUnanswered = 0;
    let notPaused = 0;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (!answerPrompts) return;
      const lines = stdout.split('\n');
      const prompts = lines.filter((l) => PROMPT.test(l)).length;
      maxUnanswered = Math.max(maxUnanswered, prompts - answered);
      if (prompts > answered) {
        // Paused: the prompt is the last complete line, nothing after it.
        const last = lines.at(-1) === '' ? lines.at(-2) : lines.at(-1);
        if (!PROMPT.test(last ?? '')) notPaused++;
        for (; answered < prompts; answered++) child.stdin.write('\n');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr, maxUnanswered, notPaused }));
    if (!answerPrompts) child.stdin.end();
  });
}

/** The block of output lines of §3.5.1 step n (its heading and its indented lines). */
function stepBlock(out: string, n: number): string {
  const lines = out.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`§3.5.1 step ${n}:`));
  if (at < 0) return '';
  const end = lines.findIndex((l, i) => i > at && !l.startsWith('  '));
  return lines.slice(at, end < 0 ? undefined : end).join('\n');
}

describe('vfio-node nvme bringup --explain', () => {
  it('prints the steps of §3.5.1 in order, with the registers written and read back and the commands answered, then shuts down', async () => {
    const address = labNvme()[0]!;
    const r = await nvme(['bringup', address, '--explain']);
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout;
    // In order: CAP before step 1, then steps 1 to 12.
    const heads = [out.indexOf('§3.5.1, before step 1'), ...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((n) => out.indexOf(`§3.5.1 step ${n}:`))];
    expect(heads.every((i) => i >= 0)).toBe(true);
    expect([...heads].sort((a, b) => a - b)).toEqual(heads);
    // CAP read and decoded (QEMU 7.2: MQES 2047, TO 15 = 7500 ms), VS.
    expect(out).toMatch(/controller: {4}CAP = 0x[0-9a-f]+ \(MQES=\d+: up to \d+ entries per queue, DSTRD=\d+: doorbells \d+ bytes apart, TO=\d+: \d+ ms to become ready, CSS NVM=1,/);
    expect(out).toMatch(/controller: {4}VS = 0x[0-9a-f]+ \(NVMe \d+\.\d+\.\d+\)/);
    // Step 1: CC.EN = 0 (the controller is disabled, or the driver disables it), CSTS.RDY = 0.
    expect(stepBlock(out, 1)).toMatch(/driver wrote: {2}(nothing: CC read 0x[0-9a-f]+ \(EN=0 |CC = 0x[0-9a-f]+ \(EN=0 )/);
    expect(stepBlock(out, 1)).toMatch(/controller: {4}CSTS = 0x0 \(RDY=0 CFS=0 /);
    // Step 2: AQA (32-entry admin queues by default), ASQ and ACQ written; read back.
    const s2 = stepBlock(out, 2);
    expect(s2).toContain("driver wrote:  AQA = 0x1f001f (ASQS=31 ACQS=31 (0's based: 32 entries each))");
    const asq = /driver wrote: {2}ASQ = (0x[0-9a-f]+) /.exec(s2)?.[1];
    const acq = /driver wrote: {2}ACQ = (0x[0-9a-f]+) /.exec(s2)?.[1];
    expect(asq).toBeDefined();
    expect(acq).toBeDefined();
    expect(s2).toContain(`controller:    AQA reads 0x1f001f, ASQ ${asq}, ACQ ${acq}`);
    // Steps 3-5: CC.CSS = NVM, then CC with the page size and entry sizes, then EN = 1.
    expect(stepBlock(out, 3)).toContain('CC.CSS = 000b (the NVM command set; CAP.CSS bit 0 = 1)');
    expect(stepBlock(out, 4)).toContain('driver wrote:  CC = 0x460000 (EN=0 CSS=000b MPS=0 (4096-byte pages) AMS=000b SHN=00b IOSQES=6 (64 B) IOCQES=4 (16 B))');
    expect(stepBlock(out, 5)).toContain('driver wrote:  CC = 0x460001 (EN=1 CSS=000b MPS=0 (4096-byte pages)');
    // Step 6: CSTS.RDY = 1.
    expect(stepBlock(out, 6)).toMatch(/controller: {4}CSTS = 0x1 \(RDY=1 CFS=0 SHST=00b/);
    // Step 7: Identify Controller, with the lab's serial.
    const s7 = stepBlock(out, 7);
    expect(s7).toContain('Identify, CNS 01h (Identify Controller)');
    expect(s7).toMatch(/MN \(model\) 'QEMU NVMe Ctrl', SN \(serial\) 'LABSERIAL'/);
    // Step 8: namespace 1 of 256 MiB in 512-byte blocks.
    expect(stepBlock(out, 8)).toContain('namespace 1: NSZE 524288 blocks of 512 bytes');
    // Step 9: queues asked and granted.
    expect(stepBlock(out, 9)).toMatch(/controller: {4}granted: \d+ submission and \d+ completion queues/);
    // Steps 10-11: I/O queue pair 1 created, CQ first.
    expect(stepBlock(out, 10)).toMatch(/Create I\/O Completion Queue: QID 1, QSIZE 255 \(256 entries\), PRP1 0x[0-9a-f]+, IEN=0 \(polled\)/);
    expect(stepBlock(out, 11)).toMatch(/Create I\/O Submission Queue: QID 1, QSIZE 255, PRP1 0x[0-9a-f]+, CQID 1/);
    expect(stepBlock(out, 11)).toContain('I/O SQ 1 created: I/O queue pair 1 ready');
    // The summary, then the shutdown.
    expect(out).toMatch(/bring-up done in \d+ steps\. .*: QEMU NVMe Ctrl, serial LABSERIAL/);
    expect(out.trimEnd().split('\n').at(-1)).toMatch(/: shut down \(§3\.6: I\/O queues deleted, CC\.SHN = 01b, CSTS\.SHST = 10b, CC\.EN = 0\)$/);
    expect(out).not.toMatch(PROMPT);
  });

  it('--step pauses after each step until a line arrives on stdin, then completes', async () => {
    const address = labNvme()[0]!;
    const r = await nvme(['bringup', address, '--explain', '--step'], true);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    const prompts = lines.filter((l) => PROMPT.test(l));
    // One prompt per step printed (CAP, steps 1-12, Doorbell Buffer Config after step 9).
    const steps = lines.filter((l) => l.startsWith('§3.5.1') || l.startsWith('after §3.5.1'));
    expect(steps.length).toBeGreaterThanOrEqual(13);
    expect(prompts.length).toBe(steps.length);
    // Each prompt follows its step's block and comes before the next step's heading.
    let open = false;
    for (const l of lines) {
      if (l.startsWith('§3.5.1') || l.startsWith('after §3.5.1')) {
        expect(open).toBe(false);
        open = true;
      } else if (PROMPT.test(l)) {
        expect(open).toBe(true);
        open = false;
      }
    }
    expect(open).toBe(false);
    // It waited: each prompt was the last thing printed until its line came, one at a time.
    expect(r.maxUnanswered).toBe(1);
    expect(r.notPaused).toBe(0);
    expect(r.stdout).toMatch(/bring-up done in \d+ steps\./);
    expect(r.stdout).toMatch(/: shut down \(§3\.6/);
  });

  it('--step with every line piped at once (stdin ended early) goes through without waiting', async () => {
    const address = labNvme()[0]!;
    const child = spawn(process.execPath, [BIN, 'nvme', 'bringup', address, '--step'], { stdio: ['pipe', 'pipe', 'pipe'], timeout: 180_000 });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stdin.end('\n\n\n');
    const status = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    expect(status).toBe(0);
    expect(stdout.split('\n').filter((l) => PROMPT.test(l)).length).toBeGreaterThanOrEqual(13);
    expect(stdout).toMatch(/: shut down \(§3\.6/);
  });
});
