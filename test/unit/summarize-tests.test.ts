// scripts/summarize-tests.mjs: the closing line of npm test counts tests, and counts a
// listed test that never ran as a failure, saying why.
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without types
import { closingLine, countStage } from '../../scripts/summarize-tests.mjs';

const listed = (file: string, n: number) => Array.from({ length: n }, (_, i) => ({ name: `t${i}`, file }));
const ran = (file: string, statuses: string[], status = 'passed', message = '') => ({ name: file, status, message, assertionResults: statuses.map((s) => ({ status: s })) });

describe('summarize-tests', () => {
  it('a stage whose report is missing counts every listed test as not run, with the reason', () => {
    const lab = countStage({ name: 'lab', list: listed('/r/test/lab/a.test.ts', 94), report: undefined, reason: 'vfio-node lab: the guest did not reach its init within 180 s (exit status 124)' });
    const unit = countStage({ name: 'unit', list: listed('/r/test/unit/u.test.ts', 3), report: { testResults: [ran('/r/test/unit/u.test.ts', ['passed', 'passed', 'passed'])] } });
    expect(lab).toMatchObject({ passed: 0, failed: 94, notRun: 94 });
    expect(unit).toMatchObject({ passed: 3, failed: 0, notRun: 0 });
    expect(closingLine([unit, lab])).toBe('3 passed, 94 failed (94 did not run: 94 in lab, vfio-node lab: the guest did not reach its init within 180 s (exit status 124))');
  });

  it('counts tests, not describe blocks or files: two failed tests in one file are 2 failures', () => {
    const s = countStage({ name: 'e2e', list: listed('/r/test/e2e/x.test.ts', 3), report: { testResults: [ran('/r/test/e2e/x.test.ts', ['passed', 'failed', 'failed'], 'failed')] } });
    expect(s).toMatchObject({ passed: 1, failed: 2, notRun: 0 });
  });

  it('a file that failed to load: its listed tests did not run', () => {
    const s = countStage({ name: 'lab', list: [...listed('/r/test/lab/a.test.ts', 2), ...listed('/r/test/lab/b.test.ts', 5)], report: { testResults: [ran('/r/test/lab/a.test.ts', ['passed', 'passed']), ran('/r/test/lab/b.test.ts', [], 'failed', 'SyntaxError: nope')] } });
    expect(s).toMatchObject({ passed: 2, failed: 5, notRun: 5 });
    expect(s.reasons.join('\n')).toContain('test/lab/b.test.ts: SyntaxError: nope');
  });

  it('a file whose tests passed but whose hook failed is one failure', () => {
    const s = countStage({ name: 'lab', list: listed('/r/test/lab/a.test.ts', 2), report: { testResults: [ran('/r/test/lab/a.test.ts', ['passed', 'passed'], 'failed', 'afterAll: close failed')] } });
    expect(s).toMatchObject({ passed: 2, failed: 1, notRun: 0 });
  });

  it('skipped tests are failures', () => {
    const s = countStage({ name: 'unit', list: listed('/r/test/unit/u.test.ts', 2), report: { testResults: [ran('/r/test/unit/u.test.ts', ['passed', 'skipped'])] } });
    expect(s).toMatchObject({ passed: 1, failed: 1, skipped: 1 });
  });

  it('without a list, a missing report is still one failure', () => {
    expect(countStage({ name: 'x', list: undefined, report: undefined })).toMatchObject({ failed: 1 });
  });
});
