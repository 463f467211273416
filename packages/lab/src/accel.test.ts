import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chooseAccel, probeArgs, probeFirmware, runProbe, type AccelHost, type ProbeVerdict } from './accel.js';
import { findQemu } from './host.js';

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
  it('is a 64 KiB firmware whose reset vector writes to the exit port', () => {
    const fw = probeFirmware();
    expect(fw.length).toBe(65536);
    expect([...fw.subarray(0xfff0, 0xfff9)]).toEqual([0xba, 0x01, 0x05, 0xb0, 0x2a, 0xee, 0xf4, 0xeb, 0xfd]);
    expect(probeArgs('/x.bin')).toEqual(expect.arrayContaining(['-accel', 'kvm', '-cpu', 'host', '-bios', '/x.bin']));
  });

  // The same firmware under software emulation proves that the probe guest itself is right:
  // under KVM only the accelerator differs.
  it('runs to its exit port under TCG, and a missing /dev/kvm fails the KVM probe with QEMU\'s reason', () => {
    const qemu = findQemu();
    expect(runProbe(qemu, 'tcg')).toEqual({ ok: true, reason: 'ran the probe guest' });
    const kvm = runProbe(qemu, 'kvm');
    if (fs.existsSync('/dev/kvm')) expect(typeof kvm.ok).toBe('boolean');
    else expect(kvm).toMatchObject({ ok: false, reason: expect.stringMatching(/kvm/i) });
  }, 60_000);
});
