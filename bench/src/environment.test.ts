import { describe, expect, it } from 'vitest';
import { runEnvironment } from './environment.js';
import { environmentFromFioJson } from './report-html/data.js';

describe('the run environment in our JSON results', () => {
  it('names the machine, kernel and Node; inside the lab also the accelerator, QEMU and the host under the guest', () => {
    const lab = runEnvironment({ VFIO_LAB: '1', VFIO_LAB_ACCEL_USED: 'tcg', VFIO_LAB_QEMU: 'QEMU emulator version 7.2.22', VFIO_LAB_HOST_MACHINE: 'AMD EPYC, 2 CPUs, Linux 6.1.0' });
    expect(lab.machine).toMatch(/\d+ CPUs?, \d+ GiB$/);
    expect(lab.kernel).toMatch(/^Linux /);
    expect(lab.node).toBe(process.version);
    expect(lab.lab).toBe("QEMU guest of vfio-node's lab, software emulation (TCG)");
    expect(lab.qemu).toBe('QEMU emulator version 7.2.22');
    expect(lab['lab host']).toBe('AMD EPYC, 2 CPUs, Linux 6.1.0');
    // This test runs in a git checkout: the commit is named.
    expect(lab['vfio-node commit']).toMatch(/^[0-9a-f]{12}/);
    const host = runEnvironment({});
    expect(host.lab).toBeUndefined();
    expect(host.qemu).toBeUndefined();
  });

  it('is what the report shows under "Where it ran"', () => {
    const env = environmentFromFioJson({ 'fio version': 'vfio-node-0.1.0', 'vfio-node environment': runEnvironment({ VFIO_LAB: '1', VFIO_LAB_ACCEL_USED: 'kvm' }) });
    expect(env['written by']).toBe('vfio-node-0.1.0');
    expect(env.lab).toBe("QEMU guest of vfio-node's lab, KVM");
    expect(env.node).toBe(process.version);
  });
});
