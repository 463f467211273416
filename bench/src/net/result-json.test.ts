import { describe, expect, it } from 'vitest';
import { RateMeter } from './rate.js';
import { NetResultRecorder, NET_RESULT_KEY } from './result-json.js';

describe("the packet apps' result file", () => {
  it('holds every per-second rate per port and direction, in packets and bits per second on the wire, and the summary', () => {
    const rx = { packets: 0, bytes: 0 };
    const tx = { packets: 0, bytes: 0 };
    const mrx = new RateMeter('0000:00:04.0', 'rx', rx, 0);
    const mtx = new RateMeter('0000:00:05.0', 'tx', tx, 0);
    const rec = new NetResultRecorder('fwd', ['vfio-node', 'net', 'fwd', 'a', 'b', '--output', 'f.json']);
    // Second 1: 1000 frames of 60 bytes each way; second 2: 2000.
    Object.assign(rx, { packets: 1000, bytes: 60_000 });
    Object.assign(tx, { packets: 1000, bytes: 60_000 });
    rec.add(mrx.sample(1000));
    rec.add(mtx.sample(1000));
    Object.assign(rx, { packets: 3000, bytes: 180_000 });
    rec.add(mrx.sample(2000));
    const doc = rec.json([{ from: 'a', to: 'b', packets: 3000 }], new Date('2026-12-03T10:00:00Z'));
    const net = doc[NET_RESULT_KEY] as Record<string, any>;
    expect(net.app).toBe('fwd');
    expect(net.version).toBe(1);
    expect(net.time).toBe('2026-12-03T10:00:00.000Z');
    expect(net.command).toEqual(['vfio-node', 'net', 'fwd', 'a', 'b', '--output', 'f.json']);
    // (60 + 24) bytes * 8 bits per frame on the wire.
    expect(net.rates).toEqual([
      { t: 1, port: '0000:00:04.0', dir: 'rx', packets: 1000, bytes: 60_000, pps: 1000, bps: 1000 * 84 * 8 },
      { t: 1, port: '0000:00:05.0', dir: 'tx', packets: 1000, bytes: 60_000, pps: 1000, bps: 1000 * 84 * 8 },
      { t: 2, port: '0000:00:04.0', dir: 'rx', packets: 2000, bytes: 120_000, pps: 2000, bps: 2000 * 84 * 8 },
    ]);
    expect(net.summary).toEqual([{ from: 'a', to: 'b', packets: 3000 }]);
    // It is plain JSON.
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
  });
});
