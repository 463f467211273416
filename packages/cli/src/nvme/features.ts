// `nvme get-feature` / `nvme set-feature`: Feature Identifiers (NVM Express Base
// Specification 2.0, "Feature Identifiers"), the select values of Get Features, and
// nvme-cli's output lines:
//   get-feature:0x07 (Number of Queues), Current value:0x003f003f
//   set-feature:0x06 (Volatile Write Cache), value:0x00000001, cdw12:00000000, save:0

import { celsius, fahrenheit, fidHex, valueHex } from './cfmt.js';
import type { JsonValue } from './json.js';

/** Feature names as nvme-cli spells them. */
export const FEATURE_NAMES: Record<number, string> = {
  0x01: 'Arbitration',
  0x02: 'Power Management',
  0x03: 'LBA Range Type',
  0x04: 'Temperature Threshold',
  0x05: 'Error Recovery',
  0x06: 'Volatile Write Cache',
  0x07: 'Number of Queues',
  0x08: 'Interrupt Coalescing',
  0x09: 'Interrupt Vector Configuration',
  0x0a: 'Write Atomicity Normal',
  0x0b: 'Async Event Configuration',
  0x0c: 'Autonomous Power State Transition',
  0x0d: 'Host Memory Buffer',
  0x0e: 'Timestamp',
  0x0f: 'Keep Alive Timer',
  0x10: 'Host Controlled Thermal Management',
  0x11: 'Non-Operational Power State Config',
  0x12: 'Read Recovery Level',
  0x13: 'Predictable Latency Mode Config',
  0x14: 'Predictable Latency Mode Window',
  0x15: 'LBA Status Interval',
  0x16: 'Host Behavior',
  0x17: 'Sanitize',
  0x18: 'Endurance Event Group Configuration',
  0x19: 'I/O Command Set Profile',
  0x1a: 'Spinup Control',
  0x80: 'Software Progress',
  0x81: 'Host Identifier',
  0x82: 'Reservation Notification Mask',
  0x83: 'Reservation Persistence',
  0x84: 'Namespace Write Protect',
};

/** Features whose Get/Set Features moves a data structure (not only DW0/CDW11). */
export const DATA_FEATURES = new Set([0x03, 0x0c, 0x0d, 0x0e, 0x13, 0x14, 0x16, 0x81]);

export function featureName(fid: number): string {
  return FEATURE_NAMES[fid] ?? 'Unknown';
}

/** Get Features SEL (CDW10 bits 10:8) as nvme-cli names it. */
export function selectName(sel: number): string {
  return ['Current', 'Default', 'Saved', 'Supported capabilities'][sel] ?? 'Reserved';
}

/** The get-feature line of nvme-cli. */
export function getFeatureLine(fid: number, sel: number, value: number): string {
  return `get-feature:${fidHex(fid)} (${featureName(fid)}), ${selectName(sel)} value:${valueHex(value >>> 0)}`;
}

/** `nvme get-feature -o json`. */
export function getFeatureJson(fid: number, sel: number, value: number): JsonValue {
  return { [`feature: ${fidHex(fid)}`]: { name: featureName(fid), [selectName(sel)]: valueHex(value >>> 0) } };
}

/** The set-feature line of nvme-cli. */
export function setFeatureLine(fid: number, value: number, cdw12: number, save: boolean): string {
  return `set-feature:${fidHex(fid)} (${featureName(fid)}), value:${valueHex(value >>> 0)}, cdw12:${valueHex(cdw12 >>> 0)}, save:${save ? '0x1' : '0'}`;
}

const degrees = (k: number) => `${celsius(k)} °C (${k} K, ${fahrenheit(k)} °F)`;

/** `-H`: the fields of the value for the features nvme-cli decodes (a tab before each line). */
export function featureFields(fid: number, v: number): string[] {
  switch (fid) {
    case 0x01: {
      const ab = v & 7;
      return [
        `\tHigh Priority Weight   (HPW): ${(v >>> 24) + 1}`,
        `\tMedium Priority Weight (MPW): ${((v >>> 16) & 0xff) + 1}`,
        `\tLow Priority Weight    (LPW): ${((v >>> 8) & 0xff) + 1}`,
        `\tArbitration Burst       (AB): ${ab === 7 ? 'No limit' : 2 ** ab}`,
      ];
    }
    case 0x02: {
      const wh = (v >> 5) & 7;
      const hints = ['No Workload', 'Extended Idle Period with a Burst of Random Writes', 'Heavy Sequential Writes'];
      return [`\tWorkload Hint (WH): ${wh} - ${hints[wh] ?? 'Reserved'}`, `\tPower State   (PS): ${v & 0x1f}`];
    }
    case 0x04: {
      const thsel = (v >> 20) & 3;
      const tmpsel = (v >> 16) & 0xf;
      const tmpth = v & 0xffff;
      const sensor = tmpsel === 0 ? 'Composite Temperature' : tmpsel <= 8 ? `Temperature Sensor ${tmpsel}` : tmpsel === 0xf ? 'All Temperature Sensors' : 'Reserved';
      const hyst = (v & 0x1c00000) >> 22;
      return [
        `\tTemperature Threshold Hysteresis(TMPTHH): ${degrees(hyst)}`,
        `\tThreshold Type Select         (THSEL): ${thsel} - ${['Over Temperature Threshold', 'Under Temperature Threshold'][thsel] ?? 'Reserved'}`,
        `\tThreshold Temperature Select (TMPSEL): ${tmpsel} - ${sensor}`,
        `\tTemperature Threshold         (TMPTH): ${degrees(tmpth)}`,
      ];
    }
    case 0x05:
      return [
        `\tDeallocated or Unwritten Logical Block Error Enable (DULBE): ${v & 0x10000 ? 'Enabled' : 'Disabled'}`,
        `\tTime Limited Error Recovery                          (TLER): ${(v & 0xffff) * 100} ms`,
      ];
    case 0x06:
      return [`\tVolatile Write Cache Enable (WCE): ${v & 1 ? 'Enabled' : 'Disabled'}`];
    case 0x07:
      return [`\tNumber of IO Completion Queues Allocated (NCQA): ${(v >>> 16) + 1}`, `\tNumber of IO Submission Queues Allocated (NSQA): ${(v & 0xffff) + 1}`];
    case 0x08:
      return [`\tAggregation Time     (TIME): ${((v >> 8) & 0xff) * 100} usec`, `\tAggregation Threshold (THR): ${(v & 0xff) + 1}`];
    case 0x09:
      return [`\tCoalescing Disable (CD): ${v & 0x10000 ? 'True' : 'False'}`, `\tInterrupt Vector   (IV): ${v & 0xffff}`];
    case 0x0a:
      return [`\tDisable Normal (DN): ${v & 1 ? 'True' : 'False'}`];
    default:
      return [];
  }
}
