import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '@imagewright/docker';
import { BUSYBOX_IMAGE, busyboxImage, builtEnvDeployment, ENV_DEPLOYMENT, ensureEngine, removeChainTags, runBin } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The real runner in real images: deployments/common as shipped, a small mission (good, wheely,
// sys, bare) built on the engine with floating specs.
const REPO = `imagewright-test/image-test-${process.pid}`;
let engine: Engine;
let root: string;
let env: NodeJS.ProcessEnv;
const tests = (file: string) => join(root, 'deployments', ENV_DEPLOYMENT, 'image', 'environments', file);

beforeAll(async () => {
  engine = await ensureEngine();
  ({ root, env } = await builtEnvDeployment(REPO));
});
afterAll(async () => {
  await removeChainTags(engine, REPO);
});

describe('image-test', () => {
  it('passes: one line per item, the env without tests/ skipped, the commented import not run', async () => {
    const result = await runBin('image-test', [], { env });
    expect(result.stderr).toBe('');
    const lines = result.stdout.trim().split('\n');
    expect(lines).toEqual([
      '[bare] skipped: no tests/ folder',
      expect.stringMatching(/^\[good\] import six \.\.\. ok \(\d+\.\d\ds\)$/),
      expect.stringMatching(/^\[good\] import json \.\.\. ok/),
      expect.stringMatching(/^\[good\] script check\.py \.\.\. ok/),
      expect.stringMatching(/^\[sys\] import yaml \.\.\. ok/),
      expect.stringMatching(/^\[wheely\] import tinypkg \.\.\. ok/),
      expect.stringMatching(/^image-test: 5 passed, 0 failed, 1 skipped in \d+\.\ds$/),
    ]);
    expect(result.stdout).not.toContain('nosuchmodule');
    expect(result.code).toBe(0);
  });

  it('--json: environment, item, result and seconds of each; --env limits the run', async () => {
    const result = await runBin('image-test', ['--json', '--env', 'wheely', '--env', 'bare'], { env });
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ image: `${REPO}:latest`, passed: 1, failed: 0, skipped: 1 });
    expect(report.results).toEqual([
      { environment: 'bare', item: '', kind: 'environment', result: 'skipped', seconds: 0, reason: 'no tests/ folder' },
      { environment: 'wheely', item: 'import tinypkg', kind: 'import', result: 'ok', seconds: expect.any(Number) },
    ]);
  });

  it('an unknown --env is a usage error naming the environments there are', async () => {
    const result = await runBin('image-test', ['--env', 'nope'], { env });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^image-test: .*nope.*bare, good, sys, wheely/);
  });

  it('a broken import and a failing .py test: exit 1, each named with its output', async () => {
    writeFileSync(tests('good/tests/imports'), 'six\nnosuchmodule_xyz\n# alsonotamodule\n');
    writeFileSync(tests('good/tests/broken.py'), 'print("before the failure")\nraise SystemExit("broken test says no")\n');
    const build = await runBin('image-build', [], { env });
    expect(build.code).toBe(0);
    const result = await runBin('image-test', [], { env });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^\[good\] import nosuchmodule_xyz \.\.\. FAIL/m);
    expect(result.stdout).toContain("ModuleNotFoundError: No module named 'nosuchmodule_xyz'");
    expect(result.stdout).toMatch(/^\[good\] script broken\.py \.\.\. FAIL/m);
    expect(result.stdout).toContain('broken test says no');
    expect(result.stdout).not.toContain('alsonotamodule');
    expect(result.stdout).toMatch(/image-test: 4 passed, 2 failed, 1 skipped/);

    const json = JSON.parse((await runBin('image-test', ['--json', '--env', 'good'], { env })).stdout);
    expect(json.results.filter((r: { result: string }) => r.result === 'FAIL').map((r: { item: string }) => r.item)).toEqual([
      'import nosuchmodule_xyz',
      'script broken.py',
    ]);
  });

  it('an image without the runner fails clearly (exit 1)', async () => {
    await busyboxImage(engine);
    const result = await runBin('image-test', ['--image', BUSYBOX_IMAGE], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/has no test runner \/opt\/environments\/test/);
  });
});
