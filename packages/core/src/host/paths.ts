// Where the host's kernel interfaces live. Every host-side function takes these roots
// as options so that unit tests run against a fake tree in a temporary directory, and
// every write and every command goes through HostIo so tests can watch (and play the
// kernel's part in) what we do.

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

/** Where the host's kernel interfaces are mounted; tests point them at a fake tree. */
export interface HostRoots {
  /** sysfs mount point, default '/sys'. */
  sysfs?: string;
  /** procfs mount point, default '/proc'. */
  procfs?: string;
  /** devtmpfs mount point, default '/dev'. */
  devfs?: string;
  /** Where bind remembers each device's original driver, default '/run/vfio-node'. */
  runDir?: string;
}

/** What a program run through HostIo.exec returned. */
export interface ExecResult {
  /** Exit status (null when the program was killed by a signal or not started). */
  status: number | null;
  /** What the program printed on stdout. */
  stdout: string;
  /** What the program printed on stderr. */
  stderr: string;
  /** Set when the program could not be started (ENOENT: not installed). */
  error?: Error;
}

/**
 * How host-side functions write to sysfs/procfs and run programs; tests replace them to watch (and play the
 * kernel's part).
 */
export interface HostIo {
  /** Writes a sysfs/procfs attribute (one write(2), as `echo X > file` does). */
  write?(path: string, data: string): void;
  /** Runs a program (modprobe, mount) and waits for it. */
  exec?(file: string, args: string[]): ExecResult;
}

/** The options of every host-side function: the roots of the kernel's file systems and the I/O functions. */
export type HostOptions = HostRoots & HostIo;

/** HostOptions with every default filled in. */
export interface ResolvedHost {
  sysfs: string;
  procfs: string;
  devfs: string;
  runDir: string;
  /** Writes a sysfs/procfs attribute. */
  write(path: string, data: string): void;
  /** Runs a program and waits for it. */
  exec(file: string, args: string[]): ExecResult;
}

/** Fills in the defaults of HostOptions ('/sys', '/proc', '/dev', '/run/vfio-node', real writes and spawnSync). */
export function resolveHost(opts: HostOptions = {}): ResolvedHost {
  return {
    sysfs: opts.sysfs ?? '/sys',
    procfs: opts.procfs ?? '/proc',
    devfs: opts.devfs ?? '/dev',
    runDir: opts.runDir ?? '/run/vfio-node',
    write: opts.write ?? defaultWrite,
    exec: opts.exec ?? defaultExec,
  };
}

/**
 * Roots from the environment (VFIO_NODE_SYSFS, VFIO_NODE_PROCFS, VFIO_NODE_DEVFS,
 * VFIO_NODE_RUNDIR): the CLI uses them so that its tests can point it at a fake tree.
 */
export function hostRootsFromEnv(env: NodeJS.ProcessEnv = process.env): HostRoots {
  const roots: HostRoots = {};
  if (env.VFIO_NODE_SYSFS) roots.sysfs = env.VFIO_NODE_SYSFS;
  if (env.VFIO_NODE_PROCFS) roots.procfs = env.VFIO_NODE_PROCFS;
  if (env.VFIO_NODE_DEVFS) roots.devfs = env.VFIO_NODE_DEVFS;
  if (env.VFIO_NODE_RUNDIR) roots.runDir = env.VFIO_NODE_RUNDIR;
  return roots;
}

function defaultWrite(path: string, data: string): void {
  // sysfs attributes take the whole value in one write; no O_CREAT, no O_TRUNC needed.
  writeFileSync(path, data, { flag: 'w' });
}

function defaultExec(file: string, args: string[]): ExecResult {
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ...(r.error ? { error: r.error } : {}) };
}
