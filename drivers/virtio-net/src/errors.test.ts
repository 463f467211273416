import { describe, expect, it } from 'vitest';
import { deviceStatusError } from './errors.js';
import { DeviceStatus, describeStatus } from './registers.js';

describe('device_status problems (virtio 1.2 §2.1)', () => {
  it('all ones: the device vanished', () => {
    const e = deviceStatusError('0000:00:04.0', 0xff);
    expect(e).toMatchObject({ code: 'ERR_VIRTIO_DEVICE_GONE', device: '0000:00:04.0' });
    expect(e?.message).toMatch(/reads all ones/);
  });
  it('DEVICE_NEEDS_RESET: the device must be reset, named in the message', () => {
    const e = deviceStatusError('0000:00:04.0', DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK | DeviceStatus.DEVICE_NEEDS_RESET);
    expect(e).toMatchObject({ code: 'ERR_VIRTIO_NEEDS_RESET' });
    expect(e?.message).toContain('ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK|DEVICE_NEEDS_RESET (0x4f)');
    expect(e?.hint).toMatch(/Close and open/);
  });
  it('a healthy device: no error', () => {
    expect(deviceStatusError('0000:00:04.0', 0x0f)).toBeUndefined();
    expect(describeStatus(0)).toBe('0 (reset)');
  });
});
