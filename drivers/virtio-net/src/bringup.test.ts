import { describe, expect, it } from 'vitest';
import { Tracer } from '@vfio-node/core';
import { BRINGUP_STEPS, BringupWatch, type BringupStep } from './bringup.js';

describe('the bring-up steps (virtio 1.2 §3.1.1)', () => {
  it('are numbered as §3.1.1 numbers them, step 7 in its parts, each with a section and what the specification says', () => {
    expect(Object.values(BRINGUP_STEPS).map((s) => s.number)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7a', '7b', '7c', '7d', '8']);
    for (const s of Object.values(BRINGUP_STEPS)) {
      expect(s.section).toMatch(/^virtio 1\.2 §/);
      expect(s.spec.length).toBeGreaterThan(40);
    }
  });

  it('hands each step its own register accesses and outcome, and traces them with a step line', () => {
    const seen: BringupStep[] = [];
    const tracer = new Tracer({ keep: true, write: () => {} });
    const w = new BringupWatch(tracer, 'nic', (s) => seen.push(s));
    w.reg('write device_status <- 0 (reset)', '§2.4');
    w.reg('read device_status -> 0 (reset)', '§4.1.4.3.2');
    w.step('reset', 'reset');
    w.reg('write device_status <- ACKNOWLEDGE (0x1)', '§2.1');
    w.step('acknowledge', 'ok');
    expect(seen.map((s) => [s.id, s.number, s.accesses, s.outcome])).toEqual([
      ['reset', '1', ['write device_status <- 0 (reset)', 'read device_status -> 0 (reset)'], 'reset'],
      ['acknowledge', '2', ['write device_status <- ACKNOWLEDGE (0x1)'], 'ok'],
    ]);
    expect(tracer.events.map((e) => [e.kind, e.text, e.section])).toEqual([
      ['reg', 'write device_status <- 0 (reset)', 'virtio 1.2 §2.4'],
      ['reg', 'read device_status -> 0 (reset)', 'virtio 1.2 §4.1.4.3.2'],
      ['step', '§3.1.1 step 1: Reset the device: reset', 'virtio 1.2 §3.1.1 step 1, §2.4, §4.1.4.3.2'],
      ['reg', 'write device_status <- ACKNOWLEDGE (0x1)', 'virtio 1.2 §2.1'],
      ['step', '§3.1.1 step 2: ACKNOWLEDGE: ok', 'virtio 1.2 §3.1.1 step 2, §2.1'],
    ]);
  });
});
