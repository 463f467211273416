import { describe, expect, it } from 'vitest';
import { toJson } from './json.js';
import { smartLogJson, smartLogNormal } from './smart-log.js';

function smart(): Uint8Array {
  const b = new Uint8Array(512);
  const v = new DataView(b.buffer);
  b[0] = 0x04; // critical warning: reliability degraded
  v.setUint16(1, 323, true); // 50 °C
  b[3] = 100; // available spare
  b[4] = 10; // threshold
  b[5] = 2; // percentage used
  v.setBigUint64(32, 1234n, true); // data units read
  v.setBigUint64(48, 0n, true);
  v.setBigUint64(56, 1n, true); // data units written: 2^64 (the high half of the 128-bit counter)
  v.setBigUint64(64, 40_000n, true); // host read commands
  v.setBigUint64(112, 7n, true); // power cycles
  v.setBigUint64(144, 3n, true); // unsafe shutdowns
  v.setBigUint64(176, 5n, true); // error log entries
  v.setUint16(202, 310, true); // temperature sensor 2
  return b;
}

describe('smart-log in nvme-cli shapes', () => {
  it('prints the normal output with nvme-cli labels, tabs and units', () => {
    const lines = smartLogNormal(smart(), '0000:00:03.0', 0xffffffff).split('\n');
    expect(lines.slice(0, 7)).toEqual([
      'Smart Log for NVME device:0000:00:03.0 namespace-id:ffffffff',
      'critical_warning\t\t\t: 0x4',
      'temperature\t\t\t\t: 50 °C (323 K, 122 °F)',
      'available_spare\t\t\t\t: 100%',
      'available_spare_threshold\t\t: 10%',
      'percentage_used\t\t\t\t: 2%',
      'endurance group critical warning summary: 0',
    ]);
    expect(lines).toContain('Data Units Read\t\t\t\t: 1234 (631.81 MB)');
    expect(lines).toContain('Data Units Written\t\t\t: 18446744073709551616 (9.44 YB)');
    expect(lines).toContain('host_read_commands\t\t\t: 40000');
    expect(lines).toContain('power_cycles\t\t\t\t: 7');
    expect(lines).toContain('unsafe_shutdowns\t\t\t: 3');
    expect(lines).toContain('num_err_log_entries\t\t\t: 5');
    expect(lines).toContain('Temperature Sensor 2\t\t\t: 37 °C (310 K, 98 °F)');
    expect(lines.some((l) => l.startsWith('Temperature Sensor 1'))).toBe(false); // sensor 1 reads 0: absent
    expect(lines.at(-1)).toBe('Thermal Management T2 Total Time\t: 0');
  });

  it('-H decodes the critical warning bits', () => {
    const out = smartLogNormal(smart(), 'x', 1, true);
    expect(out).toContain('namespace-id:1\n');
    expect(out).toContain('      NVM subsystem Reliability[2]   : 1\n');
    expect(out).toContain('      Available Spare[0]             : 0\n');
  });

  it('prints JSON with nvme-cli keys, kelvin, and 128-bit counters as exact numbers', () => {
    const text = toJson(smartLogJson(smart()));
    expect(text).toContain('"data_units_written":18446744073709551616');
    const parsed = JSON.parse(text);
    expect(parsed).toMatchObject({ critical_warning: 4, temperature: 323, avail_spare: 100, spare_thresh: 10, percent_used: 2, data_units_read: 1234, host_read_commands: 40000, power_cycles: 7, unsafe_shutdowns: 3, num_err_log_entries: 5, temperature_sensor_2: 310 });
    expect(parsed).not.toHaveProperty('temperature_sensor_1');
    expect(Object.keys(parsed).slice(0, 5)).toEqual(['critical_warning', 'temperature', 'avail_spare', 'spare_thresh', 'percent_used']);
  });
});
