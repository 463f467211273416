// `vfio-node nvme ...` run as a user runs it: the real CLI in a child process, against the
// lab's first controller (scripts/test.sh configures it as --nvme size=256M,serial=LABSERIAL),
// its output checked against what the lab configured and against nvme-cli's shapes.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labNvme } from './lab-env.js';

const BIN = fileURLToPath(new URL('../../packages/cli/bin/vfio-node.js', import.meta.url));
const SERIAL = 'LABSERIAL';
const SIZE = 256 * 1024 * 1024;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `vfio-node nvme ARGS` with stdin from a pipe (not a terminal). Asynchronously:
 * under TCG one run takes seconds, and a blocked event loop starves vitest's worker RPC.
 */
function nvme(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'nvme', ...args], { stdio: ['pipe', 'pipe', 'pipe'], timeout: 90_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end();
  });
}

async function ok(...args: string[]): Promise<string> {
  const r = await nvme(...args);
  if (r.status !== 0) throw new Error(`vfio-node nvme ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

// Each run is a fresh node process that brings the controller up: seconds under TCG, so
// the tests get more time than the lab project's default.
describe('vfio-node nvme speaks nvme-cli against the lab controller', { timeout: 300_000 }, () => {
  let addr: string;
  let dir: string;
  let blockSize: number;
  beforeAll(() => {
    addr = labNvme()[0]!;
    dir = mkdtempSync(join(tmpdir(), 'nvme-cli-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('id-ctrl shows the serial the lab gave the controller, in normal and JSON form', async () => {
    const id = JSON.parse(await ok('id-ctrl', addr, '-o', 'json'));
    expect(id.sn.trimEnd()).toBe(SERIAL);
    expect(id.sn).toHaveLength(20); // the padded field, as nvme-cli prints it
    expect(id.mn).toMatch(/^QEMU NVMe Ctrl/);
    expect(id.vid).toBe(0x1b36);
    expect(id.nn).toBeGreaterThanOrEqual(1);
    expect(id.psds.length).toBe(id.npss + 1);
    const normal = (await ok('id-ctrl', addr, '-H')).split('\n');
    expect(normal[0]).toBe('NVME Identify Controller:');
    expect(normal).toContain(`sn        : ${id.sn}`);
    expect(normal).toContain(`oncs      : 0x${id.oncs.toString(16)}`);
    expect(normal).toContain('  [0:0] : 0x1\tCompare Supported'); // QEMU's ONCS has Compare
  });

  it('id-ns reports the 256 MiB namespace and the LBA format in use', async () => {
    const ns = JSON.parse(await ok('id-ns', addr, '-n', '1', '-o', 'json'));
    const inUse = ns.lbafs.filter((l: { in_use: number }) => l.in_use === 1);
    expect(inUse).toHaveLength(1);
    blockSize = 2 ** inUse[0].ds;
    expect(ns.nsze * blockSize).toBe(SIZE);
    const normal = (await ok('id-ns', addr, '-n', '1')).split('\n');
    expect(normal[0]).toBe('NVME Identify Namespace 1:');
    expect(normal).toContain(`nsze    : 0x${ns.nsze.toString(16)}`);
    expect(normal.filter((l) => l.endsWith('(in use)'))).toHaveLength(1);
  });

  it('list shows every lab controller with its namespaces, like nvme list', async () => {
    const { Devices } = JSON.parse(await ok('list', '-o', 'json'));
    for (const a of labNvme()) expect(Devices.some((d: { DevicePath: string }) => d.DevicePath === a)).toBe(true);
    const first = Devices.find((d: { DevicePath: string; NameSpace: number }) => d.DevicePath === addr && d.NameSpace === 1);
    expect(first).toMatchObject({ SerialNumber: SERIAL, PhysicalSize: SIZE, SectorSize: blockSize });
    for (const d of Devices) expect(d.PhysicalSize).toBe(d.MaximumLBA * d.SectorSize);
    const table = (await ok('list')).split('\n');
    expect(table[0]).toMatch(/^Node {18}SN {19}Model {36}Namespace  Usage {22}Format {11}FW Rev/);
    expect(table.find((l) => l.startsWith(addr) && l.includes(SERIAL))).toContain('268.44  MB / 268.44  MB');
  });

  it('smart-log, error-log and fw-log print the log pages', async () => {
    const smart = JSON.parse(await ok('smart-log', addr, '-o', 'json'));
    expect(smart.temperature).toBeGreaterThan(273); // kelvin
    expect(smart.critical_warning).toBe(0);
    expect((await ok('smart-log', addr)).split('\n')[0]).toBe(`Smart Log for NVME device:${addr} namespace-id:ffffffff`);
    const elpe = JSON.parse(await ok('id-ctrl', addr, '-o', 'json')).elpe;
    const errors = JSON.parse(await ok('error-log', addr, '-o', 'json')).errors;
    expect(errors).toHaveLength(Math.min(64, elpe + 1));
    expect((await ok('error-log', addr, '-e', '1')).split('\n')[0]).toBe(`Error Log Entries for device:${addr} entries:1`);
    const fw = (await ok('fw-log', addr)).split('\n');
    expect(fw[0]).toBe(`Firmware Log for device:${addr}`);
    expect(fw[1]).toMatch(/^afi  : (0|0x[0-9a-f]+)$/);
  });

  it('get-feature and set-feature print nvme-cli lines; a status error prints "NVMe status"', async () => {
    expect(await ok('get-feature', addr, '-f', '7')).toMatch(/^get-feature:0x07 \(Number of Queues\), Current value:0x[0-9a-f]{8}\n$/);
    expect(await ok('get-feature', addr, '-f', '0x06', '-H')).toMatch(/^get-feature:0x06 \(Volatile Write Cache\), Current value:(0x00000001|00000000)\n\tVolatile Write Cache Enable \(WCE\): (Enabled|Disabled)\n$/);
    expect(await ok('set-feature', addr, '-f', '4', '-V', '0x157')).toBe('set-feature:0x04 (Temperature Threshold), value:0x00000157, cdw12:00000000, save:0\n');
    const fixed = await nvme('set-feature', addr, '-f', '8', '-V', '0x0102'); // QEMU does not let Interrupt Coalescing change
    expect(fixed.status).toBe(1);
    expect(fixed.stderr).toBe('NVMe status: Feature Not Changeable: The Feature Identifier is not able to be changed(0x410e)\n');
    const bad = await nvme('get-feature', addr, '-f', '0x7f'); // a reserved Feature Identifier
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/^NVMe status: Invalid Field in Command: A reserved coded value or an unsupported value in a defined field\(0x[0-9a-f]*002\)\n$/);
    const noNs = await nvme('id-ns', addr, '-n', '0xffffffff');
    expect(noNs.status).not.toBe(0);
    expect(noNs.stderr).toMatch(/^NVMe status: Invalid Namespace or Format: /);
  });

  it('write, read and compare move a file through the namespace; Compare Failure is an NVMe status', async () => {
    const data = randomBytes(8 * blockSize);
    const src = join(dir, 'src');
    const dst = join(dir, 'dst');
    writeFileSync(src, data);
    const w = await nvme('write', addr, '-n', '1', '-s', '1000', '-c', '7', '-z', String(data.length), '-d', src);
    expect(w.status).toBe(0);
    expect(w.stderr).toBe('write: Success\n');
    const r = await nvme('read', addr, '-n', '1', '-s', '1000', '-c', '7', '-z', String(data.length), '-d', dst);
    expect(r.stderr).toBe('read: Success\n');
    expect(Buffer.compare(readFileSync(dst), data)).toBe(0);
    expect((await nvme('compare', addr, '-n', '1', '-s', '1000', '-c', '7', '-z', String(data.length), '-d', src)).stderr).toBe('compare: Success\n');
    data[100] = data[100]! ^ 0xff;
    writeFileSync(src, data);
    const c = await nvme('compare', addr, '-n', '1', '-s', '1000', '-c', '7', '-z', String(data.length), '-d', src);
    expect(c.status).not.toBe(0);
    expect(c.stderr).toMatch(/^NVMe status: Compare Failure: The command failed due to a miscompare during a Compare command\(0x[0-9a-f]*285\)\n$/);
  });

  it('write-zeroes, dsm and flush complete with nvme-cli messages, and zeroes read back', async () => {
    expect(await ok('write-zeroes', addr, '-n', '1', '-s', '1000', '-c', '3')).toBe('NVME Write Zeroes Success\n');
    const dst = join(dir, 'after-zeroes');
    await ok('read', addr, '-n', '1', '-s', '1000', '-c', '7', '-z', String(8 * blockSize), '-d', dst);
    const got = readFileSync(dst);
    expect(got.subarray(0, 4 * blockSize).every((b) => b === 0)).toBe(true);
    expect(got.subarray(4 * blockSize).some((b) => b !== 0)).toBe(true); // the blocks after the range kept the random data
    expect(await ok('dsm', addr, '-n', '1', '--slbs', '2000,3000', '--blocks', '8,8', '--ad')).toBe('NVMe DSM: success\n');
    expect(await ok('flush', addr, '-n', '1')).toBe('NVMe Flush: success\n');
    expect(JSON.parse(await ok('flush', addr, '-n', '1', '-o', 'json'))).toEqual({ command: 'flush', result: 'success', nsid: 1 });
  });

  it('bad input is refused with a message and a hint before anything reaches the device', async () => {
    const nsze = SIZE / blockSize;
    const beyond = await nvme('read', addr, '-n', '1', '-s', String(nsze - 1), '-c', '1', '-z', String(2 * blockSize), '-d', join(dir, 'x'));
    expect(beyond.status).toBe(1);
    expect(beyond.stderr).toMatch(/^vfio-node: LBA \d+ \+ 2 blocks is beyond the end of namespace 1.*\n {2}hint: Valid LBAs are 0 to \d+\.\n$/);
    const tooMany = await nvme('read', addr, '-n', '1', '-c', '70000', '-z', '512');
    expect(tooMany.status).toBe(1);
    expect(tooMany.stderr).toMatch(/^vfio-node: block count too large/);
    const noNs = await nvme('id-ns', addr);
    expect(noNs.stderr).toBe("vfio-node: nvme id-ns: --namespace-id (-n) is required\n  hint: Give the namespace with -n NSID; 'vfio-node nvme list' shows the namespaces of each controller.\n");
    const noDevice = await nvme('id-ctrl', '0000:00:1f.7');
    expect(noDevice.status).toBe(1);
    expect(noDevice.stderr).toMatch(/^vfio-node: no PCI device 0000:00:1f\.7 .*\n {2}hint: /);
    const noAddr = await nvme('smart-log');
    expect(noAddr.stderr).toMatch(/^vfio-node: nvme smart-log: missing the controller's PCI address\n {2}hint: /);
  });

  it('format refuses without a terminal and without --force; with --force it erases the namespace', async () => {
    const refused = await nvme('format', addr, '-n', '1');
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^vfio-node: refusing to format .* without confirmation: there is no terminal to ask\n {2}hint: Add --force/);
    const before = join(dir, 'before-format');
    await ok('read', addr, '-n', '1', '-s', '1004', '-c', '3', '-z', String(4 * blockSize), '-d', before);
    expect(readFileSync(before).some((b) => b !== 0)).toBe(true); // still the data written above
    expect(await ok('format', addr, '-n', '1', '--ses', '1', '--force')).toBe('Success formatting namespace:1\n');
    const after = join(dir, 'after-format');
    await ok('read', addr, '-n', '1', '-s', '1004', '-c', '3', '-z', String(4 * blockSize), '-d', after);
    expect(readFileSync(after).every((b) => b === 0)).toBe(true);
    const ns = JSON.parse(await ok('id-ns', addr, '-n', '1', '-o', 'json'));
    expect(ns.nsze * blockSize).toBe(SIZE); // the format in use was kept
  });
});
