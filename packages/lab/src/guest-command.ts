// The per-boot script the guest runs (chroot'ed into the host's root, with the host's
// /bin/sh): a sane environment, the host's working directory, then exec the command.

import path from 'node:path';
import { GUEST_LAB_DIR } from './qemu-args.js';

/** Host variables handed to the command unchanged, besides every VFIO_* one. */
export const PASSED_ENV = ['CI', 'NODE_OPTIONS', 'LANG', 'LC_ALL', 'TZ', 'DEBUG', 'FORCE_COLOR', 'NO_COLOR'];

/** Quotes a word for POSIX sh. */
export function shQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The environment the command gets: PATH (the lab's bin first), HOME, TERM, the passed host variables, `extra`. */
export function guestEnvironment(hostEnv: NodeJS.ProcessEnv, extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(hostEnv)) {
    if (v !== undefined && (PASSED_ENV.includes(k) || k.startsWith('VFIO_'))) env[k] = v;
  }
  // Set by the guest's /init from what it found; a host value would be wrong inside.
  for (const k of ['VFIO_LAB', 'VFIO_LAB_NVME', 'VFIO_LAB_NICS', 'VFIO_LAB_LINK_ADDR']) delete env[k];
  const hostPath = (hostEnv.PATH ?? '').split(':').filter((p) => p.startsWith('/'));
  const std = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  env.PATH = [...new Set([`${GUEST_LAB_DIR}/bin`, ...hostPath, ...std])].join(':');
  env.HOME = hostEnv.HOME && hostEnv.HOME.startsWith('/') ? hostEnv.HOME : '/root';
  env.TERM = 'dumb';
  env.VFIO_LAB_OUT = `${GUEST_LAB_DIR}/out`;
  return { ...env, ...extra };
}

/**
 * The script /run/vfio-lab/cmd.sh.
 * @param command argv of the command (command[0] is looked up on PATH, as a shell does)
 * @param cwd the working directory (a host path, the same inside)
 * @param env from guestEnvironment()
 */
export function guestScript(command: string[], cwd: string, env: Record<string, string>): string {
  const exports = Object.entries(env)
    .filter(([k]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
    .map(([k, v]) => `export ${k}=${shQuote(v)}`);
  const name = shQuote(command[0]!);
  return [
    '# vfio-node lab: the command (packages/lab/src/guest-command.ts)',
    ...exports,
    'ulimit -l unlimited',
    `cd ${shQuote(path.resolve(cwd))} || { echo "vfio-node lab: no such directory in the guest: ${cwd.replaceAll('"', '')}" >&2; exit 126; }`,
    `command -v ${name} >/dev/null 2>&1 || { echo ${shQuote(`vfio-node lab: command not found in the guest: ${command[0]}`)} >&2; exit 127; }`,
    // The lab's /init signals this process group when the host asks (Ctrl-C): exec keeps the pid.
    'echo $$ > /run/vfio-lab.pid',
    `exec ${command.map(shQuote).join(' ')}`,
    '',
  ].join('\n');
}

/**
 * The wrapper that puts the `vfio-node` command on the guest's PATH (cli-bin.ts finds it);
 * without one installed, a script that says what to install.
 */
export function vfioNodeWrapper(cliBin: string | undefined): string {
  if (cliBin === undefined) {
    return `#!/bin/sh\necho 'vfio-node: the vfio-node command is not installed beside @vfio-node/lab (npm install vfio-node)' >&2\nexit 127\n`;
  }
  return `#!/bin/sh\nexec node ${shQuote(cliBin)} "$@"\n`;
}
