#!/usr/bin/env -S node --
import { command, formatElapsed, usageError } from '@imagewright/core/bin';

/** The pipeline, in order: each step is its own command, run as users would chain them with &&. */
const STEPS = [
  // Source scans of the deployment and common (bandit, dependencies, YAML, lint): with --from/--only
  // sscan, and by default in CI (CI=true), as a pre-build gate.
  { step: 'sscan', bin: 'sscan' },
  { step: 'build', bin: 'image-build' },
  { step: 'test', bin: 'image-test' },
  // Only when deployment.yaml asks for it (`squash:`): the tested image, squashed before it is pushed.
  { step: 'squash', bin: 'squash' },
  // The mission image only: the common image is not pushed (as the originals).
  { step: 'push', bin: 'image-push' },
  // When deployment.yaml has `scan:` or the registry is ECR (the originals scanned there): the gate.
  { step: 'scan', bin: 'image-scan' },
] as const;
const NAMES = STEPS.map((s) => s.step);

interface StepResult {
  step: string;
  command: string;
  result: 'ok' | 'failed' | 'interrupted' | 'not run';
  exitCode?: number;
  seconds?: number;
  /** The scan step's gate, as its result line shows it. */
  gate?: string;
}

function binPath(name: string): string {
  const { dirname, join } = require('node:path') as typeof import('node:path');
  const manifest = require.resolve(`@imagewright/${name}/package.json`);
  return join(dirname(manifest), (require(manifest) as { bin: Record<string, string> }).bin[name]);
}

/** Runs one step's command; SIGINT/SIGTERM sent to image-all are passed on to it. */
function runStep(bin: string, args: string[], stdout: 'inherit' | 2): Promise<{ code: number; signal?: NodeJS.Signals }> {
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  return new Promise((resolve, reject) => {
    // `--`: no argument of the step may be taken by Node itself (--env-file, --inspect...).
    const child = spawn(process.execPath, ['--', binPath(bin), ...args], { stdio: ['inherit', stdout, 'inherit'] });
    let received: NodeJS.Signals | undefined;
    const forward = (signal: NodeJS.Signals) => {
      received = signal;
      child.kill(signal);
    };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve({ code: code ?? 128 + (signal === 'SIGTERM' ? 15 : 2), signal: received ?? signal ?? undefined });
    });
  });
}

/** The squash step's arguments from deployment.yaml's `squash:`; undefined: no squash step. */
function squashStepArgs(loaded: import('@imagewright/core').Loaded): string[] | undefined {
  const spec = loaded.deployment.spec.squash;
  if (!spec) return undefined;
  const args: string[] = [];
  if (spec.onto) args.push('--onto', spec.onto === 'common' ? loaded.config.COMMON_ID : spec.onto);
  if (spec.keepBase !== undefined) args.push('--keep-base', String(spec.keepBase));
  if (spec.crosslink === false) args.push('--no-crosslink');
  else if (Array.isArray(spec.crosslink)) for (const path of spec.crosslink) args.push('--crosslink-path', path);
  return args;
}

/** Where the scan step keeps its result (image-scan -o), read back for the result line; undefined: no scan step. */
function scanResultFile(loaded: import('@imagewright/core').Loaded): string | undefined {
  const { config, deployment } = loaded;
  const ecr = Boolean(config.ECR_ACCOUNT_ID && !config.REGISTRY);
  if (!deployment.spec.scan && !ecr) return undefined;
  const { join } = require('node:path') as typeof import('node:path');
  const name = `${config.IMAGE_REPO.replace(/\//g, '-')}-${config.IMAGE_TAG}.json`;
  return join(config.IMAGEWRIGHT_ROOT, '.imagewright', 'scans', name);
}

/** What the sscan step scans: the deployment's folder and common's (the checkout's own tools are not the image's). */
function sourceDirs(loaded: import('@imagewright/core').Loaded): string[] {
  const { dirname } = require('node:path') as typeof import('node:path');
  return [dirname(loaded.config.IMAGE_DIR), dirname(loaded.config.COMMON_DIR)];
}

/** `gate passed: nothing at or above HIGH` from image-scan's JSON, or undefined when it wrote none. */
function gateOf(file: string): string | undefined {
  try {
    const { readFileSync } = require('node:fs') as typeof import('node:fs');
    const gate = JSON.parse(readFileSync(file, 'utf8')).gate as { passed: boolean; failOn?: string; failing: number } | undefined;
    if (!gate) return undefined;
    if (!gate.failOn) return 'no gate';
    return gate.passed ? `gate passed: nothing at or above ${gate.failOn}` : `gate FAILED: ${gate.failing} at or above ${gate.failOn}`;
  } catch {
    return undefined;
  }
}

command({
  name: 'image-all',
  summary: 'The image pipeline: image-build, image-test, squash (when deployment.yaml asks), image-push; a result line per step.',
  description: `
Steps: ${NAMES.join(', ')}. sscan (the source scans of deployments/<name> and deployments/common:
bandit, dependencies against advisories, YAML, lint) runs first in CI (CI=true) or with --from sscan;
otherwise the pipeline starts at build. squash only when the deployment's deployment.yaml has a squash: entry
(onto: common keeps the layers shared with COMMON_ID); scan (image-scan, its gate) when it has a
scan: entry or the registry is ECR, its result kept in .imagewright/scans/<repo>-<tag>.json. Each runs as its own command with the same config (--setup-env is passed
on) and stops the pipeline when it fails, as \`image-build && image-test && image-push\` did; unlike
the original, image-all then exits with that step's code (1 failed, 2 usage or config) instead of 0.
push needs a registry (REGISTRY, or ECR_ACCOUNT_ID and AWS_REGION) and its credentials (image-login).
--from STEP resumes at STEP; --only STEP runs just STEP. With --json the steps' own output goes
to stderr and stdout gets {result, seconds, steps: [{step, command, result, exitCode, seconds, gate}]}.`,
  config: true,
  json: true,
  options: {
    from: { type: 'string', value: 'STEP', description: `start at STEP (${NAMES.join(', ')})` },
    only: { type: 'string', value: 'STEP', description: 'run only STEP' },
  },
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run(ctx) {
    const { values, out } = ctx;
    const pick = (option: 'from' | 'only') => {
      const value = values[option] as string | undefined;
      if (value !== undefined && !(NAMES as readonly string[]).includes(value)) {
        throw usageError(`--${option} ${JSON.stringify(value)}: allowed ${NAMES.join(', ')}`);
      }
      return value;
    };
    const from = pick('from');
    const only = pick('only');
    if (from && only) throw usageError('--from and --only conflict: give at most one');
    // Without --from/--only the pipeline starts at build, or at sscan in CI.
    const ci = /^(1|true|yes)$/i.test(ctx.env.CI ?? '');
    const first = NAMES.indexOf((only ?? from ?? (ci ? 'sscan' : 'build')) as (typeof NAMES)[number]);
    const last = only ? first : NAMES.length - 1;
    const passOn = values['setup-env'] ? ['--setup-env', values['setup-env'] as string] : [];
    const squashArgs = squashStepArgs(ctx.loaded);
    const scanFile = scanResultFile(ctx.loaded);

    const results: StepResult[] = [];
    const started = Date.now();
    let exitCode = 0;
    for (const [index, { step, bin }] of STEPS.entries()) {
      if (index < first || index > last) continue;
      if (step === 'squash' && !squashArgs) continue;
      if (step === 'scan' && !scanFile) continue;
      if (exitCode !== 0) {
        results.push({ step, command: bin, result: 'not run' });
        continue;
      }
      const args =
        step === 'squash' ? [...passOn, ...squashArgs!]
        : step === 'scan' ? [...passOn, '-o', scanFile!]
        : step === 'sscan' ? [...passOn, ...sourceDirs(ctx.loaded)]
        : passOn;
      if (step === 'scan') {
        const { mkdirSync, rmSync } = require('node:fs') as typeof import('node:fs');
        const { dirname } = require('node:path') as typeof import('node:path');
        mkdirSync(dirname(scanFile!), { recursive: true });
        rmSync(scanFile!, { force: true });
      }
      out.step(`${step}: ${[bin, ...args.filter((a) => !passOn.includes(a))].join(' ')}`);
      const t0 = Date.now();
      const { code, signal } = await runStep(bin, args, out.json ? 2 : 'inherit');
      const seconds = (Date.now() - t0) / 1000;
      const result = signal ? 'interrupted' : code === 0 ? 'ok' : 'failed';
      const gate = step === 'scan' ? gateOf(scanFile!) : undefined;
      results.push({ step, command: bin, result, exitCode: code, seconds, ...(gate ? { gate } : {}) });
      if (!out.json) {
        const line = `image-all: ${step} ${result}${code ? ` (exit ${code})` : ''} in ${formatElapsed(seconds)}${gate ? `: ${gate}` : ''}`;
        out.line(code ? out.red(line) : out.green(line));
      }
      if (code !== 0) exitCode = signal ? 130 : code;
    }

    const seconds = (Date.now() - started) / 1000;
    const failed = results.find((r) => r.result === 'failed' || r.result === 'interrupted');
    if (out.json) {
      out.printJson({ result: failed ? 'failed' : 'ok', seconds, steps: results });
    } else if (failed) {
      const skipped = results.filter((r) => r.result === 'not run').map((r) => r.step);
      out.line(out.red(`image-all: pipeline failed at ${failed.step}${failed.gate ? ` (${failed.gate})` : ''}${skipped.length ? `; not run: ${skipped.join(', ')}` : ''} (${formatElapsed(seconds)})`));
    } else {
      const gate = results.find((r) => r.gate)?.gate;
      out.line(out.green(`image-all: pipeline succeeded: ${results.map((r) => r.step).join(', ')} in ${formatElapsed(seconds)}${gate ? `; scan ${gate}` : ''}`));
    }
    return exitCode;
  },
});
