// No stray QEMU: every running lab registers a synchronous kill-and-remove here, run on
// process exit and on SIGTERM/SIGHUP. Not on SIGINT: QEMU runs in a process group of its
// own, so Ctrl-C reaches only this process, whose owner decides (`lab run` passes it to
// the command in the guest); a process that does not handle SIGINT dies of it, and then
// the rule below for SIGKILL applies. (A SIGKILL of the host process cannot be
// caught: QEMU is started under `setpriv --pdeathsig SIGKILL` for that case, and run
// directories left behind are swept at the next start, see sweepStaleRunDirs.)

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

type Cleanup = () => void;
const active = new Set<Cleanup>();
const SIGNALS = ['SIGTERM', 'SIGHUP'] as const;
const SIGNO: Record<(typeof SIGNALS)[number], number> = { SIGHUP: 1, SIGTERM: 15 };

function runAll(): void {
  for (const c of [...active]) {
    try {
      c();
    } catch {
      // best effort: the others must still run
    }
  }
  active.clear();
}

function onSignal(signal: (typeof SIGNALS)[number]): void {
  runAll();
  uninstall();
  // Nobody else handles it: end the way the signal would have.
  if (process.listenerCount(signal) === 0) process.exit(128 + SIGNO[signal]);
}

const handlers = new Map<string, () => void>();
function install(): void {
  if (handlers.size) return;
  process.on('exit', runAll);
  for (const s of SIGNALS) {
    const h = () => onSignal(s);
    handlers.set(s, h);
    process.on(s, h);
  }
}

function uninstall(): void {
  process.off('exit', runAll);
  for (const [s, h] of handlers) process.off(s, h);
  handlers.clear();
}

/** Registers a synchronous cleanup; returns the function that unregisters it. */
export function registerCleanup(c: Cleanup): () => void {
  active.add(c);
  install();
  return () => {
    active.delete(c);
    if (active.size === 0) uninstall();
  };
}

export const RUN_DIR_PREFIX = 'vfio-lab-';

/** Removes run directories whose owner (the pid in their `owner` file) is gone. */
export function sweepStaleRunDirs(tmp = os.tmpdir()): void {
  let names: string[];
  try {
    names = fs.readdirSync(tmp).filter((n) => n.startsWith(RUN_DIR_PREFIX));
  } catch {
    return;
  }
  for (const n of names) {
    const dir = path.join(tmp, n);
    try {
      const pid = Number(fs.readFileSync(path.join(dir, 'owner'), 'utf8'));
      if (pid > 0 && pid !== process.pid && !alive(pid)) fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // no owner file yet, or not ours
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
