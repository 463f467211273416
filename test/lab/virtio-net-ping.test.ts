import { execFile } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { respond, type RespondCounts } from '../../bench/src/net/respond.js';
import { labNics } from './lab-env.js';

const run = promisify(execFile);
const IP_KERNEL = '10.77.0.1';
const IP_USER = '10.77.0.2';

/** Gives the NIC back to the kernel's virtio_net (the lab bound it to vfio-pci) and returns its interface name. */
async function giveToKernel(address: string): Promise<string> {
  const dev = `/sys/bus/pci/devices/${address}`;
  writeFileSync(`${dev}/driver_override`, '\n'); // empty: any driver may take it
  writeFileSync('/sys/bus/pci/drivers/vfio-pci/unbind', address);
  writeFileSync('/sys/bus/pci/drivers_probe', address);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const virtio = existsSync(dev) ? readdirSync(dev).find((e) => /^virtio\d+$/.test(e)) : undefined;
    const netDir = virtio && `${dev}/${virtio}/net`;
    if (netDir && existsSync(netDir)) {
      const [ifname] = readdirSync(netDir);
      if (ifname) return ifname;
    }
    if (Date.now() > deadline) throw new Error(`virtio_net did not take ${address} within 20 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the kernel pings a NIC driven by vfio-node running the ARP/ICMP responder', () => {
  const [user, kernel] = labNics();
  let ifname = '';
  let responder: Promise<RespondCounts>;
  const ac = new AbortController();

  beforeAll(async () => {
    ifname = await giveToKernel(kernel!);
    await run('ip', ['addr', 'add', `${IP_KERNEL}/24`, 'dev', ifname]);
    await run('ip', ['link', 'set', ifname, 'up']);
    let ready!: () => void;
    const up = new Promise<void>((r) => (ready = r));
    responder = respond({ address: user!, ip: IP_USER, signal: ac.signal, onReady: () => ready() });
    await Promise.race([up, responder]);
  });
  afterAll(async () => {
    ac.abort();
    await responder?.catch(() => undefined);
    // Hand the NIC back to vfio-pci, as the lab left it, for the tests that follow.
    const dev = `/sys/bus/pci/devices/${kernel}`;
    writeFileSync(`${dev}/driver_override`, 'vfio-pci');
    if (existsSync(`${dev}/driver`)) writeFileSync(`${dev}/driver/unbind`, kernel!);
    writeFileSync('/sys/bus/pci/drivers_probe', kernel!);
  });

  it('ping gets three replies', async () => {
    const { stdout } = await run('busybox', ['ping', '-c', '3', '-W', '10', IP_USER], { timeout: 60_000 });
    expect(stdout).toMatch(/3 packets transmitted, 3 packets received/);
  });

  it('the responder answered ARP and three echo requests, and the kernel learned our MAC', async () => {
    ac.abort();
    const counts = await responder;
    expect(counts.arpReplies).toBeGreaterThanOrEqual(1);
    expect(counts.echoReplies).toBe(3);
    const { stdout } = await run('ip', ['neigh', 'show', 'dev', ifname]);
    expect(stdout).toMatch(new RegExp(`${IP_USER.replace(/\./g, '\\.')} lladdr 52:54:00:12:34:5`));
  });
});
