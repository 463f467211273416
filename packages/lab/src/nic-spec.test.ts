import { describe, expect, it } from 'vitest';
import { defaultNicSpec, nicDeviceProperties, parseNicSpec } from './nic-spec.js';
import { resolveOptions } from './options.js';
import { buildQemuArgs, type QemuPaths } from './qemu-args.js';

describe('parseNicSpec', () => {
  it("gives QEMU's defaults for an empty spec, and no extra device properties", () => {
    expect(parseNicSpec('')).toEqual({ packed: false, mq: false, eventIdx: true });
    expect(defaultNicSpec()).toEqual(parseNicSpec(''));
    expect(nicDeviceProperties(parseNicSpec(''))).toBe('');
  });

  it('reads every key', () => {
    expect(parseNicSpec('packed=on,mq=on,event_idx=off,rx_queue_size=1024,tx=timer,txburst=64')).toEqual({
      packed: true,
      mq: true,
      eventIdx: false,
      rxQueueSize: 1024,
      tx: 'timer',
      txBurst: 64,
    });
    expect(parseNicSpec('packed,mq=1').packed).toBe(true);
    expect(parseNicSpec('packed=off').packed).toBe(false);
  });

  it('turns a spec into virtio-net-pci properties (MQ with vectors for one pair and the config)', () => {
    expect(nicDeviceProperties(parseNicSpec('packed=on'))).toBe(',packed=on');
    expect(nicDeviceProperties(parseNicSpec('mq=on'))).toBe(',mq=on,vectors=4');
    expect(nicDeviceProperties(parseNicSpec('packed=on,mq=on,event_idx=off,rx_queue_size=512,tx=bh,txburst=32'))).toBe(
      ',packed=on,mq=on,vectors=4,event_idx=off,rx_queue_size=512,tx=bh,x-txburst=32',
    );
  });

  it('names the key that is wrong', () => {
    expect(() => parseNicSpec('queues=2')).toThrow('invalid --nic key: "queues" (expected one of packed, mq, event_idx, rx_queue_size, tx, txburst)');
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
  });
});
