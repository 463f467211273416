import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chooseAccel, probeArgs, runProbe, type AccelHost, type ProbeVerdict } from './accel.js';
import { defaultCacheDir, findGuestKernel, findQemu } from './host.js';
import { INIT_SCRIPT, PROBE_MARKER } from './init-script.js';
import { ensureInitramfs } from './initramfs.js';

/** A fake host: what /dev/kvm does, what the probe would say, and a cache in memory. */
function fakeHost(openKvm: string | undefined, probe: ProbeVerdict, cache = new Map<string, ProbeVerdict>()) {
  const calls = { probes: 0 };
  const host: AccelHost = {
    openKvm: () => openKvm,
    cacheKey: () => 'key-1',
    readCache: (k) => cache.get(k),
    writeCache: (k, v) => void cache.set(k, v),
    probe: () => {
      calls.probes++;
      return probe;
    },
  };
  return { host, calls, cache };
}

const works: ProbeVerdict = { ok: true, reason: 'ran the probe guest' };
const broken: ProbeVerdict = { ok: false, reason: 'QEMU: error: failed to set MSR 0x10a to 0x69' };

describe('the accelerator decision', () => {
  it('no /dev/kvm: TCG without a probe and without a notice', () => {
    const { host, calls } = fakeHost('ENOENT', works);
    const d = chooseAccel('auto', host);
    expect(d).toMatchObject({ accel: 'tcg', notice: undefined });
    expect(d.reason).toMatch(/no \/dev\/kvm/);
    expect(calls.probes).toBe(0);
  });

  it('/dev/kvm opens but cannot run guests: TCG, with one line that says why, and the verdict cached', () => {
    const { host, calls, cache } = fakeHost(undefined, broken);
    const d = chooseAccel('auto', host);
    expect(d.accel).toBe('tcg');
    expect(d.notice).toBe('KVM is present but cannot run guests here (QEMU: error: failed to set MSR 0x10a to 0x69): using software emulation');
    expect(cache.get('key-1')).toEqual(broken);
    chooseAccel('auto', host);
    expect(calls.probes).toBe(1); // the second decision came from the cache
  });

  it('KVM that runs the probe guest is chosen, and the probe runs once per cache key', () => {
    const { host, calls } = fakeHost(undefined, works);
    expect(chooseAccel('auto', host)).toMatchObject({ accel: 'kvm', notice: undefined });
    expect(chooseAccel('kvm', host).accel).toBe('kvm');
    expect(calls.probes).toBe(1);
  });

  it('--accel kvm where KVM cannot run guests fails at once with the reason and the hint --accel tcg', () => {
    const { host } = fakeHost(undefined, broken);
    expect(() => chooseAccel('kvm', host)).toThrow(expect.objectContaining({ code: 'ERR_LAB_KVM_UNUSABLE', message: expect.stringMatching(/cannot run guests here \(QEMU: error: failed to set MSR/), hint: expect.stringMatching(/--accel tcg/) }));
    const none = fakeHost('ENOENT', works).host;
    expect(() => chooseAccel('kvm', none)).toThrow(expect.objectContaining({ code: 'ERR_LAB_KVM_UNUSABLE', message: expect.stringMatching(/no \/dev\/kvm/) }));
  });

  it('/dev/kvm that cannot be opened: TCG with a notice; kvm asked for names the permission fix', () => {
    const { host } = fakeHost('EACCES', works);
    expect(chooseAccel('auto', host)).toMatchObject({ accel: 'tcg', notice: expect.stringMatching(/EACCES.*software emulation/) });
    expect(() => chooseAccel('kvm', host)).toThrow(expect.objectContaining({ hint: expect.stringMatching(/kvm group/) }));
  });

  it('tcg asked for: no look at /dev/kvm', () => {
    const { host, calls } = fakeHost(undefined, works);
    expect(chooseAccel('tcg', host).accel).toBe('tcg');
    expect(calls.probes).toBe(0);
  });
});

describe('the probe guest', () => {
  it('boots the lab kernel and initramfs with the lab machine and CPU model, asking /init only for its marker', () => {
    const args = probeArgs({ kernel: '/k', initrd: '/i' });
    expect(args).toEqual(expect.arrayContaining(['-accel', 'kvm', '-cpu', 'host', '-kernel', '/k', '-initrd', '/i', '-device', 'intel-iommu,caching-mode=on']));
    expect(args[args.indexOf('-append') + 1]).toMatch(/(^| )vfiolab_probe( |$)/);
    expect(INIT_SCRIPT).toContain(`*" vfiolab_probe "*) echo ${PROBE_MARKER}; poweroff -f`);
  });

  // The same guest under software emulation proves that the probe itself is right: under
  // KVM only the accelerator differs. A missing kernel file is QEMU's error, reported.
  it('reaches /init under TCG; a guest that cannot start is a failed verdict with QEMU\'s words; a missing /dev/kvm fails the KVM probe', () => {
    const qemu = findQemu();
    const kernel = findGuestKernel();
    const guest = { kernel: kernel.image, initrd: ensureInitramfs(kernel, defaultCacheDir()).path };
    // Generous: a TCG boot to /init takes seconds, a loaded 2-core machine several times that.
    expect(runProbe(qemu, guest, 'tcg', 240_000)).toEqual({ ok: true, reason: 'ran the probe guest' });
    expect(runProbe(qemu, { ...guest, kernel: '/nonexistent/vmlinuz' }, 'tcg')).toMatchObject({ ok: false, reason: expect.stringMatching(/QEMU: .*vmlinuz/) });
    if (!fs.existsSync('/dev/kvm')) expect(runProbe(qemu, guest, 'kvm')).toMatchObject({ ok: false, reason: expect.stringMatching(/kvm/i) });
  }, 300_000);
});
