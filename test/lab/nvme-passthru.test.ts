// Passthrough against the lab's second controller (scripts/test.sh configures it as
// --nvme size=64M,lba=4096,namespaces=2,serial=VFIONODE1; the first when there is only
// one): raw admin and I/O commands through the driver, what it refuses, and the CLI's
// admin-passthru and get-log run as a user runs them.
//
// Run with: node packages/cli/bin/vfio-node.js lab run --nvme size=256M,serial=LABSERIAL --nvme size=64M,lba=4096,namespaces=2,serial=VFIONODE1 -- node_modules/.bin/vitest run --project lab test/lab/nvme-passthru.test.ts

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NvmeController, NvmeStatusError, parseSmartLog, type Namespace } from '@vfio-node/nvme';
import { labNvme } from './lab-env.js';

const BIN = fileURLToPath(new URL('../../packages/cli/bin/vfio-node.js', import.meta.url));

/** The controller these tests use: the lab's second, if it has one. */
function address(): string {
  const all = labNvme();
  return all[1] ?? all[0]!;
}

describe('passthrough sends raw admin and I/O commands and refuses what would break the driver', () => {
  let ctrl: NvmeController;
  let ns: Namespace;
  let lba: number;
  let saved: Uint8Array | undefined;
  beforeAll(async () => {
    ctrl = await NvmeController.open(address());
    // The last block of the last namespace, given back as it was found.
    ns = ctrl.namespace(ctrl.namespaceIds[ctrl.namespaceIds.length - 1]);
    lba = Number(ns.blocks) - 1;
    const mem = ctrl.allocBuffer(ns.blockSize);
    await ns.read(lba, 1, mem.bytes);
    saved = mem.bytes.slice();
    mem.release();
  });
  afterAll(async () => {
    if (ctrl && saved) {
      const mem = ctrl.allocBuffer(ns.blockSize);
      mem.bytes.set(saved);
      await ns.write(lba, 1, mem.bytes).finally(() => mem.release());
    }
    await ctrl?.close();
  });

  it('Identify Controller (opcode 06h, CNS 01h) returns the serial the driver read at open', async () => {
    const r = await ctrl.admin.passthru({ opcode: 0x06, cdw10: 1, data: 4096 });
    expect(r.status).toBe(0);
    expect(r.dw0).toBe(0);
    expect(r.data).toHaveLength(4096);
    const sn = Buffer.from(r.data!.subarray(4, 24)).toString('latin1');
    expect(sn.trimEnd()).toBe(ctrl.identify.sn);
    expect(Buffer.from(r.data!.subarray(0, 2)).readUInt16LE(0)).toBe(0x1b36); // VID
  });

  it('Get Log Page SMART / Health (02h) returns the log admin.smartLog() parses', async () => {
    const r = await ctrl.admin.passthru({ opcode: 0x02, nsid: 0xffffffff, cdw10: (127 << 16) | 0x02, data: 512 });
    const raw = parseSmartLog(r.data!);
    const smart = await ctrl.admin.smartLog();
    expect(raw.compositeTemperature).toBe(smart.compositeTemperature);
    expect(raw.compositeTemperature).toBeGreaterThan(273);
    expect(raw.availableSpare).toBe(smart.availableSpare);
    expect(raw.criticalWarning).toBe(smart.criticalWarning);
  });

  it('I/O passthrough Write (01h) then Read (02h) of one block round-trips the data, as ns.read sees it too', async () => {
    const out = ctrl.allocBuffer(ns.blockSize);
    const back = ctrl.allocBuffer(ns.blockSize);
    try {
      out.bytes.set(randomBytes(ns.blockSize));
      // SLBA in CDW10/11, NLB (0's based) in CDW12 bits 15:0.
      const w = await ns.passthru({ opcode: 0x01, cdw10: lba, cdw11: 0, cdw12: 0, data: out.bytes });
      expect(w.data).toBe(out.bytes);
      const r = await ctrl.ioPassthru({ opcode: 0x02, nsid: ns.nsid, cdw10: lba, cdw12: 0, data: back.bytes });
      expect(r.status).toBe(0);
      expect(Buffer.from(back.bytes).equals(Buffer.from(out.bytes))).toBe(true);
      // The driver allocates when given a length, and returns a copy.
      const copy = await ns.passthru({ opcode: 0x02, cdw10: lba, data: ns.blockSize });
      expect(Buffer.from(copy.data!).equals(Buffer.from(out.bytes))).toBe(true);
      back.bytes.fill(0);
      await ns.read(lba, 1, back.bytes);
      expect(Buffer.from(back.bytes).equals(Buffer.from(out.bytes))).toBe(true);
    } finally {
      out.release();
      back.release();
    }
  });

  it('refuses Delete I/O Submission Queue (00h) and Create I/O SQ (01h) on the admin queue, and the controller keeps working', async () => {
    await expect(ctrl.admin.passthru({ opcode: 0x00, cdw10: 1 })).rejects.toMatchObject({
      code: 'ERR_NVME_PASSTHRU_MANAGED_OPCODE',
      message: expect.stringContaining('(Delete I/O Submission Queue) refused: the driver manages it itself'),
    });
    await expect(ctrl.admin.passthru({ opcode: 0x01, cdw10: 1 })).rejects.toMatchObject({
      code: 'ERR_NVME_PASSTHRU_MANAGED_OPCODE',
      message: expect.stringContaining('(Create I/O Submission Queue) refused'),
    });
    // Nothing reached the controller: I/O queue 1 still runs, and so does the admin queue.
    const mem = ctrl.allocBuffer(ns.blockSize);
    try {
      await ns.read(lba, 1, mem.bytes);
    } finally {
      mem.release();
    }
    expect((await ctrl.admin.identifyController()).sn).toBe(ctrl.identify.sn);
  });

  it('refuses a data direction against the opcode and a transfer beyond MDTS before anything is sent', async () => {
    await expect(ctrl.admin.passthru({ opcode: 0x06, cdw10: 1, data: 4096, direction: 'write' })).rejects.toMatchObject({ code: 'ERR_NVME_PASSTHRU_DIRECTION' });
    await expect(ctrl.ioPassthru({ opcode: 0x02, nsid: ns.nsid, data: ctrl.maxTransfer + 4096 })).rejects.toMatchObject({ code: 'ERR_NVME_TRANSFER_TOO_LARGE' });
    await expect(ctrl.admin.passthru({ opcode: 0x06, cdw10: 1, data: new Uint8Array(4096) })).rejects.toMatchObject({ code: 'ERR_NVME_BUFFER_NOT_DMA' });
  });

  it('an opcode the controller does not implement completes with Invalid Command Opcode, as an NvmeStatusError', async () => {
    const err = await ctrl.admin.passthru({ opcode: 0xc3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NvmeStatusError);
    expect(err).toMatchObject({ code: 'ERR_NVME_INVALID_COMMAND_OPCODE', sct: 0, sc: 0x01 });
    const io = await ctrl.ioPassthru({ opcode: 0x83, nsid: ns.nsid }).catch((e: unknown) => e);
    expect(io).toMatchObject({ code: 'ERR_NVME_INVALID_COMMAND_OPCODE', sct: 0, sc: 0x01 });
    // The admin queue goes on.
    expect((await ctrl.admin.identifyController()).sn).toBe(ctrl.identify.sn);
  });
});

interface Run {
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `vfio-node nvme ARGS` in a child process; stdout as bytes (-b writes binary). */
function nvme(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'nvme', ...args], { stdio: ['pipe', 'pipe', 'pipe'], timeout: 90_000 });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout: Buffer.concat(out), stderr }));
    child.stdin.end();
  });
}

// The controller is closed by the describe above before these run: the CLI opens it itself.
describe('vfio-node nvme admin-passthru and get-log, as nvme-cli prints them', { timeout: 300_000 }, () => {
  let addr: string;
  let serial: string;
  beforeAll(async () => {
    addr = address();
    const ctrl = await NvmeController.open(addr);
    serial = ctrl.identify.sn;
    await ctrl.close();
  });

  it('admin-passthru --opcode=6 --cdw10=1 --data-len=4096 --read -b writes Identify Controller raw: bytes 4..23 are the serial', async () => {
    const r = await nvme('admin-passthru', addr, '--opcode=6', '--cdw10=1', '--data-len=4096', '--read', '-b');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toHaveLength(4096);
    expect(r.stdout.subarray(4, 24).toString('latin1').trimEnd()).toBe(serial);
    expect(r.stderr).toContain('NVMe command result:00000000');
  });

  it('admin-passthru without -b prints the result line and the hex dump', async () => {
    const r = await nvme('admin-passthru', addr, '-O', '0x06', '-4', '1', '-l', '4096', '-r');
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.toString('utf8').trimEnd().split('\n');
    expect(lines[0]).toBe('NVMe command result:00000000');
    expect(lines[1]).toBe('       0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f');
    expect(lines[2]).toMatch(/^0000: 36 1b( [0-9a-f]{2}){14} ".{16}"$/); // VID 1b36h
    expect(lines).toHaveLength(2 + 4096 / 16);
  });

  it('get-log --log-id=2 --log-len=512 prints the SMART log as a hex dump; -b writes it raw', async () => {
    const r = await nvme('get-log', addr, '--log-id=2', '--log-len=512');
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.toString('utf8').trimEnd().split('\n');
    expect(lines[0]).toBe(`Device:${addr} log-id:2 namespace-id:0xffffffff`);
    expect(lines[1]).toBe('       0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f');
    expect(lines).toHaveLength(2 + 512 / 16);
    expect(lines[33]).toMatch(/^01f0:( [0-9a-f]{2}){16} ".{16}"$/);
    const raw = await nvme('get-log', addr, '-i', '2', '-l', '512', '-b');
    expect(raw.status, raw.stderr).toBe(0);
    expect(raw.stdout).toHaveLength(512);
    expect(raw.stdout.readUInt16LE(1)).toBeGreaterThan(273); // Composite Temperature, kelvin
  });

  it('a refused opcode and a status error are reported as the CLI reports errors', async () => {
    const refused = await nvme('admin-passthru', addr, '--opcode=1');
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('(Create I/O Submission Queue) refused: the driver manages it itself');
    const invalid = await nvme('admin-passthru', addr, '--opcode=0xc3');
    expect(invalid.status).toBe(1);
    expect(invalid.stderr.trim()).toBe('NVMe status: Invalid Command Opcode: A reserved coded value or an unsupported value in the command opcode field(0x4001)');
  });
});
