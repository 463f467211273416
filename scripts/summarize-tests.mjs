// Reads vitest JSON reports and prints one line per suite and the closing line
// "N passed, N failed". A missing report (a lab that did not boot) counts as a failure.
import { readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of process.argv.slice(2)) {
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    console.log(`${file}: no report (the suite did not run): counted as 1 failure`);
    failed += 1;
    continue;
  }
  const p = report.numPassedTests ?? 0;
  const f = (report.numFailedTests ?? 0) + (report.numFailedTestSuites ?? 0);
  const s = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  console.log(`${file.split('/').slice(-2).join('/')}: ${p} passed, ${f} failed${s ? `, ${s} skipped` : ''}`);
  passed += p;
  failed += f;
  skipped += s;
}
if (skipped) {
  console.log(`${skipped} test(s) were skipped: vfio-node allows no skipped test, counted as failures`);
  failed += skipped;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed || !passed ? 1 : 0);
