// The closing lines of `npm test`: one line per stage and "N passed, N failed". Each
// stage gives what vitest listed before it ran (`vitest list --json`: the tests it should
// run) and its JSON report. A test that was listed but never ran (the lab did not boot,
// a file failed to load, the run was cut short) counts as a failure, and the closing line
// says why: "530 passed, 113 failed (113 did not run: lab: the lab did not boot ...)".
// Failures are counted in tests, not in describe blocks or files; a file whose tests
// all passed but whose hooks failed counts as one failure. Skipped tests count as
// failures too: vfio-node allows none.
//
//   node scripts/summarize-tests.mjs --stage NAME LIST.json REPORT.json REASON.txt [--stage ...]
// REASON.txt (may be missing) says why a stage's report may be missing, e.g. the lab's error.
import { readFileSync } from 'node:fs';

/** Reads a JSON file, or undefined when it is missing or unreadable. */
function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

function readReason(file) {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).pop();
  } catch {
    return undefined;
  }
}

/**
 * Counts one stage. Returns { passed, failed, notRun, skipped, reasons[] }, where failed
 * includes notRun and skipped.
 */
export function countStage({ name, list, report, reason }) {
  const out = { name, passed: 0, failed: 0, notRun: 0, skipped: 0, reasons: [], why: report ? 'listed, not in the report' : (reason ?? 'no report') };
  const listed = Array.isArray(list) ? list : undefined;
  const perFile = new Map();
  for (const t of listed ?? []) perFile.set(t.file, (perFile.get(t.file) ?? 0) + 1);

  if (!report) {
    if (listed) {
      out.notRun = listed.length;
      out.failed = listed.length;
      out.reasons.push(`${name}: ${reason ?? 'no report (the stage did not run)'}`);
    } else {
      out.failed = 1;
      out.reasons.push(`${name}: no report and no list of its tests: counted as 1 failure`);
    }
    return out;
  }
  if (!listed) out.reasons.push(`${name}: vitest could not list the tests beforehand, so tests that did not run are not counted`);

  const ran = new Map();
  for (const file of report.testResults ?? []) {
    let p = 0;
    let f = 0;
    let s = 0;
    for (const a of file.assertionResults ?? []) {
      if (a.status === 'passed') p++;
      else if (a.status === 'failed') f++;
      else s++; // skipped, pending, todo
    }
    out.passed += p;
    out.failed += f;
    out.skipped += s;
    ran.set(file.name, p + f + s);
    // A file that failed with no failed test: a hook or the file itself (a load error).
    if (file.status === 'failed' && f === 0) {
      const why = String(file.message ?? '').split('\n')[0] || 'failed';
      const expected = perFile.get(file.name) ?? 0;
      if (p + f + s >= expected) {
        out.failed += 1;
        out.reasons.push(`${name}: ${shortPath(file.name)}: ${why} (counted as 1 failure)`);
      } else {
        out.reasons.push(`${name}: ${shortPath(file.name)}: ${why}`);
      }
    }
  }
  if (listed) {
    for (const [file, expected] of perFile) {
      const missing = expected - (ran.get(file) ?? 0);
      if (missing > 0) {
        out.notRun += missing;
        if (!ran.has(file)) out.reasons.push(`${name}: ${shortPath(file)}: ${missing} test(s) never ran${reason ? ` (${reason})` : ''}`);
      }
    }
    out.failed += out.notRun;
  }
  out.failed += out.skipped;
  if (out.skipped) out.reasons.push(`${name}: ${out.skipped} test(s) skipped: vfio-node allows no skipped test, counted as failures`);
  return out;
}

function shortPath(p) {
  const i = p.indexOf('/test/');
  return i >= 0 ? p.slice(i + 1) : p;
}

/** The closing line. */
export function closingLine(stages) {
  const passed = stages.reduce((a, s) => a + s.passed, 0);
  const failed = stages.reduce((a, s) => a + s.failed, 0);
  const notRun = stages.reduce((a, s) => a + s.notRun, 0);
  const clip = (t) => (t.length > 120 ? `${t.slice(0, 117)}...` : t);
  const why = stages.filter((s) => s.notRun).map((s) => `${s.notRun} in ${s.name}, ${clip(s.why)}`);
  return `${passed} passed, ${failed} failed${notRun ? ` (${notRun} did not run: ${why.join('; ')})` : ''}`;
}

function main(argv) {
  const stages = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== '--stage') throw new Error(`expected --stage NAME LIST REPORT REASON, got '${argv[i]}'`);
    const [name, listFile, reportFile, reasonFile] = argv.slice(i + 1, i + 5);
    i += 4;
    stages.push(countStage({ name, list: readJson(listFile), report: readJson(reportFile), reason: readReason(reasonFile) }));
  }
  for (const s of stages) {
    console.log(`${s.name}: ${s.passed} passed, ${s.failed} failed${s.notRun ? ` (${s.notRun} did not run)` : ''}${s.skipped ? `, ${s.skipped} skipped` : ''}`);
  }
  const reasons = stages.flatMap((s) => s.reasons);
  if (reasons.length) console.log(reasons.map((r) => `  ${r}`).join('\n'));
  const passed = stages.reduce((a, s) => a + s.passed, 0);
  const failed = stages.reduce((a, s) => a + s.failed, 0);
  console.log(closingLine(stages));
  return failed || !passed ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exit(main(process.argv.slice(2)));
