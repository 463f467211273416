import { describe, expect, it } from 'vitest';
import { defaultNicSpec, nicDeviceProperties, parseNicSpec } from './nic-spec.js';
import { resolveOptions } from './options.js';
import { buildQemuArgs, type QemuPaths } from './qemu-args.js';

describe('parseNicSpec', () => {
  it("gives QEMU's defaults for an empty spec, and no extra device properties", () => {
    expect(parseNicSpec('')).toEqual({ backend: 'hub', queues: 1, packed: false, mq: false, eventIdx: true });
    expect(defaultNicSpec()).toEqual(parseNicSpec(''));
    expect(nicDeviceProperties(parseNicSpec(''))).toBe('');
  });

  it('reads every key', () => {
    expect(parseNicSpec('packed=on,mq=on,event_idx=off,rx_queue_size=1024,tx=timer,txburst=64')).toEqual({
      backend: 'hub',
      queues: 1,
      packed: true,
      mq: true,
      eventIdx: false,
      rxQueueSize: 1024,
      tx: 'timer',
      txBurst: 64,
    });
    expect(parseNicSpec('packed,mq=1').packed).toBe(true);
    expect(parseNicSpec('packed=off').packed).toBe(false);
    expect(parseNicSpec('backend=tap,queues=2')).toEqual({ backend: 'tap', queues: 2, packed: false, mq: false, eventIdx: true });
    expect(parseNicSpec('backend=tap')).toMatchObject({ backend: 'tap', queues: 1 });
  });

  it('gives a tap with N queues mq=on and 2N + 2 vectors (one per queue, one for config and control)', () => {
    expect(nicDeviceProperties(parseNicSpec('backend=tap,queues=2'))).toBe(',mq=on,vectors=6');
    expect(nicDeviceProperties(parseNicSpec('backend=tap,queues=8,packed=on'))).toBe(',packed=on,mq=on,vectors=18');
    expect(nicDeviceProperties(parseNicSpec('backend=tap'))).toBe('');
    expect(nicDeviceProperties(parseNicSpec('backend=tap,mq=on'))).toBe(',mq=on,vectors=4');
  });

  it('refuses several queues behind a hub port, naming the key and saying what to do', () => {
    let err: unknown;
    try {
      parseNicSpec('queues=2');
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ERR_INVALID_ARG', message: 'invalid --nic queues: 2 (expected 1 with backend=hub)' });
    expect((err as { hint: string }).hint).toContain('backend=tap');
    expect(() => parseNicSpec('backend=tap,queues=9')).toThrow('invalid --nic queues: 9 (expected an integer from 1 to 8)');
    expect(() => parseNicSpec('backend=tap,queues=0')).toThrow('invalid --nic queues: 0');
    expect(() => parseNicSpec('backend=vhost')).toThrow('invalid --nic backend: "vhost" (expected hub or tap)');
  });

  it('turns a spec into virtio-net-pci properties (MQ with vectors for one pair and the config)', () => {
    expect(nicDeviceProperties(parseNicSpec('packed=on'))).toBe(',packed=on');
    expect(nicDeviceProperties(parseNicSpec('mq=on'))).toBe(',mq=on,vectors=4');
    expect(nicDeviceProperties(parseNicSpec('packed=on,mq=on,event_idx=off,rx_queue_size=512,tx=bh,txburst=32'))).toBe(
      ',packed=on,mq=on,vectors=4,event_idx=off,rx_queue_size=512,tx=bh,x-txburst=32',
    );
  });

  it('names the key that is wrong', () => {
    expect(() => parseNicSpec('rings=2')).toThrow('invalid --nic key: "rings" (expected one of backend, queues, packed, mq, event_idx, rx_queue_size, tx, txburst)');
    expect(() => parseNicSpec('packed=yes')).toThrow('invalid --nic packed: "yes" (expected on or off)');
    expect(() => parseNicSpec('rx_queue_size=300')).toThrow(/--nic rx_queue_size: 300 \(expected 256, 512 or 1024\)/);
    expect(() => parseNicSpec('rx_queue_size=big')).toThrow(/--nic rx_queue_size: "big"/);
    expect(() => parseNicSpec('tx=sometimes')).toThrow(/--nic tx: "sometimes" \(expected bh or timer\)/);
    expect(() => parseNicSpec('txburst=0')).toThrow(/--nic txburst: 0/);
  });
});

describe('NIC options in a lab boot', () => {
  const paths: QemuPaths = {
    kernel: '/k',
    initrd: '/i',
    runDir: '/r',
    qmpSocket: '/r/q',
    accel: 'tcg',
    serials: { console: '/r/c', stdout: '/r/o', stderr: '/r/e' },
  };
  const devices = (o: Parameters<typeof resolveOptions>[0]) => buildQemuArgs(resolveOptions(o), paths).filter((a) => a.startsWith('virtio-net-pci'));

  it('gives every NIC the spec, from a string or an object', () => {
    expect(devices({ nvme: [], nics: 2, nic: 'packed=on,mq=on' })).toEqual([
      'virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,disable-legacy=on,iommu_platform=on,packed=on,mq=on,vectors=4',
      'virtio-net-pci,netdev=net1,mac=52:54:00:12:34:57,disable-legacy=on,iommu_platform=on,packed=on,mq=on,vectors=4',
    ]);
    expect(devices({ nvme: [], nics: 1, nic: { packed: true } })).toEqual(['virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,disable-legacy=on,iommu_platform=on,packed=on']);
    expect(resolveOptions({}).nic).toEqual(defaultNicSpec());
  });

  it('checks an object spec as it checks a string', () => {
    expect(() => resolveOptions({ nic: { rxQueueSize: 100 } })).toThrow(/--nic rx_queue_size: 100/);
    expect(() => resolveOptions({ nic: { queues: 2 } })).toThrow(/--nic queues: 2/);
  });

  it('puts each NIC on a tap of its own with backend=tap: queues, no scripts, no vhost', () => {
    const args = buildQemuArgs(resolveOptions({ nvme: [], nics: 2, nic: 'backend=tap,queues=2' }), paths);
    expect(args.slice(-8)).toEqual([
      '-netdev', 'tap,id=net0,ifname=vltap0,script=no,downscript=no,queues=2,vhost=off',
      '-device', 'virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,disable-legacy=on,iommu_platform=on,mq=on,vectors=6',
      '-netdev', 'tap,id=net1,ifname=vltap1,script=no,downscript=no,queues=2,vhost=off',
      '-device', 'virtio-net-pci,netdev=net1,mac=52:54:00:12:34:57,disable-legacy=on,iommu_platform=on,mq=on,vectors=6',
    ]);
    const one = buildQemuArgs(resolveOptions({ nvme: [], nics: 1, nic: { backend: 'tap' } }), paths);
    expect(one).toContain('tap,id=net0,ifname=vltap0,script=no,downscript=no,vhost=off');
    expect(one.some((a) => a.startsWith('hubport'))).toBe(false);
  });
});
