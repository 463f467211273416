// Which accelerator the lab boots with. KVM only when KVM really runs the lab's guest here:
// a /dev/kvm that opens is not enough. In a VM without nested virtualization QEMU may abort
// setting an MSR, or the guest hangs: seen here, the BIOS and the kernel's real-mode setup
// run, then the kernel hangs as it enters long mode, with nothing on the console. So `auto`
// boots the lab's own kernel and initramfs under `-accel kvm` with the lab's machine and
// CPU model and `vfiolab_probe` on the command line: /init prints a marker and powers off.
// The verdict is cached per machine, keyed by what can change it: the host kernel, QEMU,
// the CPU flags, the guest kernel and initramfs.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LabError } from './errors.js';
import { PROBE_MARKER } from './init-script.js';
import type { LabAccel } from './options.js';

/** The machine and CPU options of a KVM boot: the probe uses the lab's own (qemu-args.ts). */
export const KVM_MACHINE = 'q35,kernel-irqchip=split';
export const KVM_CPU = 'host';

/** A working KVM boots the probe to /init in a few seconds; a hung guest is killed after this. */
export const PROBE_DEADLINE_MS = 30_000;

/**
 * Which accelerator the lab uses (KVM or TCG), why, and the one line to print when KVM was wanted but cannot run
 * guests.
 */
export interface AccelDecision {
  accel: 'kvm' | 'tcg';
  /** Why, in a few words (for --verbose and errors). */
  reason: string;
  /** One line for the user when KVM is present but not used (undefined otherwise). */
  notice: string | undefined;
}

/** A probe's verdict, as cached. */
export interface ProbeVerdict {
  ok: boolean;
  /** Why it failed (QEMU's last words, a signal, the deadline), or 'ran the probe guest'. */
  reason: string;
}

/** What the decision needs from the host; tests give fakes. */
export interface AccelHost {
  /** Opens the KVM device read-write and closes it: undefined when it opened, else the errno code (ENOENT, EACCES). */
  openKvm(): string | undefined;
  /** What the verdict depends on (kernel release, QEMU version, CPU flags), as one string. */
  cacheKey(): string;
  /** The cached probe verdict for this host and kernel, if any. */
  readCache(key: string): ProbeVerdict | undefined;
  /** Caches a probe verdict. */
  writeCache(key: string, verdict: ProbeVerdict): void;
  /** Boots the probe guest under KVM. */
  probe(): ProbeVerdict;
}

/**
 * Decides the accelerator.
 * @param requested `auto`, `kvm` or `tcg` (options, --accel, or $VFIO_LAB_ACCEL)
 * @throws LabError ERR_LAB_KVM_UNUSABLE when `kvm` was asked for and KVM cannot run guests here
 */
export function chooseAccel(requested: LabAccel, host: AccelHost): AccelDecision {
  if (requested === 'tcg') return { accel: 'tcg', reason: 'software emulation was asked for', notice: undefined };
  const openError = host.openKvm();
  if (openError !== undefined) {
    const why = openError === 'ENOENT' ? 'there is no /dev/kvm' : `/dev/kvm cannot be opened (${openError})`;
    if (requested === 'kvm') throw kvmUnusable(why, openError === 'EACCES' ? 'Run as root or join the kvm group, or use --accel tcg.' : undefined);
    // No /dev/kvm at all is the ordinary case on a machine without virtualization: no notice.
    return { accel: 'tcg', reason: why, notice: openError === 'ENOENT' ? undefined : `KVM is present but ${why}: using software emulation` };
  }
  const key = host.cacheKey();
  let verdict = host.readCache(key);
  if (!verdict) {
    verdict = host.probe();
    host.writeCache(key, verdict);
  }
  if (verdict.ok) return { accel: 'kvm', reason: 'KVM ran the probe guest', notice: undefined };
  if (requested === 'kvm') throw kvmUnusable(`KVM is present but cannot run guests here (${verdict.reason})`);
  return { accel: 'tcg', reason: verdict.reason, notice: `KVM is present but cannot run guests here (${verdict.reason}): using software emulation` };
}

function kvmUnusable(why: string, hint?: string): LabError {
  return new LabError({
    code: 'ERR_LAB_KVM_UNUSABLE',
    message: `--accel kvm: ${why}`,
    hint: hint ?? 'Use --accel tcg (software emulation; VFIO_LAB_ACCEL=tcg for every command), or enable nested virtualization for this machine.',
  });
}

/** The guest the probe boots: the lab's kernel and initramfs. */
export interface ProbeGuest {
  kernel: string;
  initrd: string;
}

/** QEMU's argv for the probe (without the program), for accelerator `accel` (tests run it under tcg). */
export function probeArgs(guest: ProbeGuest, accel: 'kvm' | 'tcg' = 'kvm'): string[] {
  return [
    '-M', accel === 'kvm' ? KVM_MACHINE : 'q35',
    '-accel', accel,
    '-cpu', accel === 'kvm' ? KVM_CPU : 'max',
    '-smp', '2', '-m', '256M', '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-device', 'intel-iommu,caching-mode=on',
    '-kernel', guest.kernel, '-initrd', guest.initrd,
    '-append', 'console=ttyS0 quiet loglevel=3 intel_iommu=on iommu=pt panic=-1 vfiolab_probe',
    '-serial', 'stdio',
  ];
}

/** Boots the probe guest and reports whether it reached /init (its marker on the console). */
export function runProbe(qemu: string, guest: ProbeGuest, accel: 'kvm' | 'tcg' = 'kvm', deadlineMs = PROBE_DEADLINE_MS): ProbeVerdict {
  const r = spawnSync(qemu, probeArgs(guest, accel), { encoding: 'utf8', timeout: deadlineMs, killSignal: 'SIGKILL', stdio: ['ignore', 'pipe', 'pipe'] });
  if ((r.stdout ?? '').includes(PROBE_MARKER)) return { ok: true, reason: 'ran the probe guest' };
  const said = lastLine(`${r.stderr ?? ''}`);
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') return { ok: false, reason: `the probe guest did not reach /init within ${deadlineMs / 1000} s` };
  if (r.error) return { ok: false, reason: `QEMU did not start: ${r.error.message}` };
  if (r.signal) return { ok: false, reason: `QEMU was killed by ${r.signal}${said ? `: ${said}` : ''}` };
  return { ok: false, reason: said ? `QEMU: ${said}` : `the probe guest ended without reaching /init (QEMU exit status ${r.status})` };
}

function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  // QEMU's error line is more telling than the assertion that may follow it.
  return (lines.find((l) => /error|fail/i.test(l)) ?? lines[lines.length - 1] ?? '').slice(0, 200);
}

/**
 * The real host: /dev/kvm, QEMU's --version, /proc/cpuinfo, and a JSON file in the lab's
 * cache directory. `guest` gives the probe's kernel and initramfs (building the initramfs
 * if needed); it is not called when /dev/kvm does not open.
 */
export function systemAccelHost(qemu: string, cacheDir: string, guest: () => ProbeGuest, kvmDevice = '/dev/kvm'): AccelHost {
  const cacheFile = path.join(cacheDir, 'accel-probe.json');
  const readAll = (): Record<string, ProbeVerdict> => {
    try {
      return JSON.parse(fs.readFileSync(cacheFile, 'utf8')) as Record<string, ProbeVerdict>;
    } catch {
      return {};
    }
  };
  return {
    openKvm() {
      try {
        fs.closeSync(fs.openSync(kvmDevice, 'r+'));
        return undefined;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code ?? 'EIO';
      }
    },
    cacheKey() {
      const version = spawnSync(qemu, ['--version'], { encoding: 'utf8', timeout: 10_000 }).stdout?.split('\n')[0]?.trim() ?? 'unknown';
      let flags = '';
      try {
        flags = /^flags\s*:(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? '';
      } catch {
        // no /proc/cpuinfo: the key still has the kernel and QEMU
      }
      // 'linux-probe': verdicts of the older firmware-only probe (which a hanging KVM passed) do not count.
      return createHash('sha256').update(`linux-probe\0${os.release()}\0${version}\0${flags}\0${guest().initrd}`).digest('hex').slice(0, 24);
    },
    readCache(key) {
      const v = readAll()[key];
      return v && typeof v.ok === 'boolean' && typeof v.reason === 'string' ? v : undefined;
    },
    writeCache(key, verdict) {
      try {
        fs.mkdirSync(cacheDir, { recursive: true });
        const all = readAll();
        all[key] = verdict;
        const tmp = `${cacheFile}.${process.pid}`;
        fs.writeFileSync(tmp, `${JSON.stringify(all, null, 2)}\n`);
        fs.renameSync(tmp, cacheFile);
      } catch {
        // an unwritable cache only means probing again next time
      }
    },
    probe: () => runProbe(qemu, guest()),
  };
}
