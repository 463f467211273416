import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeatureId, NvmeController } from '@vfio-node/nvme';
import { labNvme } from './lab-env.js';

describe('an asynchronous event from the controller reaches the user with its log page', () => {
  let ctrl: NvmeController;
  beforeAll(async () => {
    ctrl = await NvmeController.open(labNvme()[0]!);
  });
  afterAll(() => ctrl?.close());

  it('reports a SMART/health temperature event after the threshold drops below the temperature', async () => {
    const events: Array<{ type: number; info: number; logPage: number; log: Uint8Array | null }> = [];
    const got = new Promise<void>((resolve) => ctrl.onAsyncEvent((e) => (events.push(e), resolve())));
    const threshold = await ctrl.admin.getFeatures(FeatureId.TemperatureThreshold);
    const aec = await ctrl.admin.getFeatures(FeatureId.AsynchronousEventConfiguration);
    try {
      // Let the controller report SMART/health critical warnings (Asynchronous Event Configuration, bits 7:0).
      await ctrl.admin.setFeatures(FeatureId.AsynchronousEventConfiguration, 0xff);
      const smart = await ctrl.admin.smartLog();
      // Over Temperature Threshold below the current composite temperature (kelvin): a critical warning.
      await ctrl.admin.setFeatures(FeatureId.TemperatureThreshold, smart.compositeTemperature - 10);
      await Promise.race([got, new Promise((_, reject) => setTimeout(() => reject(new Error('no asynchronous event within 10 s')), 10_000))]);
    } finally {
      // Leave the controller as the other tests expect it: no critical warning.
      await ctrl.admin.setFeatures(FeatureId.TemperatureThreshold, threshold & 0xffff);
      await ctrl.admin.setFeatures(FeatureId.AsynchronousEventConfiguration, aec);
    }
    expect((await ctrl.admin.smartLog()).criticalWarning).toBe(0);
    const e = events[0]!;
    expect(e.type).toBe(1); // SMART / Health Status
    expect(e.info).toBe(0x01); // Temperature Threshold
    expect(e.logPage).toBe(0x02); // SMART / Health Information
    expect(e.log).not.toBeNull();
    expect(e.log![0]! & 0x02).toBe(0x02); // Critical Warning bit 1: temperature
  });
});
