// The lab's initramfs: busybox, the kernel modules and /init, built once per kernel
// version, init script and module list, and kept in the cache directory.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { cpioNewc, type CpioEntry } from './cpio.js';
import { findBusybox, moduleFiles, type GuestKernel } from './host.js';
import { INIT_SCRIPT, LAB_MODULES } from './init-script.js';

export interface Initramfs {
  path: string;
  /** False when it came from the cache. */
  built: boolean;
}

/**
 * Returns the cached initramfs for this kernel, building it first when needed.
 * The name carries the kernel version and a hash of /init, the module files and busybox.
 */
export function ensureInitramfs(kernel: GuestKernel, cacheDir: string): Initramfs {
  const modules = moduleFiles(kernel, LAB_MODULES);
  const busybox = findBusybox();
  const hash = createHash('sha256');
  hash.update(INIT_SCRIPT);
  for (const f of [...modules, busybox]) {
    const st = fs.statSync(f);
    hash.update(`${f}\0${st.size}\0${st.mtimeMs}\0`);
  }
  const file = path.join(cacheDir, `initramfs-${kernel.version}-${hash.digest('hex').slice(0, 16)}.cpio`);
  if (fs.existsSync(file)) return { path: file, built: false };

  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const dir = (d: string) => {
    const parts = d.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (!dirs.has(p)) {
        dirs.add(p);
        entries.push({ type: 'dir', name: p });
      }
    }
  };
  for (const d of ['bin', 'dev', 'proc', 'sys', 'lower', 'rw', 'host']) dir(d);
  entries.push({ type: 'chardev', name: 'dev/console', major: 5, minor: 1 });
  entries.push({ type: 'file', name: 'bin/busybox', data: fs.readFileSync(busybox), mode: 0o755 });
  entries.push({ type: 'file', name: 'init', data: Buffer.from(INIT_SCRIPT), mode: 0o755 });
  const list: string[] = [];
  for (const ko of modules) {
    const rel = ko.replace(/^\/+/, '');
    dir(path.dirname(rel));
    entries.push({ type: 'file', name: rel, data: fs.readFileSync(ko) });
    list.push(rel);
  }
  entries.push({ type: 'file', name: 'modules.list', data: Buffer.from(list.join('\n') + '\n') });

  fs.mkdirSync(cacheDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, cpioNewc(entries));
  fs.renameSync(tmp, file);
  return { path: file, built: true };
}
