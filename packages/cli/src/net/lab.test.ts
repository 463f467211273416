// The script `vfio-node net pktgen|count|fwd` runs in the lab when no address is given, run
// here on the host with a stand-in `vfio-node` on the PATH that records each call: which
// NIC each app gets, that the partner starts first and is stopped at the end, that the
// app's exit status is the script's, and that the user's words arrive intact.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LAB_DEFAULT_SECONDS, LAB_OUTPUT_NAME, planNetInLab } from './lab.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'net-lab-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The stand-in: an app given --duration is the user's (exits with $MAIN_STATUS); any other
// is a partner, which runs until SIGTERM. count says "ready" on stderr, and pktgen prints
// a per-second line, as the real ones do when they are up.
writeFileSync(
  path.join(dir, 'vfio-node'),
  `#!/bin/sh
printf '%s\\n' "$*" >> "$CALLS"
[ "$2" = count ] && echo "count $3: ready" >&2
case "$*" in
  *--duration*) sleep 0.2; exit "$MAIN_STATUS" ;;
esac
trap 'echo "stopped $2" >> "$CALLS"; exit 0' TERM
[ "$2" = pktgen ] && echo '{"type":"rate"}'
while :; do sleep 0.05; done
`,
);
chmodSync(path.join(dir, 'vfio-node'), 0o755);

function runScript(script: string, mainStatus = 0): { status: number | null; calls: string[]; stderr: string } {
  const calls = path.join(dir, `calls-${Math.random().toString(36).slice(2)}`);
  writeFileSync(calls, '');
  const r = spawnSync('sh', ['-c', script], {
    encoding: 'utf8',
    env: { PATH: `${dir}:${process.env.PATH}`, VFIO_LAB_NICS: '0000:00:04.0 0000:00:05.0', VFIO_LAB_OUT: dir, CALLS: calls, MAIN_STATUS: String(mainStatus) },
  });
  return { status: r.status, calls: readFileSync(calls, 'utf8').trim().split('\n'), stderr: r.stderr };
}

const none = () => false;

describe('net apps in the lab (no PCI address)', () => {
  it('pktgen: a count on the other NIC drains it, started first and stopped after; 10 s unless told', () => {
    const plan = planNetInLab('pktgen', ['--size=128'], none, true);
    expect(plan.notices.join('\n')).toMatch(`no --duration: ${LAB_DEFAULT_SECONDS} s`);
    const r = runScript(plan.script);
    expect(r.status).toBe(0);
    expect(r.calls).toEqual([
      'net count 0000:00:05.0 --json',
      `net pktgen 0000:00:04.0 --size=128 --duration ${LAB_DEFAULT_SECONDS} --output=${dir}/${LAB_OUTPUT_NAME}`,
      'stopped count',
    ]);
  });

  it("count: a pktgen partner on the first NIC, then the user's count on the second once pktgen sends; count's status is the script's", () => {
    const plan = planNetInLab('count', ['--duration=2', '--queues=1'], (n) => n === 'duration', false);
    expect(plan.notices).toHaveLength(1); // only where it runs
    const r = runScript(plan.script, 3);
    expect(r.status).toBe(3);
    expect(r.calls).toEqual(['net pktgen 0000:00:04.0 --json', 'net count 0000:00:05.0 --duration=2 --queues=1', 'stopped pktgen']);
  });

  it('fwd: both NICs, frames sent first, the words of the user intact', () => {
    const plan = planNetInLab('fwd', ["--mtu=1500", "--batch=it's"], none, false);
    const r = runScript(plan.script);
    expect(r.status).toBe(0);
    expect(r.calls).toEqual([`net fwd 0000:00:04.0 0000:00:05.0 --mtu=1500 --batch=it's --duration ${LAB_DEFAULT_SECONDS} --tx-first 32`]);
  });

  it('a partner that never says ready fails the script with what it printed', () => {
    const plan = planNetInLab('pktgen', ['--duration=1'], (n) => n === 'duration', false);
    const r = runScript(plan.script.replace('vfio-node net count', 'sh -c "echo no NIC >&2; exit 1"; : '));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('the partner app (count) did not start');
    expect(r.stderr).toContain('no NIC');
  });
});
