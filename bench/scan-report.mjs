#!/usr/bin/env node
// bench/scan-report: release-status lookups for a 5,000-finding report against a tracker that
// answers in 20 ms, ours (concurrent, one request per CVE, cached) next to the original's approach
// (one GET per finding, one after another), in the same run against the same tracker (issue #12).
// The tracker (packages/testing's loopback Ubuntu/Debian server) runs in a child process, as a
// remote tracker would: its CPU is not ours.
//   (a) original: for each finding, GET the CVE's page and read the release's row, sequentially
//   (b) ours, every finding a different CVE (the worst case: 5,000 lookups)
//   (c) ours, the CVEs of a real image's report (several packages per CVE: --per-cve, default 2)
// Target: (b) and (c) ≤ 2 s for 5,000 findings. (a) takes ~5,000 × 20 ms ≈ 100 s; --sample N times
// it on the first N findings only and scales the time up (marked "extrapolated").
// Usage: node bench/scan-report.mjs [--findings N] [--latency MS] [--concurrency C] [--per-cve K] [--sample N] [--rounds R] [--json]
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'packages/scan/package.json'));

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write('usage: node bench/scan-report.mjs [--findings N] [--latency MS] [--concurrency C] [--per-cve K] [--sample N] [--rounds R] [--json]\n');
  process.exit(0);
}
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const FINDINGS = opt('--findings', 5000);
const LATENCY = opt('--latency', 20);
const CONCURRENCY = opt('--concurrency', undefined);
const PER_CVE = opt('--per-cve', 2);
const SAMPLE = opt('--sample', FINDINGS);
const ROUNDS = opt('--rounds', 3);
const JSON_OUT = args.includes('--json');
const TARGET_SECONDS = 2;
const log = (...a) => process.stderr.write(`${a.join(' ')}\n`);

const STATUS_DIST = join(root, 'packages/scan/dist/release-status.js');
const TRACKER_DIST = join(root, 'packages/testing/dist/tracker-server.js');
for (const file of [STATUS_DIST, TRACKER_DIST]) {
  if (!existsSync(file)) {
    log(`bench/scan-report: ${file} is missing: build first (npx nx run-many -t build)`);
    process.exit(2);
  }
}
const { ReleaseStatusLookup, chooseRelease, ubuntuStatus } = require(STATUS_DIST);

/** The tracker in a child: every CVE answers (focal: needed), LATENCY ms each; `stats` and `reset` on stdin. */
async function startTracker() {
  const script = `
    const { startTrackerServer } = require(${JSON.stringify(TRACKER_DIST)});
    startTrackerServer({ latencyMs: ${LATENCY}, fallback: (tracker, cve) => tracker === 'ubuntu'
      ? [{ package: 'pkg', release: 'focal', status: 'needed' }, { package: 'pkg', release: 'jammy', status: 'released', description: '1.0-1ubuntu0.1' }]
      : undefined }).then((t) => {
      process.stdout.write(JSON.stringify({ url: t.url }) + '\\n');
      require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
        if (line === 'reset') t.resetCounts();
        process.stdout.write(JSON.stringify({ requests: t.requests, peak: t.peakInFlight }) + '\\n');
      });
    });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = [];
  const waiters = [];
  let buffer = '';
  child.stdout.on('data', (d) => {
    buffer += d;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
      const waiter = waiters.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  const next = () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((r) => waiters.push(r)));
  const { url } = await next();
  return {
    url,
    ask: (command) => {
      child.stdin.write(`${command}\n`);
      return next();
    },
    stop: () => child.kill(),
  };
}

/** `n` findings as ECR's Ubuntu basic scan gives them: `perCve` packages per CVE. */
function findings(n, perCve, prefix) {
  return Array.from({ length: n }, (_, i) => {
    const cve = `CVE-${prefix}-${String(Math.floor(i / perCve)).padStart(5, '0')}`;
    return { id: cve, aliases: [], severity: 'MEDIUM', package: { name: `pkg${i % perCve}`, version: '1', type: 'deb', class: 'os' }, uri: `http://people.ubuntu.com/~ubuntu-security/cve/${cve}` };
  });
}

/** The original's loop: one GET per finding, the next only after the last answered; no cache. */
async function sequential(url, list) {
  const release = chooseRelease('ubuntu', { release: '20.04' });
  const out = [];
  for (const f of list) {
    let status;
    try {
      const res = await fetch(`${url}/security/cves/${f.id}.json`);
      status = res.ok ? ubuntuStatus(await res.json(), release, f.package.name) : undefined;
    } catch {
      status = undefined;
    }
    out.push(status ?? 'unknown');
  }
  return out;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const seconds = (start) => Number(process.hrtime.bigint() - start) / 1e9;

const tracker = await startTracker();
try {
  // A warm-up: the first lookups load the HTTP modules and the JIT settles.
  const warm = new ReleaseStatusLookup({ ubuntuTracker: tracker.url, release: '20.04' });
  await warm.statuses(findings(64, 1, 1999));
  warm.close();

  log(`bench/scan-report: (a) original approach, ${SAMPLE} of ${FINDINGS} findings one after another (${LATENCY} ms each)`);
  await tracker.ask('reset');
  const sampled = findings(FINDINGS, PER_CVE, 2000).slice(0, SAMPLE);
  let start = process.hrtime.bigint();
  const originalStatuses = await sequential(tracker.url, sampled);
  const originalSample = seconds(start);
  const originalStats = await tracker.ask('stats');
  const original = (originalSample * FINDINGS) / SAMPLE;

  const ours = {};
  for (const [name, perCve] of [['distinct', 1], ['shared', PER_CVE]]) {
    const times = [];
    let stats;
    let statuses;
    for (let round = 0; round < ROUNDS; round++) {
      log(`bench/scan-report: (${name === 'distinct' ? 'b' : 'c'}) ours, ${FINDINGS} findings over ${Math.ceil(FINDINGS / perCve)} CVEs, round ${round + 1}/${ROUNDS}`);
      // New CVEs every round (and a new lookup): nothing is cached across rounds.
      const list = findings(FINDINGS, perCve, 3000 + round * 10 + perCve);
      await tracker.ask('reset');
      start = process.hrtime.bigint();
      const lookup = new ReleaseStatusLookup({ ubuntuTracker: tracker.url, release: '20.04', ...(CONCURRENCY ? { concurrency: CONCURRENCY } : {}) });
      statuses = await lookup.statuses(list);
      times.push(seconds(start));
      lookup.close();
      stats = await tracker.ask('stats');
    }
    const known = [...statuses.values()].filter((s) => s !== 'unknown').length;
    ours[name] = { seconds: median(times), rounds: times, requests: stats.requests, peakInFlight: stats.peak, known };
  }

  const result = {
    findings: FINDINGS,
    latencyMs: LATENCY,
    original: { seconds: original, extrapolated: SAMPLE < FINDINGS, sampleFindings: SAMPLE, sampleSeconds: originalSample, requests: originalStats.requests, peakInFlight: originalStats.peak, known: originalStatuses.filter((s) => s !== 'unknown').length },
    ours,
    ratio: { distinct: ours.distinct.seconds / original, shared: ours.shared.seconds / original },
  };
  const checks = [
    [`(b) every CVE distinct: ${ours.distinct.seconds.toFixed(2)} s <= ${TARGET_SECONDS} s`, ours.distinct.seconds <= TARGET_SECONDS],
    [`(c) ${PER_CVE} packages per CVE: ${ours.shared.seconds.toFixed(2)} s <= ${TARGET_SECONDS} s`, ours.shared.seconds <= TARGET_SECONDS],
    ['every lookup answered', ours.distinct.known === FINDINGS && ours.shared.known === FINDINGS],
  ];
  if (JSON_OUT) {
    console.log(JSON.stringify({ ...result, checks: Object.fromEntries(checks) }, null, 2));
  } else {
    console.log(`${FINDINGS} findings, tracker answering in ${LATENCY} ms (child process); ours: medians of ${ROUNDS} rounds`);
    console.log(`(a) original (one GET per finding, sequential): ${original.toFixed(2)} s${SAMPLE < FINDINGS ? ` (extrapolated from ${SAMPLE} findings in ${originalSample.toFixed(2)} s)` : ''}, ${originalStats.requests} requests, peak ${originalStats.peak} in flight`);
    for (const [name, label] of [['distinct', '(b) ours, every finding a different CVE:'], ['shared', `(c) ours, ${PER_CVE} packages per CVE:        `]]) {
      const o = ours[name];
      console.log(`${label} ${o.seconds.toFixed(2)} s, ${o.requests} requests, peak ${o.peakInFlight} in flight; ratio to (a) ${(o.seconds / original).toFixed(4)} (${(original / o.seconds).toFixed(0)}x faster)`);
    }
    for (const [name, ok] of checks) console.log(`${ok ? 'ok  ' : 'MISS'} ${name}`);
  }
  process.exitCode = checks.every(([, ok]) => ok) ? 0 : 1;
} finally {
  tracker.stop();
}
