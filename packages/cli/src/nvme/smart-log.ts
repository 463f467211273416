// `nvme smart-log`: the SMART / Health Information log page (Log Identifier 02h, NVM
// Express Base Specification 2.0, "SMART / Health Information"), 512 bytes, in
// nvme-cli's normal and JSON shapes.

import { Fields } from './bytes.js';
import { celsius, fahrenheit, hexAlt, siBytes } from './cfmt.js';
import type { JsonValue } from './json.js';

/** SMART log byte offsets (NVMe 2.0 figure "SMART / Health Information Log Page"). */
export const SMART = {
  criticalWarning: 0,
  compositeTemperature: 1,
  availableSpare: 3,
  availableSpareThreshold: 4,
  percentageUsed: 5,
  enduranceGroupCriticalWarningSummary: 6,
  dataUnitsRead: 32,
  dataUnitsWritten: 48,
  hostReadCommands: 64,
  hostWriteCommands: 80,
  controllerBusyTime: 96,
  powerCycles: 112,
  powerOnHours: 128,
  unsafeShutdowns: 144,
  mediaAndDataIntegrityErrors: 160,
  numberOfErrorInformationLogEntries: 176,
  warningCompositeTemperatureTime: 192,
  criticalCompositeTemperatureTime: 196,
  /** Temperature Sensor 1..8, 2 bytes each, kelvin; 0 = not implemented. */
  temperatureSensor: 200,
  thermalManagementTemperature1TransitionCount: 216,
  thermalManagementTemperature2TransitionCount: 220,
  totalTimeForThermalManagementTemperature1: 224,
  totalTimeForThermalManagementTemperature2: 228,
} as const;

/** A Data Unit is 1000 units of 512 bytes. */
const DATA_UNIT = 1000 * 512;

function degrees(k: number): string {
  return `${celsius(k)} °C (${k} K, ${fahrenheit(k)} °F)`;
}

/** `nvme smart-log` normal output (-H adds the critical warning bits). */
export function smartLogNormal(bytes: Uint8Array, device: string, nsid: number, human = false): string {
  const f = new Fields(bytes);
  const cw = f.u8(SMART.criticalWarning);
  const lines = [`Smart Log for NVME device:${device} namespace-id:${(nsid >>> 0).toString(16)}`, `critical_warning\t\t\t: ${hexAlt(cw)}`];
  if (human) {
    const names = ['Available Spare[0]', 'Temp. Threshold[1]', 'NVM subsystem Reliability[2]', 'Read-only[3]', 'Volatile mem. backup failed[4]', 'Persistent Mem. RO[5]'];
    names.forEach((n, i) => lines.push(`      ${n.padEnd(31)}: ${(cw >> i) & 1}`));
  }
  const c = (at: number) => f.u128(at).toString();
  lines.push(
    `temperature\t\t\t\t: ${degrees(f.u16(SMART.compositeTemperature))}`,
    `available_spare\t\t\t\t: ${f.u8(SMART.availableSpare)}%`,
    `available_spare_threshold\t\t: ${f.u8(SMART.availableSpareThreshold)}%`,
    `percentage_used\t\t\t\t: ${f.u8(SMART.percentageUsed)}%`,
    `endurance group critical warning summary: ${hexAlt(f.u8(SMART.enduranceGroupCriticalWarningSummary))}`,
    `Data Units Read\t\t\t\t: ${c(SMART.dataUnitsRead)} (${siBytes(f.u128(SMART.dataUnitsRead), DATA_UNIT)})`,
    `Data Units Written\t\t\t: ${c(SMART.dataUnitsWritten)} (${siBytes(f.u128(SMART.dataUnitsWritten), DATA_UNIT)})`,
    `host_read_commands\t\t\t: ${c(SMART.hostReadCommands)}`,
    `host_write_commands\t\t\t: ${c(SMART.hostWriteCommands)}`,
    `controller_busy_time\t\t\t: ${c(SMART.controllerBusyTime)}`,
    `power_cycles\t\t\t\t: ${c(SMART.powerCycles)}`,
    `power_on_hours\t\t\t\t: ${c(SMART.powerOnHours)}`,
    `unsafe_shutdowns\t\t\t: ${c(SMART.unsafeShutdowns)}`,
    `media_errors\t\t\t\t: ${c(SMART.mediaAndDataIntegrityErrors)}`,
    `num_err_log_entries\t\t\t: ${c(SMART.numberOfErrorInformationLogEntries)}`,
    `Warning Temperature Time\t\t: ${f.u32(SMART.warningCompositeTemperatureTime)}`,
    `Critical Composite Temperature Time\t: ${f.u32(SMART.criticalCompositeTemperatureTime)}`,
  );
  for (let i = 0; i < 8; i++) {
    const t = f.u16(SMART.temperatureSensor + 2 * i);
    if (t) lines.push(`Temperature Sensor ${i + 1}\t\t\t: ${degrees(t)}`);
  }
  lines.push(
    `Thermal Management T1 Trans Count\t: ${f.u32(SMART.thermalManagementTemperature1TransitionCount)}`,
    `Thermal Management T2 Trans Count\t: ${f.u32(SMART.thermalManagementTemperature2TransitionCount)}`,
    `Thermal Management T1 Total Time\t: ${f.u32(SMART.totalTimeForThermalManagementTemperature1)}`,
    `Thermal Management T2 Total Time\t: ${f.u32(SMART.totalTimeForThermalManagementTemperature2)}`,
  );
  return lines.join('\n');
}

/** `nvme smart-log -o json` (nvme-cli's key names; temperature in kelvin). */
export function smartLogJson(bytes: Uint8Array): JsonValue {
  const f = new Fields(bytes);
  const out: Record<string, JsonValue> = {
    critical_warning: f.u8(SMART.criticalWarning),
    temperature: f.u16(SMART.compositeTemperature),
    avail_spare: f.u8(SMART.availableSpare),
    spare_thresh: f.u8(SMART.availableSpareThreshold),
    percent_used: f.u8(SMART.percentageUsed),
    endurance_grp_critical_warning_summary: f.u8(SMART.enduranceGroupCriticalWarningSummary),
    data_units_read: f.u128(SMART.dataUnitsRead),
    data_units_written: f.u128(SMART.dataUnitsWritten),
    host_read_commands: f.u128(SMART.hostReadCommands),
    host_write_commands: f.u128(SMART.hostWriteCommands),
    controller_busy_time: f.u128(SMART.controllerBusyTime),
    power_cycles: f.u128(SMART.powerCycles),
    power_on_hours: f.u128(SMART.powerOnHours),
    unsafe_shutdowns: f.u128(SMART.unsafeShutdowns),
    media_errors: f.u128(SMART.mediaAndDataIntegrityErrors),
    num_err_log_entries: f.u128(SMART.numberOfErrorInformationLogEntries),
    warning_temp_time: f.u32(SMART.warningCompositeTemperatureTime),
    critical_comp_time: f.u32(SMART.criticalCompositeTemperatureTime),
  };
  for (let i = 0; i < 8; i++) {
    const t = f.u16(SMART.temperatureSensor + 2 * i);
    if (t) out[`temperature_sensor_${i + 1}`] = t;
  }
  out.thm_temp1_trans_count = f.u32(SMART.thermalManagementTemperature1TransitionCount);
  out.thm_temp2_trans_count = f.u32(SMART.thermalManagementTemperature2TransitionCount);
  out.thm_temp1_total_time = f.u32(SMART.totalTimeForThermalManagementTemperature1);
  out.thm_temp2_total_time = f.u32(SMART.totalTimeForThermalManagementTemperature2);
  return out;
}
