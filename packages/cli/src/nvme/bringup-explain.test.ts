// What `vfio-node nvme bringup --explain` prints for a step, from the step the driver's
// observer hands over.

import { describe, expect, it } from 'vitest';
import { STEP_TEXT, formatStep, stepHeading, stepPrompt } from './bringup-explain.js';

describe('bringup --explain', () => {
  it('has a text for every step of Base 2.0 §3.5.1 (1 to 12) and for reading CAP before them', () => {
    expect(Object.keys(STEP_TEXT).map(Number)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(STEP_TEXT[1]).toContain('CSTS.RDY to become 0');
    expect(STEP_TEXT[2]).toMatch(/AQA.*ASQ.*ACQ/);
    expect(STEP_TEXT[5]).toContain('CC.EN = 1');
    expect(STEP_TEXT[6]).toContain('CSTS.RDY = 1');
    expect(STEP_TEXT[7]).toContain('CNS 01h');
  });

  it('prints the heading with the step number and section, then what the driver wrote and what the controller answered', () => {
    const text = formatStep({ step: 6, wrote: [], answered: ['CSTS = 0x1 (RDY=1 CFS=0 SHST=00b (normal operation))'] });
    expect(text.split('\n')).toEqual([
      '§3.5.1 step 6: wait for CSTS.RDY = 1, within CAP.TO × 500 ms: the controller now takes admin commands',
      '  controller:    CSTS = 0x1 (RDY=1 CFS=0 SHST=00b (normal operation))',
    ]);
    const two = formatStep({ step: 2, wrote: ['AQA = 0x1f001f', 'ASQ = 0x1000'], answered: [] }).split('\n');
    expect(two.slice(1)).toEqual(['  driver wrote:  AQA = 0x1f001f', '  driver wrote:  ASQ = 0x1000']);
  });

  it("names a step of the driver's own as not the specification's, and says when a step shows nothing", () => {
    expect(stepHeading({ step: 9, extra: 'Doorbell Buffer Config', wrote: [], answered: [] })).toBe('after §3.5.1 step 9, not a step of the specification: Doorbell Buffer Config');
    expect(stepHeading({ step: 0, wrote: [], answered: [] })).toMatch(/^§3\.5\.1, before step 1: read the controller's capabilities \(CAP, §3\.1\.3\.1\)/);
    expect(formatStep({ step: 3, wrote: [], answered: [] }).split('\n')[1]).toBe('  (nothing to show)');
  });

  it('prompts once per step with its number', () => {
    expect(stepPrompt({ step: 4, wrote: [], answered: [] })).toBe('-- step 4 done; press Enter to go on --');
    expect(stepPrompt({ step: 9, extra: 'x', wrote: [], answered: [] })).toBe('-- step 9+ done; press Enter to go on --');
  });
});
