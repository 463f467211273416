import { describe, expect, it } from 'vitest';
import { featureFields, getFeatureJson, getFeatureLine, setFeatureLine } from './features.js';

describe('get-feature and set-feature lines as nvme-cli prints them', () => {
  it('prints the feature id, its name, the select and the value', () => {
    expect(getFeatureLine(0x07, 0, 0x003f003f)).toBe('get-feature:0x07 (Number of Queues), Current value:0x003f003f');
    expect(getFeatureLine(0x06, 1, 1)).toBe('get-feature:0x06 (Volatile Write Cache), Default value:0x00000001');
    expect(getFeatureLine(0x08, 2, 0)).toBe('get-feature:0x08 (Interrupt Coalescing), Saved value:00000000'); // %#0*x of 0: no prefix
    expect(getFeatureLine(0x01, 3, 0xffffffff)).toBe('get-feature:0x01 (Arbitration), Supported capabilities value:0xffffffff');
    expect(getFeatureLine(0x7f, 0, 5)).toBe('get-feature:0x7f (Unknown), Current value:0x00000005');
  });

  it('prints JSON as nvme-cli does', () => {
    expect(getFeatureJson(0x07, 0, 0x3f003f)).toEqual({ 'feature: 0x07': { name: 'Number of Queues', Current: '0x003f003f' } });
  });

  it('prints the set-feature line', () => {
    expect(setFeatureLine(0x06, 1, 0, false)).toBe('set-feature:0x06 (Volatile Write Cache), value:0x00000001, cdw12:00000000, save:0');
    expect(setFeatureLine(0x04, 0x157, 0, true)).toBe('set-feature:0x04 (Temperature Threshold), value:0x00000157, cdw12:00000000, save:0x1');
  });

  it('-H decodes the fields of a few features', () => {
    expect(featureFields(0x07, 0x003f0003)).toEqual(['\tNumber of IO Completion Queues Allocated (NCQA): 64', '\tNumber of IO Submission Queues Allocated (NSQA): 4']);
    expect(featureFields(0x06, 1)).toEqual(['\tVolatile Write Cache Enable (WCE): Enabled']);
    expect(featureFields(0x01, 0x03020107)).toEqual([
      '\tHigh Priority Weight   (HPW): 4',
      '\tMedium Priority Weight (MPW): 3',
      '\tLow Priority Weight    (LPW): 2',
      '\tArbitration Burst       (AB): No limit',
    ]);
    expect(featureFields(0x04, 0x157)[3]).toBe('\tTemperature Threshold         (TMPTH): 70 °C (343 K, 158 °F)');
    expect(featureFields(0x42, 1)).toEqual([]);
  });
});
