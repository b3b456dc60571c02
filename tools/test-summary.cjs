// Sums the vitest JSON reports of every package into one closing line: "N passed, N failed".
const { readdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

const dir = process.argv[2];
let passed = 0, failed = 0, skipped = 0, files = 0;
for (const name of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
  const report = JSON.parse(readFileSync(join(dir, name), 'utf8'));
  files++;
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + (report.numTodoTests ?? 0);
  if (report.numFailedTestSuites) failed += report.testResults.filter((r) => r.status === 'failed' && !r.assertionResults.length).length;
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(files === 0 || passed === 0 || failed > 0 ? 1 : 0);
