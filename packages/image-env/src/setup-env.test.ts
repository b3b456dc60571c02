import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DERIVED_NAMES } from '@imagewright/core';
import { REPO_ROOT } from '@imagewright/testing';
import { afterAll, describe, expect, it } from 'vitest';

// `source setup-env` as users do it, in the real shells, with the real template and bin/image-env.
const TEMPLATE = join(REPO_ROOT, 'tools', 'setup-env.template');
const dir = join(REPO_ROOT, '.imagewright', `setup-env-test-${process.pid}`);
const outside = mkdtempSync(join(tmpdir(), 'imagewright-outside-'));
mkdirSync(dir, { recursive: true });
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

/** A setup-env from the template with some inputs replaced. */
function setupEnv(name: string, inputs: Record<string, string> = {}, where = dir): string {
  let text = readFileSync(TEMPLATE, 'utf8');
  for (const [key, value] of Object.entries(inputs)) text = text.replace(new RegExp(`^export ${key}=.*$`, 'm'), `export ${key}=${value}`);
  const file = join(where, name);
  writeFileSync(file, text);
  return file;
}

/** Runs a script in `shell` with a clean environment (no config inherited), from `cwd`. */
function shell(shellName: string, script: string, cwd = outside) {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: outside, NO_COLOR: '1' };
  const r = spawnSync(shellName, ['-c', script], { cwd, env, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const show = DERIVED_NAMES.map((n) => `echo "${n}=\${${n}-<unset>}"`).join('; ');
const values = (stdout: string) =>
  Object.fromEntries(stdout.split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

describe.each(['bash', 'zsh'])('source setup-env in %s', (sh) => {
  it('from another folder: derived values, bin/ on PATH once, exit 0', () => {
    const good = setupEnv(`good-${sh}`, { IMAGE_TAG: 'one' });
    const r = shell(sh, `set -eu; source ${good}; source ${good}; ${show}; echo "PATH=$PATH"`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const v = values(r.stdout);
    expect(v.IMAGEWRIGHT_ROOT).toBe(REPO_ROOT);
    expect(v.IMAGE_ID).toBe('demo-user-image:one');
    expect(v.PATH.split(':').filter((p) => p === join(REPO_ROOT, 'bin'))).toHaveLength(1);
    expect(v.PATH).not.toContain('//bin');
  });

  it('a bad config returns non-zero, stops set -e, and leaves no derived value of the earlier one', () => {
    const good = setupEnv(`good2-${sh}`, { IMAGE_TAG: 'old' });
    const bad = setupEnv(`bad-${sh}`, { IMAGE_TAG: 'new', ENVIRONMENT: 'prd' });
    const plain = shell(sh, `source ${good}; source ${bad}; echo "status=$?"; echo "IMAGE_TAG=$IMAGE_TAG"; ${show}`);
    expect(plain.stdout).toMatch(/^status=2$/m);
    expect(plain.stderr.trim()).toBe('image-env: ENVIRONMENT="prd" is invalid: allowed one of sandbox, dev, test, prod');
    const v = values(plain.stdout);
    expect(v.IMAGE_TAG).toBe('new');
    for (const name of DERIVED_NAMES) expect(v[name], name).toBe('<unset>');

    const strict = shell(sh, `set -e; source ${good}; source ${bad}; echo not-reached`);
    expect(strict.code).not.toBe(0);
    expect(strict.stdout).not.toContain('not-reached');
  });

  it('a copy kept outside the checkout works from inside it, and fails with one line elsewhere', () => {
    const copy = setupEnv(`copy-${sh}`, {}, outside);
    const inside = shell(sh, `source ${copy}; echo "status=$?"; ${show}`, join(REPO_ROOT, 'deployments'));
    expect(inside.stdout).toMatch(/^status=0$/m);
    expect(values(inside.stdout).IMAGEWRIGHT_ROOT).toBe(REPO_ROOT);
    const lost = shell(sh, `source ${copy}; echo "status=$?"; echo "PATH=$PATH"`, outside);
    expect(lost.stdout).toMatch(/^status=2$/m);
    expect(lost.stdout).not.toContain('//bin');
    expect(lost.stderr.trim().split('\n')).toHaveLength(1);
    expect(lost.stderr).toContain('no imagewright checkout');
    expect(lost.stderr).not.toContain('bootstrap');
  });
});

describe.each(['bash', 'zsh'])('a setup-env image-configure wrote outside the checkout (%s)', (sh) => {
  it('is sourced from anywhere: image-configure records the checkout in it', () => {
    const file = join(outside, `configured-${sh}`);
    const made = spawnSync(join(REPO_ROOT, 'bin', 'image-configure'), ['demo', '--image-tag', 'elsewhere', '-o', file], { cwd: REPO_ROOT, encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(made.status).toBe(0);
    const r = shell(sh, `source ${file}; echo "status=$?"; ${show}`, tmpdir());
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^status=0$/m);
    expect(values(r.stdout)).toMatchObject({ IMAGEWRIGHT_ROOT: REPO_ROOT, IMAGE_ID: 'demo-user-image:elsewhere' });
  });
});

describe('source setup-env in other shells', () => {
  for (const sh of ['dash', 'sh']) {
    it(`${sh}: one line naming the shells supported, non-zero`, () => {
      const file = setupEnv(`plain-${sh}`);
      const r = shell(sh, `. ${file}; echo "status=$?"`);
      expect(r.stderr).toBe('setup-env: source it from bash or zsh (this shell is neither)\n');
      expect(r.stdout).toMatch(/^status=2$/m);
    });
  }
});

describe('the template', () => {
  it('unsets exactly the derived values image-env computes', () => {
    const text = readFileSync(TEMPLATE, 'utf8');
    const line = /^unset (IMAGEWRIGHT_ROOT .*)$/m.exec(text);
    expect(line?.[1].split(' ')).toEqual(DERIVED_NAMES);
  });

  it('is read by --setup-env without running image-env (no checkout bin/ needed)', () => {
    const copy = join(dir, 'copied');
    copyFileSync(TEMPLATE, copy);
    const r = spawnSync(join(REPO_ROOT, 'bin', 'image-env'), ['--setup-env', copy, '--json'], { cwd: outside, encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ DEPLOYMENT_NAME: 'demo', IMAGEWRIGHT_ROOT: REPO_ROOT });
  });
});
