import { AssertionError } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { INPUTS } from '@imagewright/core';
import { splitRef } from '@imagewright/docker';

/** The caller's sourced setup-env must not leak into tests: config inputs are not inherited. */
function inheritedEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  const names = Object.entries(INPUTS).flatMap(([name, spec]) => [name, ...((spec as { aliases?: string[] }).aliases ?? [])]);
  for (const name of [...names, 'IMAGEWRIGHT_ROOT', 'IMAGEWRIGHT_SETUP_ENV', 'IMAGEWRIGHT_READING_SETUP_ENV', 'IMAGEWRIGHT_ENV_FILE']) delete env[name];
  return env;
}

/** The checkout this harness lives in. */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');
/** Public test data (Trivy reports, PyPA advisories, STScI files) kept in the repository: packages/testing/fixtures/SOURCES.md. */
export const FIXTURES = join(REPO_ROOT, 'packages', 'testing', 'fixtures');

export interface BinResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command's built bin (packages/<name>/dist/main.js) as users do: executed through its
 * own `#!` line (so what Node itself would take from the arguments is tested too), a child
 * process with its own environment, optional stdin, no TTY.
 */
export function runBin(
  name: string,
  args: string[] = [],
  options: {
    env?: NodeJS.ProcessEnv;
    input?: string;
    cwd?: string;
    /** Send `signal` once `text` has appeared in the output (interrupt tests). */
    signalWhen?: { text: string; signal: NodeJS.Signals };
  } = {},
): Promise<BinResult> {
  const main = join(REPO_ROOT, 'packages', name, 'dist', 'main.js');
  return new Promise((res, rej) => {
    const child = spawn(main, args, {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...inheritedEnv(), NO_COLOR: '1', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    const watch = () => {
      if (options.signalWhen && !signalled && (stdout + stderr).includes(options.signalWhen.text)) {
        signalled = true;
        child.kill(options.signalWhen.signal);
      }
    };
    child.stdout.on('data', (d) => {
      stdout += d;
      watch();
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      watch();
    });
    child.on('error', rej);
    child.on('close', (code) => res({ code: code ?? -1, stdout, stderr }));
    // A command may end without reading its stdin (a usage error): the EPIPE that follows is no test's failure.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/**
 * A throwaway checkout with deployments/common/image and deployments/<name>/image, for tests
 * that need config without touching the real tree. Returns its root.
 */
export function tempDeploymentRoot(name = 'testdep', files: Record<string, string> = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'imagewright-root-'));
  mkdirSync(join(root, 'deployments', 'common', 'image'), { recursive: true });
  mkdirSync(join(root, 'deployments', name, 'image', 'environments'), { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

/** Environment for a command run against `root`: a personal image ID equal to `image`. */
export function envFor(root: string, deployment: string, image: string): NodeJS.ProcessEnv {
  const [repo, tag] = splitRef(image);
  return { IMAGEWRIGHT_ROOT: root, DEPLOYMENT_NAME: deployment, PERSONAL_IMAGE: '1', IMAGE_REPO: repo, IMAGE_TAG: tag };
}

/**
 * A refused command as the conventions want it: exit `code`, one line on stderr matching `pattern`,
 * nothing on stdout. (node:assert: vitest cannot be required from this CommonJS package.)
 */
export function expectOneLine(r: BinResult, code: number, pattern: RegExp): void {
  const wrong = [
    r.stdout !== '' && `stdout not empty: ${JSON.stringify(r.stdout)}`,
    r.stderr.split('\n').length !== 2 && 'stderr is not one line',
    !pattern.test(r.stderr) && `stderr does not match ${pattern}`,
    r.code !== code && `exit ${r.code}, not ${code}`,
  ].filter(Boolean);
  if (wrong.length) throw new AssertionError({ message: `${wrong.join('; ')}\nstderr: ${r.stderr}`, actual: r, expected: { code, pattern: String(pattern) } });
}
