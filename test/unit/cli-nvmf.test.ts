// `vfio-node nvmf serve` on the host with a RAM disk: its arguments are checked before
// anything opens, it prints the nvme connect line with the port it got, and SIGINT ends
// the connections and returns 0.
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { encodeICReq, PduReader, PduType, type Pdu } from '@vfio-node/nvmf';
import { run } from '../../packages/cli/src/commands/nvmf.js';

let out: string[];
let err: string[];
beforeEach(() => {
  out = [];
  err = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
});
afterEach(() => vi.restoreAllMocks());

async function rejection(p: Promise<unknown>): Promise<{ code?: string; message?: string; hint?: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: string };
  }
  throw new Error('did not reject');
}

describe('vfio-node nvmf serve', () => {
  it('without a subcommand or a bdev prints the usage and exits 2', async () => {
    expect(await run([])).toBe(2);
    expect(out.join('\n')).toMatch(/usage: vfio-node nvmf serve/);
    expect(await run(['serve'])).toBe(2);
    expect(err.join('\n')).toMatch(/name at least one bdev/);
    expect(await run(['export', 'malloc:1M'])).toBe(2);
    expect(err.join('\n')).toMatch(/unknown subcommand 'export'/);
  });

  it('refuses a bad listen address, NQN or bdev name with its code and a hint, before listening', async () => {
    expect(await rejection(run(['serve', '--listen', 'localhost:4420', 'malloc:1M']))).toMatchObject({ code: 'ERR_NVMF_ADDRESS', message: /not an IPv4 or IPv6 address/ });
    expect(await rejection(run(['serve', '--nqn', 'disk1', 'malloc:1M']))).toMatchObject({ code: 'ERR_NVMF_NQN', hint: /nqn\.YYYY-MM/ });
    expect(await rejection(run(['serve', '--allow-host', 'me', 'malloc:1M']))).toMatchObject({ code: 'ERR_NVMF_NQN' });
    expect(await rejection(run(['serve', '--listen', '127.0.0.1:0', 'disk:1G']))).toMatchObject({ code: 'ERR_BDEV_NAME' });
  });

  it('prints the nvme connect line, serves a host, and on SIGINT disconnects it and returns 0', async () => {
    const serving = run(['serve', '--listen', '127.0.0.1:0', '--nqn', 'nqn.2026-12.io.vfio-node:cli', 'malloc:1M']);
    let line: string | undefined;
    for (let i = 0; i < 100 && !line; i++) {
      await new Promise((r) => setTimeout(r, 20));
      line = out.find((l) => l.startsWith('connect with:'));
    }
    const m = /^connect with: nvme connect -t tcp -a 127\.0\.0\.1 -s (\d+) -n nqn\.2026-12\.io\.vfio-node:cli$/.exec(line ?? '');
    expect(m, out.join('\n')).not.toBeNull();
    expect(out.join('\n')).toMatch(/nsid 1: malloc:1M \(2048 blocks of 512 bytes\)/);
    const sock = net.connect({ host: '127.0.0.1', port: Number(m![1]) });
    const reader = new PduReader({ maxPlen: 4096 });
    const got: Pdu[] = [];
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.on('data', (c: Buffer) => got.push(...reader.push(c)));
    sock.write(encodeICReq());
    for (let i = 0; i < 100 && !got.length; i++) await new Promise((r) => setTimeout(r, 20));
    expect(got[0]?.type).toBe(PduType.ICResp);
    process.emit('SIGINT');
    expect(await serving).toBe(0);
    await closed;
    expect(err.join('\n')).toMatch(/SIGINT: disconnecting 1 connection\(s\) and closing the bdevs/);
    expect(err.join('\n')).toMatch(/closed$/m);
  });
});
