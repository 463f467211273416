// Which accelerator the lab boots with. KVM only when KVM really runs a guest here: a
// /dev/kvm that opens is not enough (a VM without nested virtualization has one, and QEMU
// then aborts setting an MSR, or the guest hangs after the BIOS). So `auto` boots a
// 64 KiB firmware under `-accel kvm` with the lab's own machine and CPU model; it writes
// one byte to QEMU's isa-debug-exit port, which ends QEMU with a known status. The verdict
// is cached per machine, keyed by what can change it: the host kernel, QEMU, the CPU flags.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LabError } from './errors.js';
import type { LabAccel } from './options.js';

/** The machine and CPU options of a KVM boot: the probe uses the lab's own (qemu-args.ts). */
export const KVM_MACHINE = 'q35,kernel-irqchip=split';
export const KVM_CPU = 'host';

/** The probe guest writes this byte to port 0x501; isa-debug-exit makes QEMU exit with (byte << 1) | 1. */
const PROBE_BYTE = 0x2a;
export const PROBE_EXIT_STATUS = (PROBE_BYTE << 1) | 1;
/** A working KVM runs the probe in well under a second; a hung guest is killed after this. */
export const PROBE_DEADLINE_MS = 10_000;

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

/** The probe firmware: 64 KiB, its reset vector (offset 0xfff0) runs `mov dx,0x501; mov al,0x2a; out dx,al; hlt; jmp hlt`. */
export function probeFirmware(): Buffer {
  const image = Buffer.alloc(64 * 1024);
  Buffer.from([0xba, 0x01, 0x05, 0xb0, PROBE_BYTE, 0xee, 0xf4, 0xeb, 0xfd]).copy(image, 0xfff0);
  return image;
}

/** QEMU's argv for the probe (without the program), for accelerator `accel` (tests run it under tcg). */
export function probeArgs(firmware: string, accel: 'kvm' | 'tcg' = 'kvm'): string[] {
  return [
    '-M', accel === 'kvm' ? KVM_MACHINE : 'q35',
    '-accel', accel,
    '-cpu', accel === 'kvm' ? KVM_CPU : 'max',
    '-m', '16M', '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-bios', firmware,
    '-device', 'isa-debug-exit,iobase=0x501,iosize=2',
  ];
}

/** Boots the probe firmware and reports whether the guest ran to its exit port. */
export function runProbe(qemu: string, accel: 'kvm' | 'tcg' = 'kvm', deadlineMs = PROBE_DEADLINE_MS): ProbeVerdict {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vfio-lab-probe-'));
  try {
    const firmware = path.join(dir, 'probe.bin');
    fs.writeFileSync(firmware, probeFirmware());
    const r = spawnSync(qemu, probeArgs(firmware, accel), { encoding: 'utf8', timeout: deadlineMs, killSignal: 'SIGKILL', stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.status === PROBE_EXIT_STATUS) return { ok: true, reason: 'ran the probe guest' };
    const said = lastLine(`${r.stderr ?? ''}\n${r.stdout ?? ''}`);
    if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') return { ok: false, reason: `the probe guest did not finish within ${deadlineMs / 1000} s` };
    if (r.error) return { ok: false, reason: `QEMU did not start: ${r.error.message}` };
    if (r.signal) return { ok: false, reason: `QEMU was killed by ${r.signal}${said ? `: ${said}` : ''}` };
    return { ok: false, reason: said ? `QEMU: ${said}` : `QEMU exited with status ${r.status}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  // QEMU's error line is more telling than the assertion that may follow it.
  return (lines.find((l) => /error|fail/i.test(l)) ?? lines[lines.length - 1] ?? '').slice(0, 200);
}

/** The real host: /dev/kvm, QEMU's --version, /proc/cpuinfo, and a JSON file in the lab's cache directory. */
export function systemAccelHost(qemu: string, cacheDir: string, kvmDevice = '/dev/kvm'): AccelHost {
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
      return createHash('sha256').update(`${os.release()}\0${version}\0${flags}`).digest('hex').slice(0, 24);
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
    probe: () => runProbe(qemu),
  };
}
