import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '@imagewright/docker';
import { dockerConfigWith, ENV_DEPLOYMENT, ensureEngine, removeChainTags, envDeploymentRoot, type OsvServer, runBin, skopeo, startOsvServer, startRegistry, type Registry } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = `imagewright-test/image-all-${process.pid}`;
let engine: Engine;
let root: string;
let env: NodeJS.ProcessEnv;
/** Where the push step goes: a real registry, logged in through DOCKER_CONFIG. */
let registry: Registry;
let loggedIn: string;
/** The sscan step's dependency advisories: a loopback OSV API (the public one is not reachable here). */
let osv: OsvServer;
const missionFile = (path: string) => join(root, 'deployments', ENV_DEPLOYMENT, 'image', path);

beforeAll(async () => {
  engine = await ensureEngine();
  ({ root, env } = envDeploymentRoot(`${REPO}:latest`));
  registry = await startRegistry();
  loggedIn = dockerConfigWith({ [registry.host]: registry });
  // CI='': the pipeline as users run it (CI=true adds the sscan step first: its own tests below).
  osv = await startOsvServer([]);
  env = { ...env, USE_FROZEN: '0', REGISTRY: registry.host, DOCKER_CONFIG: loggedIn, CI: '', IMAGEWRIGHT_OSV_URL: osv.url };
});
afterAll(async () => {
  await osv?.close();
  await registry?.stop();
  await removeChainTags(engine, REPO);
  if (registry) await engine.getImage(`${registry.host}/${REPO}:latest`).remove().catch(() => {});
});

describe('image-all', () => {
  it('build, test, push: a result line per step and a closing summary, exit 0; the registry has the image', async () => {
    const result = await runBin('image-all', [], { env });
    expect(result.code).toBe(0);
    const own = result.stdout.split('\n').filter((l) => l.startsWith('image-all: '));
    expect(own).toEqual([
      expect.stringMatching(/^image-all: build ok in \d/),
      expect.stringMatching(/^image-all: test ok in \d/),
      expect.stringMatching(/^image-all: push ok in \d/),
      expect.stringMatching(/^image-all: pipeline succeeded: build, test, push in \d/),
    ]);
    // The steps' own output streams through: image-build's image line, image-test's items, image-push's REF DIGEST.
    expect(result.stdout).toContain(`${REPO}:latest sha256:`);
    expect(result.stdout).toMatch(/^\[wheely\] import tinypkg \.\.\. ok/m);
    const pushed = new RegExp(`^${registry.host}/${REPO}:latest (sha256:[0-9a-f]{64})$`, 'm').exec(result.stdout);
    expect(pushed).not.toBeNull();
    expect(skopeo.digest(loggedIn, `${registry.host}/${REPO}:latest`)).toBe(pushed![1]);
    // The mission image only: the common image's tag is not in the registry.
    expect(skopeo.tags(loggedIn, `${registry.host}/${REPO}`)).toEqual(['latest']);
  });

  it('squashes when deployment.yaml asks: onto the common image, before the push', async () => {
    const spec = join(root, 'deployments', ENV_DEPLOYMENT, 'deployment.yaml');
    writeFileSync(spec, 'squash:\n  onto: common\n');
    try {
      const before = await engine.getImage(`${REPO}:latest`).inspect();
      const common = await engine.getImage(`${REPO}:common-latest`).inspect();
      const result = await runBin('image-all', ['--from', 'squash', '--json'], { env });
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout).steps.map((s: { step: string; result: string }) => `${s.step} ${s.result}`)).toEqual(['squash ok', 'push ok']);
      expect(result.stderr).toContain(`==> squash: squash --onto ${REPO}:common-latest`);
      const after = await engine.getImage(`${REPO}:latest`).inspect();
      // The common image's layers stay shared; the mission's own become one.
      expect(after.RootFS.Layers).toEqual([...(common.RootFS.Layers ?? []), expect.stringMatching(/^sha256:/)]);
      expect(before.RootFS.Layers!.length).toBeGreaterThan(after.RootFS.Layers!.length);
      expect((await engine.getImage(`${REPO}:pre-squash`).inspect()).Id).toBe(before.Id);
      const pushed = JSON.parse(skopeo.run(loggedIn, ['inspect', `docker://${registry.host}/${REPO}:latest`]).toString('utf8'));
      expect(pushed.Layers).toHaveLength(after.RootFS.Layers!.length);
      // Without the squash entry there is no squash step.
      rmSync(spec);
      const plain = await runBin('image-all', ['--only', 'test', '--json'], { env });
      expect(JSON.parse(plain.stdout).steps.map((s: { step: string }) => s.step)).toEqual(['test']);
    } finally {
      rmSync(spec, { force: true });
      await engine.getImage(`${REPO}:pre-squash`).remove().catch(() => {});
    }
  });

  it("scans after the push when deployment.yaml asks: the OSV backend offline, the gate in the result lines", async () => {
    const dir = join(root, 'deployments', ENV_DEPLOYMENT);
    const spec = join(dir, 'deployment.yaml');
    // An advisory for the wheel the wheely venv installs (tinypkg 0.1.0): affected below 0.2.0, HIGH.
    mkdirSync(join(dir, 'advisories'), { recursive: true });
    writeFileSync(
      join(dir, 'advisories', 'TEST-2026-1.json'),
      JSON.stringify({
        id: 'TEST-2026-1',
        modified: '2026-11-01T00:00:00Z',
        summary: 'tinypkg answers 42',
        database_specific: { severity: 'HIGH' },
        affected: [{ package: { ecosystem: 'PyPI', name: 'tinypkg' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '0.2.0' }] }] }],
      }),
    );
    const scanFile = join(root, '.imagewright', 'scans', `${REPO.replace(/\//g, '-')}-latest.json`);
    try {
      writeFileSync(spec, 'scan:\n  backend: osv\n  advisories: advisories\n');
      const failed = await runBin('image-all', ['--only', 'scan'], { env });
      expect(failed.code).toBe(1);
      expect(failed.stdout).toMatch(/^image-all: scan failed \(exit 1\) in .*: gate FAILED: 1 at or above HIGH$/m);
      expect(failed.stdout).toMatch(/^image-all: pipeline failed at scan \(gate FAILED: 1 at or above HIGH\)/m);
      expect(failed.stdout).toMatch(/\tHIGH\tTEST-2026-1\ttinypkg\t0\.1\.0\t0\.2\.0\tlang$/m);
      const kept = JSON.parse(readFileSync(scanFile, 'utf8'));
      expect(kept.gate).toMatchObject({ failOn: 'HIGH', passed: false, failing: 1 });

      writeFileSync(spec, 'scan:\n  backend: osv\n  advisories: advisories\n  fail-on: critical\n');
      const passed = await runBin('image-all', ['--only', 'scan', '--json'], { env });
      expect(passed.code).toBe(0);
      expect(JSON.parse(passed.stdout).steps).toEqual([expect.objectContaining({ step: 'scan', result: 'ok', gate: 'gate passed: nothing at or above CRITICAL' })]);

      // Without a scan entry (and no ECR) there is no scan step.
      rmSync(spec);
      rmSync(scanFile);
      const none = await runBin('image-all', ['--only', 'scan', '--json'], { env });
      expect(none.code).toBe(0);
      expect(JSON.parse(none.stdout).steps).toEqual([]);
      expect(existsSync(scanFile)).toBe(false);
    } finally {
      rmSync(spec, { force: true });
      rmSync(join(dir, 'advisories'), { recursive: true, force: true });
    }
  });

  it('push without a registry: exit 2 from the push step, named in the summary', async () => {
    const result = await runBin('image-all', ['--only', 'push', '--json'], { env: { ...env, REGISTRY: '' } });
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ result: 'failed', steps: [{ step: 'push', command: 'image-push', result: 'failed', exitCode: 2 }] });
    expect(result.stderr).toContain('image-push: no registry is configured');
  });

  it('--only test --json: just that step; stdout is only the JSON summary', async () => {
    const result = await runBin('image-all', ['--only', 'test', '--json'], { env });
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({ result: 'ok', steps: [{ step: 'test', command: 'image-test', result: 'ok', exitCode: 0 }] });
    expect(result.stderr).toContain('[good] import six ... ok');
  });

  it('a failing test: exit 1 (the original exited 0), the failing step named, push not run', async () => {
    const imports = missionFile('environments/wheely/tests/imports');
    writeFileSync(imports, 'tinypkg\nnot_a_module_at_all\n');
    try {
      const result = await runBin('image-all', [], { env });
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/^image-all: build ok/m);
      expect(result.stdout).toMatch(/^image-all: test failed \(exit 1\)/m);
      expect(result.stdout).toMatch(/^image-all: pipeline failed at test; not run: push \(/m);
      // --from test resumes there without rebuilding: same failure.
      const resumed = await runBin('image-all', ['--from', 'test', '--json'], { env });
      expect(resumed.code).toBe(1);
      expect(JSON.parse(resumed.stdout).steps.map((s: { step: string; result: string }) => `${s.step} ${s.result}`)).toEqual(['test failed', 'push not run']);
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
          { step: 'push', result: 'not run' },
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
    expect(unknown.stderr.trim()).toBe('image-all: --from "deploy": allowed sscan, build, test, squash, push, scan');
    const both = await runBin('image-all', ['--from', 'build', '--only', 'test'], { env });
    expect(both.code).toBe(2);
    expect(both.stdout).toBe('');
  });
});

describe('image-all: the sscan step', () => {
  it('--only sscan scans the deployment and common: every tool ran, its result line', async () => {
    const result = await runBin('image-all', ['--only', 'sscan', '--json'], { env });
    const steps = JSON.parse(result.stdout).steps;
    expect(steps.map((s: { step: string; result: string }) => `${s.step} ${s.result}`)).toEqual(['sscan ok']);
    expect(result.stderr).toMatch(/==== sscan-bandit ====/);
    expect(result.stderr).toMatch(/==== sscan-deps ====/);
    expect(result.code).toBe(0);
  });

  it('in CI it runs first: a bandit finding in the deployment stops the pipeline before build', async () => {
    const tool = missionFile('tool');
    writeFileSync(tool, '#!/usr/bin/env python\nimport subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n');
    try {
      const result = await runBin('image-all', [], { env: { ...env, CI: 'true' } });
      expect(result.stdout).toMatch(/^image-all: sscan failed \(exit 1\)/m);
      expect(result.stdout).toMatch(/^image-all: pipeline failed at sscan; not run: build, test, push \(/m);
      expect(result.stdout).toMatch(/tool:6: \[B602/);
      expect(result.code).toBe(1);
      // Outside CI the same pipeline starts at build: --from build is how CI skips it.
      const plain = await runBin('image-all', ['--only', 'sscan', '--json'], { env });
      expect(plain.code).toBe(1);
    } finally {
      rmSync(tool, { force: true });
    }
  });
});

