import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { PCI_COMMAND, PCI_COMMAND_MEMORY } from '@vfio-node/core';
import { VirtioNet } from '@vfio-node/virtio-net';
import { labNics } from './lab-env.js';

// Memory Space Enable cleared on a virtio-net NIC that is sending: vfio-pci takes the
// BAR's pages away, and the next notification or device_status access faults with
// SIGBUS, which used to kill the process. The native guard answers with all ones, so
// device_status reads 0xff and the driver says ERR_VIRTIO_DEVICE_GONE. In a child
// process, so that a SIGBUS fails the test instead of killing vitest. Closing the device
// lets vfio-pci reset the function: the NIC opens again for the other lab files.
// Needs a build (npx tsc -b): the child runs drivers/virtio-net/dist.

const netDist = fileURLToPath(new URL('../../drivers/virtio-net/dist/index.js', import.meta.url));
const coreDist = fileURLToPath(new URL('../../packages/core/dist/index.js', import.meta.url));

const CHILD = `
  const { VirtioNet } = await import(${JSON.stringify(netDist)});
  const { PCI_COMMAND, PCI_COMMAND_MEMORY } = await import(${JSON.stringify(coreDist)});
  const nic = VirtioNet.open(process.env.ADDR);
  const frame = new Uint8Array(64).fill(0xff, 0, 6); // broadcast
  frame.set(nic.mac, 6);
  frame[12] = 0x88; // local experimental EtherType 0x88b5 (IEEE 802)
  frame[13] = 0xb5;
  const sentBefore = nic.send([frame]);
  const before = nic.device.config.read16(PCI_COMMAND);
  nic.device.config.write16(PCI_COMMAND, before & ~PCI_COMMAND_MEMORY);
  // Sending rings the doorbell in the BAR: the first access that faults.
  let sendAfter = 'ok';
  try { nic.send([frame]); } catch (e) { sendAfter = e.code; }
  let check = 'ok';
  try { nic.checkStatus(); } catch (e) { check = e.code; }
  const summary = {
    memoryBefore: (before & PCI_COMMAND_MEMORY) !== 0,
    sentBefore, sendAfter, check,
    status: nic.status,
    received: nic.rxQueue(0).receive(),
    // The BARs (already mapped by the driver) whose mapping faulted.
    goneBars: [0, 1, 2, 3, 4, 5].filter((i) => { try { return nic.device.bar(i).gone; } catch { return false; } }),
  };
  nic.close();
  console.log('SUMMARY ' + JSON.stringify(summary));
`;

let exit: { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string };
let summary: Record<string, unknown> | null = null;

beforeAll(async () => {
  const addr = labNics()[0]!;
  exit = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], { env: { ...process.env, ADDR: addr }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const line = /^SUMMARY (.*)$/m.exec(exit.stdout);
  if (line) summary = JSON.parse(line[1]!) as Record<string, unknown>;
  if (summary) console.log(`virtio-net memory space disabled: ${JSON.stringify(summary)}`);
}, 300_000);

describe('a virtio-net NIC whose Memory Space Enable is cleared says ERR_VIRTIO_DEVICE_GONE instead of killing the process', () => {
  const why = () => `exit code ${exit.code}, signal ${exit.signal}\nstdout:\n${exit.stdout.slice(-2000)}\nstderr:\n${exit.stderr.slice(-3000)}`;

  it('survives a send after the BAR went away, reads device_status as 0xff and says ERR_VIRTIO_DEVICE_GONE', () => {
    expect(exit.signal, why()).toBeNull();
    expect(exit.code, why()).toBe(0);
    expect(summary, why()).toMatchObject({ memoryBefore: true, sentBefore: 1, check: 'ERR_VIRTIO_DEVICE_GONE', status: 0xff, received: 0 });
    expect((summary!.goneBars as number[]).length).toBeGreaterThan(0);
  });

  it('leaves the NIC usable once closed: it opens again and decodes memory', () => {
    const nic = VirtioNet.open(labNics()[0]!);
    try {
      expect(nic.device.config.read16(PCI_COMMAND) & PCI_COMMAND_MEMORY).toBe(PCI_COMMAND_MEMORY);
      expect(nic.status).not.toBe(0xff);
      expect(() => nic.checkStatus()).not.toThrow();
    } finally {
      nic.close();
    }
  });
});
