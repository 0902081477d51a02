// Prints the one line CI reads, `N passed, N failed, N skipped`, from vitest's JSON report
// (vitest.config.ts writes test-results/vitest.json). Exit 1 when the report is missing or unreadable, so a run that
// produced no report never looks like a run without failures.
import { readFileSync } from 'node:fs';

const path = process.argv[2] ?? 'test-results/vitest.json';
let report;
try {
  report = JSON.parse(readFileSync(path, 'utf8'));
} catch (error) {
  console.error(`test-summary: no readable vitest report at ${path}: ${error.message}`);
  process.exit(1);
}
// numPendingTests counts skipped tests (it.skip, skipIf); todo tests are counted apart.
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
// A file that failed to load has no test results of its own: count it as a failure.
const failedFiles = (report.testResults ?? []).filter(
  (file) => file.status === 'failed' && (file.assertionResults ?? []).length === 0,
).length;
console.log(`${report.numPassedTests} passed, ${report.numFailedTests + failedFiles} failed, ${skipped} skipped`);
