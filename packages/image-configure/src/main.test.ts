import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, runBin } from '@imagewright/testing';
import { describe, expect, it } from 'vitest';

const outDir = () => mkdtempSync(join(tmpdir(), 'imagewright-configure-'));

describe('image-configure', () => {
  it('writes a setup-env that the config loader reads back (PERSONAL_IMAGE=1, flags applied)', async () => {
    // Inside the checkout: a setup-env finds its deployments/ by walking up from where it is.
    const dir = join(REPO_ROOT, '.imagewright', `configure-test-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'setup-env');
    const result = await runBin('image-configure', ['demo', '--use-frozen', '0', '--environment', 'dev', '-o', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${readFileSync(file, 'utf8').trimEnd()}\n`);
    // The status line on stderr, the path relative to the current directory (the checkout here).
    expect(result.stderr).toBe(`written   .imagewright/configure-test-${process.pid}/setup-env\n`);
    const env = await runBin('image-env', ['--setup-env', file, '--json'], { cwd: tmpdir() });
    rmSync(dir, { recursive: true, force: true });
    expect(env.code).toBe(0);
    const config = JSON.parse(env.stdout);
    expect(config).toMatchObject({ IMAGEWRIGHT_ROOT: REPO_ROOT, DEPLOYMENT_NAME: 'demo', USE_FROZEN: '0', ENVIRONMENT: 'dev', PERSONAL_IMAGE: '1', IMAGE_ID: 'demo-user-image:latest' });
  });

  it('keeps an existing different file as .bak', async () => {
    const file = join(outDir(), 'setup-env');
    writeFileSync(file, 'export DEPLOYMENT_NAME=mine\n');
    const result = await runBin('image-configure', ['demo', '-o', file]);
    expect(result.code).toBe(0);
    expect(readFileSync(`${file}.bak`, 'utf8')).toBe('export DEPLOYMENT_NAME=mine\n');
    // Outside the current directory and the checkout: shown absolute.
    expect(result.stderr).toBe(`written   ${file}: previous kept as ${file}.bak\n`);
  });

  it.each([
    [['nosuch'], /deployment "nosuch" not found .*: allowed demo/],
    [['demo', '--use-frozen', '7'], /USE_FROZEN="7" is invalid: allowed one of 0, 1, 2/],
    [['demo', '--bogus'], /unknown option --bogus/],
    [[], /missing argument/],
  ])('bad input %j: exit 2, one line, nothing written', async (args, message) => {
    const file = join(outDir(), 'setup-env');
    const result = await runBin('image-configure', [...args, '-o', file]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
    expect(existsSync(file)).toBe(false);
  });
});
