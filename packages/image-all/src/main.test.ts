import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '@imagewright/docker';
import { ENV_DEPLOYMENT, ensureEngine, removeChainTags, envDeploymentRoot, runBin } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = `imagewright-test/image-all-${process.pid}`;
let engine: Engine;
let root: string;
let env: NodeJS.ProcessEnv;
const missionFile = (path: string) => join(root, 'deployments', ENV_DEPLOYMENT, 'image', path);

beforeAll(async () => {
  engine = await ensureEngine();
  ({ root, env } = envDeploymentRoot(`${REPO}:latest`));
  env = { ...env, USE_FROZEN: '0' };
});
afterAll(async () => {
  await removeChainTags(engine, REPO);
});

describe('image-all', () => {
  it('build then test: a result line per step and a closing summary, exit 0', async () => {
    const result = await runBin('image-all', [], { env });
    expect(result.code).toBe(0);
    const own = result.stdout.split('\n').filter((l) => l.startsWith('image-all: '));
    expect(own).toEqual([
      expect.stringMatching(/^image-all: build ok in \d/),
      expect.stringMatching(/^image-all: test ok in \d/),
      expect.stringMatching(/^image-all: pipeline succeeded: build, test in \d/),
    ]);
    // The steps' own output streams through: image-build's image line, image-test's items.
    expect(result.stdout).toContain(`${REPO}:latest sha256:`);
    expect(result.stdout).toMatch(/^\[wheely\] import tinypkg \.\.\. ok/m);
  });

  it('--only test --json: just that step; stdout is only the JSON summary', async () => {
    const result = await runBin('image-all', ['--only', 'test', '--json'], { env });
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({ result: 'ok', steps: [{ step: 'test', command: 'image-test', result: 'ok', exitCode: 0 }] });
    expect(result.stderr).toContain('[good] import six ... ok');
  });

  it('a failing test: exit 1 (the original exited 0), the failing step named', async () => {
    const imports = missionFile('environments/wheely/tests/imports');
    writeFileSync(imports, 'tinypkg\nnot_a_module_at_all\n');
    try {
      const result = await runBin('image-all', [], { env });
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/^image-all: build ok/m);
      expect(result.stdout).toMatch(/^image-all: test failed \(exit 1\)/m);
      expect(result.stdout).toMatch(/^image-all: pipeline failed at test \(/m);
      // --from test resumes there without rebuilding: same failure.
      const resumed = await runBin('image-all', ['--from', 'test', '--json'], { env });
      expect(resumed.code).toBe(1);
      expect(JSON.parse(resumed.stdout).steps.map((s: { step: string }) => s.step)).toEqual(['test']);
    } finally {
      writeFileSync(imports, 'tinypkg\n');
    }
  });

  it('a failing build stops the pipeline: test not run', async () => {
    const custom = missionFile('Dockerfile.custom');
    const original = readFileSync(custom, 'utf8');
    writeFileSync(custom, `${original}RUN echo "build breaks here" && false\n`);
    try {
      const result = await runBin('image-all', ['--json'], { env });
      expect(result.code).toBe(1);
      expect(JSON.parse(result.stdout)).toMatchObject({
        result: 'failed',
        steps: [
          { step: 'build', result: 'failed', exitCode: 1 },
          { step: 'test', result: 'not run' },
        ],
      });
      expect(result.stderr).toContain('build breaks here');
    } finally {
      writeFileSync(custom, original);
    }
  });

  it('an unknown step, or --from with --only, is a usage error: exit 2, nothing run', async () => {
    const unknown = await runBin('image-all', ['--from', 'deploy'], { env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim()).toBe('image-all: --from "deploy": allowed build, test');
    const both = await runBin('image-all', ['--from', 'build', '--only', 'test'], { env });
    expect(both.code).toBe(2);
    expect(both.stdout).toBe('');
  });
});
