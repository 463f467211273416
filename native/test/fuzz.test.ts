// A seeded fuzz of every native export in a child process (children/fuzz.mjs): about 20 s
// by default, VFIO_NODE_FUZZ_SECONDS for longer, VFIO_NODE_FUZZ_SEED to replay a run. Any
// exit by a signal fails the test and names the last call the child logged.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeExit, runChild } from './child.js';

const seconds = Number(process.env.VFIO_NODE_FUZZ_SECONDS ?? 20);
const seed = Number(process.env.VFIO_NODE_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 32));

describe('fuzzing the native exports', () => {
  it(`survives random calls to every export, method and accessor (seed ${seed})`, async () => {
    console.log(`native fuzz: seed ${seed}, ${seconds} s (replay with VFIO_NODE_FUZZ_SEED=${seed})`);
    const dir = mkdtempSync(join(tmpdir(), 'vfio-node-fuzz-log-'));
    const log = join(dir, 'calls.log');
    try {
      // --expose-gc: the child collects now and then, so that finalizers run among the calls.
      const r = await runChild('fuzz.mjs', [String(seed), String(seconds), log], {}, (seconds + 120) * 1000, ['--expose-gc']);
      const lines = readFileSync(log, 'utf8').trimEnd().split('\n');
      const last = lines.at(-1) ?? '(nothing logged)';
      const context = `seed ${seed}; last call: ${last}\n${describeExit(r)}`;
      expect(r.signal, `the child died by ${r.signal} during: ${last}\n${context}`).toBeNull();
      expect(r.code, context).toBe(0);
      expect(r.result, context).toMatchObject({ seed });
      expect(r.result!.calls as number, context).toBeGreaterThan(100);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, (seconds + 180) * 1000);
});
