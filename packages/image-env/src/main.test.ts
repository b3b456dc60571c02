import { DERIVED_NAMES, INPUT_NAMES } from '@imagewright/core';
import { runBin, tempDeploymentRoot } from '@imagewright/testing';
import { describe, expect, it } from 'vitest';

const root = tempDeploymentRoot('envtest');
const env = { IMAGEWRIGHT_ROOT: root, DEPLOYMENT_NAME: 'envtest' };

describe('image-env', () => {
  it('--json has every name the table shows, null when unset', async () => {
    const r = await runBin('image-env', ['--json'], { env });
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(Object.keys(json)).toEqual([...INPUT_NAMES, ...DERIVED_NAMES]);
    expect(json.ECR_ACCOUNT_ID).toBeNull();
    expect(json.REGISTRY_HOST).toBeNull();
    expect(json.ADMIN_ARN).toBeNull();
    expect(json.COMMON_REPO).toBe('envtest-user-image');
    const table = await runBin('image-env', [], { env });
    const tableNames = table.stdout.split('\n').slice(1).filter(Boolean).map((l) => l.split(/\s+/)[0]);
    expect(tableNames).toEqual(Object.keys(json));
  });

  it('--json and --export conflict: exit 2, one line, nothing printed', async () => {
    const r = await runBin('image-env', ['--json', '--export'], { env });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('image-env: --json and --export conflict: give at most one\n');
  });

  it('--export on a bad config prints only the unset of derived values, exit 2', async () => {
    const r = await runBin('image-env', ['--export'], { env: { ...env, USE_FROZEN: '7' } });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe(`unset ${DERIVED_NAMES.join(' ')}\n`);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  // Node 20 takes --env-file for itself even after the script (nodejs/node#54232): exit 9 before
  // our code runs. The bins start Node with `--`, so every argument reaches us.
  it('--env-file is ours to refuse (not Node\'s), pointing at --setup-env', async () => {
    const r = await runBin('image-env', ['--env-file', 'nosuch']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^image-env: unknown option --env-file: the setup-env file is --setup-env FILE/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const missing = await runBin('image-env', ['--setup-env', 'nosuch']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe('image-env: --setup-env nosuch: no such file (allowed: a setup-env file)\n');
    const viaEnv = await runBin('image-env', [], { env: { IMAGEWRIGHT_SETUP_ENV: '/nonexistent/setup-env' } });
    expect(viaEnv.code).toBe(2);
    expect(viaEnv.stderr).toBe('image-env: IMAGEWRIGHT_SETUP_ENV=/nonexistent/setup-env: no such file (allowed: a setup-env file)\n');
  });

  it('--version, and --json with Node and the Engine API', async () => {
    const { version } = require('../../../package.json') as { version: string };
    const plain = await runBin('image-env', ['--version']);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toBe(`image-env (imagewright) ${version}\n`);
    const json = JSON.parse((await runBin('image-env', ['--version', '--json'])).stdout);
    expect(json).toMatchObject({ command: 'image-env', imagewright: version, node: process.versions.node });
    expect(json.engineApi).toMatch(/^1\.\d+$/);
  });
});
