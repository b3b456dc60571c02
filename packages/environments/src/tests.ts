import type { Engine, RunFlags } from '@imagewright/docker';
import { failure, usageError } from '@imagewright/core';

/** The in-image runner, /opt/environments/test (common-scripts/test-environments by default). */
export const TEST_RUNNER = '/opt/environments/test';

/** One line of the runner's `--jsonl` protocol. */
export type TestEvent =
  | { event: 'start'; environment: string; item: string }
  | { event: 'result'; environment: string; kind: string; item: string; result: 'ok' | 'FAIL'; seconds: number; output?: string }
  | { event: 'skip'; environment: string; reason: string }
  | { event: 'summary'; passed: number; failed: number; skipped: number; seconds: number }
  | { event: 'error'; usage?: boolean; message: string };

export interface TestResult {
  environment: string;
  item: string;
  kind: string;
  result: 'ok' | 'FAIL' | 'skipped';
  seconds: number;
  output?: string;
  reason?: string;
}

export interface TestReport {
  image: string;
  passed: number;
  failed: number;
  skipped: number;
  seconds: number;
  results: TestResult[];
}

/** A protocol line, or undefined for anything else the image printed on stdout. */
export function parseTestEvent(line: string): TestEvent | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(line) as TestEvent;
    return typeof value?.event === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

export interface ImageTestOptions {
  environments?: string[];
  flags?: RunFlags;
  timeout?: number;
  /** An item starting (a terminal shows what is running). */
  onStart?(environment: string, item: string): void;
  /** Each result as it arrives (streamed output). */
  onResult?(result: TestResult): void;
  /** Output of the container that is not protocol (a mission's own test script, crashes). */
  onOther?(line: string): void;
}

/**
 * image-test: runs the image's test runner in a fresh container and collects its results. The
 * runner's exit status is the failure count (capped at 125); its report is what counts here, so
 * a runner that dies mid-way still fails through the missing summary.
 */
export async function runImageTests(engine: Engine, image: string, options: ImageTestOptions = {}): Promise<TestReport> {
  const { runCaptured } = require('@imagewright/docker') as typeof import('@imagewright/docker');
  const report: TestReport = { image, passed: 0, failed: 0, skipped: 0, seconds: 0, results: [] };
  let summary: Extract<TestEvent, { event: 'summary' }> | undefined;
  let error: Extract<TestEvent, { event: 'error' }> | undefined;
  const add = (result: TestResult) => {
    report.results.push(result);
    options.onResult?.(result);
  };
  const cmd = [TEST_RUNNER, '--jsonl', ...(options.timeout ? ['--timeout', String(options.timeout)] : []), ...(options.environments ?? [])];
  const run = await runCaptured(engine, {
    missing: `${image} has no test runner ${TEST_RUNNER}: rebuild it with image-build (the common image ships it)`,
    image,
    cmd,
    flags: options.flags,
    onLine(line) {
      const event = parseTestEvent(line);
      if (!event) return line && options.onOther?.(line);
      if (event.event === 'start') options.onStart?.(event.environment, event.item);
      else if (event.event === 'result') {
        add({ environment: event.environment, item: event.item, kind: event.kind, result: event.result, seconds: event.seconds, ...(event.output ? { output: event.output } : {}) });
      } else if (event.event === 'skip') {
        add({ environment: event.environment, item: '', kind: 'environment', result: 'skipped', seconds: 0, reason: event.reason });
      } else if (event.event === 'summary') summary = event;
      else if (event.event === 'error') error = event;
    },
  });
  if (error) throw error.usage ? usageError(error.message) : failure(error.message);
  if (!summary) {
    const why = run.stderr.trim().split('\n').slice(-3).join(' | ');
    throw failure(`the test runner in ${image} stopped without a summary (exit ${run.code})${why ? `: ${why}` : ''}`);
  }
  report.passed = report.results.filter((r) => r.result === 'ok').length;
  report.failed = report.results.filter((r) => r.result === 'FAIL').length;
  report.skipped = report.results.filter((r) => r.result === 'skipped').length;
  report.seconds = summary.seconds;
  if (run.code !== Math.min(report.failed, 125)) {
    throw failure(`the test runner in ${image} exited ${run.code} but reported ${report.failed} failure(s)`);
  }
  return report;
}

/** The human line of one result, as the runner prints it in the container. */
export function formatTestResult(result: TestResult, paint: { red(t: string): string; green(t: string): string; dim(t: string): string }): string[] {
  if (result.result === 'skipped') return [paint.dim(`[${result.environment}] skipped: ${result.reason}`)];
  const status = result.result === 'ok' ? paint.green('ok') : paint.red('FAIL');
  const lines = [`[${result.environment}] ${result.item} ... ${status} (${result.seconds.toFixed(2)}s)`];
  if (result.result === 'FAIL' && result.output) lines.push(...result.output.replace(/\n$/, '').split('\n').map((l) => `    ${l}`));
  return lines;
}
