import type { Engine } from '@imagewright/docker';
import { builtEnvDeployment, ensureEngine, removeChainTags, runBin } from '@imagewright/testing';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = `imagewright-test/env-export-${process.pid}`;
let engine: Engine;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  engine = await ensureEngine();
  ({ env } = await builtEnvDeployment(REPO));
});
afterAll(async () => {
  await removeChainTags(engine, REPO);
});

/** What pip itself reports inside the image (the oracle); --local: what pip installed in a venv. */
async function pipFreeze(python: string, ...args: string[]): Promise<string[]> {
  const run = await runBin('image-exec', [python, '-m', 'pip', 'freeze', '--disable-pip-version-check', ...args], { env });
  expect(run.code).toBe(0);
  return run.stdout.trim().split('\n');
}

describe('image-env-export', () => {
  it('a venv: conda env export shape, the pip list exactly as pip freeze --local reports it', async () => {
    const result = await runBin('image-env-export', ['wheely'], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^name: wheely\nchannels: \[\]\ndependencies:\n  - python=3\.\d+\.\d+\n  - pip:\n    - /);
    const exported = parse(result.stdout);
    expect(exported.prefix).toBe('/opt/envs/wheely');
    const pip = exported.dependencies.find((d: unknown) => typeof d === 'object').pip;
    expect(pip).toEqual(await pipFreeze('/opt/envs/wheely/bin/python', '--local'));
    expect(pip).toContain('tinypkg==0.1.0');
    const python = (await runBin('image-exec', ['/opt/envs/wheely/bin/python', '-c', 'import platform; print(platform.python_version())'], { env })).stdout.trim();
    expect(exported.dependencies[0]).toBe(`python=${python}`);
  });

  it('Debian packages of *.apt specs are pinned to the installed version (dpkg-query as oracle)', async () => {
    const exported = parse((await runBin('image-env-export', ['good'], { env })).stdout);
    const version = (await runBin('image-exec', ['dpkg-query', '-W', '-f', '${Version}', 'python3-six'], { env })).stdout;
    expect(exported.apt).toEqual([`python3-six=${version}`]);
    // Debian's Python packages are pinned through apt:, not pip: (pip sees six, but did not install it).
    expect(await pipFreeze('/opt/envs/good/bin/python')).toContain('six==1.16.0');
    expect(await pipFreeze('/opt/envs/good/bin/python', '--local')).toEqual(['']);
    expect(exported.dependencies).toEqual([expect.stringMatching(/^python=3\.\d+\.\d+$/)]);
  });

  it('the system Python, and --json', async () => {
    const result = await runBin('image-env-export', ['--json', 'sys'], { env });
    expect(result.code).toBe(0);
    const exported = JSON.parse(result.stdout);
    const six = (await runBin('image-exec', ['dpkg-query', '-W', '-f', '${Version}', 'python3-six'], { env })).stdout;
    expect(exported).toEqual({
      name: 'sys',
      kind: 'system',
      channels: [],
      dependencies: [expect.stringMatching(/^python=3\.\d+\.\d+$/)],
      apt: [`python3-six=${six}`],
      prefix: '/usr',
    });
  });

  it('an unknown environment is a usage error naming the known ones; a missing argument too', async () => {
    const unknown = await runBin('image-env-export', ['nope'], { env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    expect(unknown.stderr).toMatch(/nope.*bare, good, sys, wheely/);
    const missing = await runBin('image-env-export', [], { env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/missing argument: usage: image-env-export/);
  });
});
