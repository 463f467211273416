// What the lab needs from the host, found at run time: QEMU, a guest kernel with its
// modules (the newest version present in both /boot and /lib/modules, never a fixed
// one) and a static busybox. Whether KVM can be used is accel.ts's question.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LabError, missingPackage } from './errors.js';

export interface GuestKernel {
  version: string;
  /** /boot/vmlinuz-<version>. */
  image: string;
  /** /lib/modules/<version>. */
  modulesDir: string;
}

/** Finds an executable on PATH (plus the sbin directories, where kmod's tools live). */
export function which(name: string, envPath = process.env.PATH ?? ''): string | undefined {
  const dirs = [...envPath.split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function findQemu(): string {
  const qemu = which('qemu-system-x86_64');
  if (!qemu) throw missingPackage('qemu-system-x86_64', 'qemu-system-x86');
  return qemu;
}

/** Compares Debian kernel versions such as 6.1.0-56-amd64 numerically, part by part. */
export function compareKernelVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/);
  const pb = b.split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const d = /^\d+$/.test(x) && /^\d+$/.test(y) ? Number(x) - Number(y) : x.localeCompare(y);
    if (d) return d;
  }
  return 0;
}

/**
 * The guest kernel: `version` if given, else the newest version with both a
 * /boot/vmlinuz-<version> and a /lib/modules/<version>/modules.dep.
 * @throws LabError ERR_LAB_MISSING_PACKAGE naming linux-image-amd64
 */
export function findGuestKernel(version?: string, bootDir = '/boot', modulesRoot = '/lib/modules'): GuestKernel {
  const list = (dir: string) => {
    try {
      return fs.readdirSync(dir);
    } catch {
      return [];
    }
  };
  const booted = list(bootDir)
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length));
  const usable = booted.filter((v) => fs.existsSync(path.join(modulesRoot, v, 'modules.dep'))).sort(compareKernelVersions);
  const chosen = version ?? usable[usable.length - 1];
  if (!chosen || !usable.includes(chosen)) {
    throw missingPackage(
      version ? `kernel ${version} (/boot/vmlinuz-${version} and /lib/modules/${version})` : 'a Linux kernel image with its modules (/boot/vmlinuz-* and /lib/modules/*)',
      'linux-image-amd64',
      bootDir,
    );
  }
  const image = path.join(bootDir, `vmlinuz-${chosen}`);
  try {
    fs.accessSync(image, fs.constants.R_OK);
  } catch (cause) {
    throw new LabError({
      code: 'ERR_LAB_KERNEL_UNREADABLE',
      message: `cannot read the guest kernel ${image}`,
      hint: `Run as root, or make it readable: chmod a+r ${image}`,
      path: image,
      cause,
    });
  }
  return { version: chosen, image, modulesDir: path.join(modulesRoot, chosen) };
}

/**
 * The .ko files for `modules` and their dependencies, in load order, without repeats
 * (`modprobe -S <version> --show-depends`).
 * @throws LabError naming kmod when modprobe is missing, or the module that is
 */
export function moduleFiles(kernel: GuestKernel, modules: readonly string[]): string[] {
  const modprobe = which('modprobe');
  if (!modprobe) throw missingPackage('modprobe', 'kmod');
  const files: string[] = [];
  for (const mod of modules) {
    let out: string;
    try {
      out = execFileSync(modprobe, ['-S', kernel.version, '--show-depends', mod], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (cause) {
      throw new LabError({
        code: 'ERR_LAB_MODULE_NOT_FOUND',
        message: `kernel ${kernel.version} has no module ${mod}: ${String((cause as { stderr?: unknown }).stderr ?? cause).trim()}`,
        hint: 'The lab needs a kernel built with it as a module; Debian\'s linux-image-amd64 has all of them.',
        cause,
      });
    }
    for (const line of out.split('\n')) {
      const m = /^insmod (\S+)/.exec(line);
      if (m && !files.includes(m[1]!)) files.push(m[1]!);
    }
  }
  const packed = files.find((f) => !f.endsWith('.ko'));
  if (packed) {
    throw new LabError({
      code: 'ERR_LAB_MODULE_COMPRESSED',
      message: `kernel module ${packed} is compressed; the lab's busybox insmod loads plain .ko files only`,
      hint: 'Use a kernel whose modules are not compressed (Debian 12\'s linux-image-amd64).',
      path: packed,
    });
  }
  return files;
}

/** A static busybox (busybox-static): the dynamic one cannot run in the initramfs, which has no libc. */
export function findBusybox(): string {
  for (const p of ['/bin/busybox', '/usr/bin/busybox', which('busybox')]) {
    if (p && fs.existsSync(p) && isStaticElf(p)) return p;
  }
  throw missingPackage('a statically linked busybox', 'busybox-static', '/bin/busybox');
}

/** True when the ELF file has no PT_INTERP program header (no dynamic loader). */
export function isStaticElf(file: string): boolean {
  const b = fs.readFileSync(file);
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2) return false;
  const phoff = Number(b.readBigUInt64LE(0x20));
  const phentsize = b.readUInt16LE(0x36);
  const phnum = b.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    if (b.readUInt32LE(phoff + i * phentsize) === 3 /* PT_INTERP */) return false;
  }
  return true;
}

/** $VFIO_LAB_CACHE, or ~/.cache/vfio-node/lab. */
export function defaultCacheDir(): string {
  return process.env.VFIO_LAB_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'vfio-node', 'lab');
}
