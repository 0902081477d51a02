// Prints the one line CI reads, `N passed, N failed, N skipped`, summed over vitest's JSON reports (`make test`
// writes one per stack: test-results/vitest-{native,containers,swarm,swarm-nodes}.json). A report that is missing or
// unreadable counts as one failure and makes the exit code 1, so a run that produced no report never looks like a
// clean run.
import { readFileSync } from 'node:fs';

const paths = process.argv.slice(2);
if (paths.length === 0) paths.push('test-results/vitest.json');
const total = { passed: 0, failed: 0, skipped: 0 };
let missing = false;
for (const path of paths) {
  let report;
  try {
    report = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    console.error(`test-summary: no readable vitest report at ${path}: ${error.message}`);
    missing = true;
    total.failed += 1;
    continue;
  }
  // A file that failed to load has no test results of its own: count it as a failure.
  const failedFiles = (report.testResults ?? []).filter(
    (file) => file.status === 'failed' && (file.assertionResults ?? []).length === 0,
  ).length;
  total.passed += report.numPassedTests ?? 0;
  total.failed += (report.numFailedTests ?? 0) + failedFiles;
  // numPendingTests counts skipped tests (it.skip, skipIf); todo tests are counted apart.
  total.skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
}
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(missing ? 1 : 0);
