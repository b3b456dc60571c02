#!/usr/bin/env node
// Startup budget: every bin's `--help` must take at most 1.3x the wall time of `node -e ''`
// (medians, measured in the same loop). See bench/README.md.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const THRESHOLD = 1.3;
const WARMUP = 2; // first runs fill the page cache and compile caches; not counted

const USAGE = `Usage: node bench/help-startup.mjs [--runs N] [--json]

Median wall time of \`<bin> --help\` (run through its #! line) for every built bin under packages/, against
\`node -e ''\` run interleaved in the same loop. Exit 1 when a bin's ratio exceeds ${THRESHOLD}.

Options:
  --runs N   measured runs per bin and for the baseline (default 30)
  --json     print the results as JSON
  -h, --help show this help
`;

function usage(message) {
  process.stderr.write(`help-startup: ${message}\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: { runs: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
    allowPositionals: false,
  }).values;
} catch (error) {
  usage(`${error.message.split('\n')[0]} (allowed: --runs N, --json, --help)`);
}
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const runs = args.runs === undefined ? 30 : Number(args.runs);
if (!Number.isInteger(runs) || runs < 1) usage(`--runs ${args.runs} is invalid: allowed a whole number >= 1`);

/** Bins declared by packages/<pkg>/package.json, built or not. */
function findBins() {
  const bins = [];
  const packagesDir = join(ROOT, 'packages');
  for (const dir of readdirSync(packagesDir, { withFileTypes: true })) {
    const manifest = join(packagesDir, dir.name, 'package.json');
    if (!dir.isDirectory() || !existsSync(manifest)) continue;
    const pkg = JSON.parse(readFileSync(manifest, 'utf8'));
    if (!pkg.bin) continue;
    const entries = typeof pkg.bin === 'string' ? { [pkg.name.replace(/^@[^/]+\//, '')]: pkg.bin } : pkg.bin;
    for (const [name, path] of Object.entries(entries)) bins.push({ name, pkg: dir.name, path: join(packagesDir, dir.name, path) });
  }
  return bins.sort((a, b) => a.name.localeCompare(b.name));
}

/** Wall time of one child process, in ms; its exit status and stderr for error reports. */
function time([command, ...argv]) {
  const start = process.hrtime.bigint();
  const child = spawnSync(command, argv, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return { ms, status: child.status, stderr: child.stderr ?? '', error: child.error };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function shuffle(items) {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

const all = findBins();
const skipped = all.filter((b) => !existsSync(b.path)).map((b) => ({ name: b.name, reason: `not built: ${relative(ROOT, b.path)} missing (npx tsc -p packages/${b.pkg}/tsconfig.json)` }));
const bins = all.filter((b) => existsSync(b.path));
const note = (text) => (args.json ? process.stderr : process.stdout).write(`${text}\n`);
for (const s of skipped) note(`skip ${s.name}: ${s.reason}`);

// One task per bin plus the baseline; every round runs each once, in a fresh random order, so
// load from elsewhere on the machine lands on all of them alike.
// Bins run as users run them: through their own #! line (`env -S node --`), not `node <bin>`.
const BASELINE = { name: "node -e ''", argv: [process.execPath, '-e', ''] };
const tasks = [BASELINE, ...bins.map((b) => ({ name: b.name, argv: [b.path, '--help'], bin: b }))];
const samples = new Map(tasks.map((t) => [t, []]));
const failed = new Map();
for (let round = 0; round < WARMUP + runs; round++) {
  for (const task of shuffle([...tasks])) {
    if (failed.has(task)) continue;
    const result = time(task.argv);
    if (result.error || result.status !== 0) {
      const why = result.error?.message ?? (result.stderr.trim().split('\n')[0] || `exit ${result.status}`);
      failed.set(task, `--help failed: ${why}`);
      continue;
    }
    if (round >= WARMUP) samples.get(task).push(result.ms);
  }
}
if (failed.has(BASELINE)) {
  process.stderr.write(`help-startup: the baseline node -e '' failed: ${failed.get(BASELINE)}\n`);
  process.exit(1);
}

const baselineMs = median(samples.get(BASELINE));
const results = tasks.slice(1).map((task) => {
  if (failed.has(task)) return { name: task.name, package: task.bin.pkg, error: failed.get(task), ok: false };
  const medianMs = median(samples.get(task));
  const ratio = medianMs / baselineMs;
  return { name: task.name, package: task.bin.pkg, medianMs, ratio, ok: ratio <= THRESHOLD };
});
const measured = results.filter((r) => r.ratio !== undefined);
const worst = measured.reduce((w, r) => (!w || r.ratio > w.ratio ? r : w), undefined);
const ok = results.every((r) => r.ok);

if (args.json) {
  const round3 = (n) => Math.round(n * 1000) / 1000;
  process.stdout.write(
    `${JSON.stringify(
      {
        runs,
        threshold: THRESHOLD,
        node: process.version,
        baseline: { name: BASELINE.name, medianMs: round3(baselineMs) },
        bins: results.map((r) => (r.error ? r : { ...r, medianMs: round3(r.medianMs), ratio: round3(r.ratio) })),
        skipped,
        ok,
      },
      null,
      2,
    )}\n`,
  );
} else {
  const rows = [
    ['BIN', 'MEDIAN_MS', 'RATIO'],
    [BASELINE.name, baselineMs.toFixed(1), '1.00'],
    ...results.map((r) => (r.error ? [r.name, '-', `FAILED (${r.error})`] : [r.name, r.medianMs.toFixed(1), `${r.ratio.toFixed(2)}${r.ok ? '' : '  OVER'}`])),
  ];
  const widths = [0, 1].map((i) => Math.max(...rows.map((row) => row[i].length)));
  for (const row of rows) process.stdout.write(`${row[0].padEnd(widths[0] + 2)}${row[1].padStart(widths[1])}  ${row[2]}\n`);
  const over = results.filter((r) => !r.ok).map((r) => r.name);
  process.stdout.write(
    `\n${measured.length} bin(s) measured, ${skipped.length} skipped, ${runs} runs each (node ${process.version}); ` +
      (worst ? `worst ratio ${worst.ratio.toFixed(2)} (${worst.name}); ` : '') +
      `threshold ${THRESHOLD}: ${ok ? 'ok' : `FAILED: ${over.join(', ')}`}\n`,
  );
}
process.exit(ok ? 0 : 1);
