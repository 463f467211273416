// Where a run happened, recorded in our JSON results ("vfio-node environment") so that a
// report made later, elsewhere, can say it: the machine, its kernel, Node, the commit of
// vfio-node, and inside the lab, the lab's accelerator, QEMU and the host under the guest
// (the lab passes those in VFIO_LAB_* variables; see packages/lab/src/lab.ts).

import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let commit: string | null | undefined;

/** The commit of this checkout (git rev-parse), or null outside a git checkout. Asked once. */
function checkoutCommit(): string | null {
  if (commit !== undefined) return commit;
  const git = (...args: string[]): string =>
    execFileSync('git', args, {
      cwd: dirname(fileURLToPath(import.meta.url)),
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'ignore'],
      // In the lab the checkout is the host's, shared into the guest: another owner to git.
      env: { ...process.env, GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'safe.directory', GIT_CONFIG_VALUE_0: '*', GIT_OPTIONAL_LOCKS: '0' },
    }).trim();
  try {
    // Only vfio-node's own checkout: an installed package may sit inside someone else's repository.
    const top = git('rev-parse', '--show-toplevel');
    if (!existsSync(join(top, 'bench', 'src', 'environment.ts'))) return (commit = null);
    const dirty = git('status', '--porcelain', '--untracked-files=no');
    commit = `${git('rev-parse', '--short=12', 'HEAD')}${dirty ? ' (with uncommitted changes)' : ''}`;
  } catch {
    commit = null; // not a git checkout (an installed package), or no git
  }
  return commit;
}

/** The facts about this run's machine, for the JSON results. */
export function runEnvironment(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const cpus = os.cpus();
  const facts: Record<string, string> = {
    machine: `${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} CPU${cpus.length === 1 ? '' : 's'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
  };
  if (env.VFIO_LAB === '1') {
    facts.lab = `QEMU guest of vfio-node's lab${env.VFIO_LAB_ACCEL_USED ? `, ${env.VFIO_LAB_ACCEL_USED === 'tcg' ? 'software emulation (TCG)' : 'KVM'}` : ''}`;
    if (env.VFIO_LAB_QEMU) facts.qemu = env.VFIO_LAB_QEMU;
    if (env.VFIO_LAB_HOST_MACHINE) facts['lab host'] = env.VFIO_LAB_HOST_MACHINE;
  }
  const c = checkoutCommit();
  if (c) facts['vfio-node commit'] = c;
  return facts;
}
