import type { Engine } from '@imagewright/docker';
import { builtEnvDeployment, ensureEngine, removeChainTags, runBin } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = `imagewright-test/env-list-${process.pid}`;
let engine: Engine;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  engine = await ensureEngine();
  ({ env } = await builtEnvDeployment(REPO));
});
afterAll(async () => {
  await removeChainTags(engine, REPO);
});

describe('image-env-list', () => {
  it('without conda: the declared environments, one per line in a pipe', async () => {
    const result = await runBin('image-env-list', [], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('bare\ngood\nsys\nwheely\n');
  });

  it('--json: kind, prefix and interpreter of each, checked inside the image', async () => {
    const result = await runBin('image-env-list', ['--json'], { env });
    expect(result.code).toBe(0);
    const list = JSON.parse(result.stdout);
    expect(list.map((e: { name: string; kind: string; prefix: string }) => [e.name, e.kind, e.prefix])).toEqual([
      ['bare', 'system', '/usr'],
      ['good', 'venv', '/opt/envs/good'],
      ['sys', 'system', '/usr'],
      ['wheely', 'venv', '/opt/envs/wheely'],
    ]);
    // The interpreters named are the ones that run: each imports its environment's package.
    const good = list.find((e: { name: string }) => e.name === 'good');
    const run = await runBin('image-exec', [good.python, '-c', 'import six, sys; print(sys.prefix)'], { env });
    expect(run.stdout.trim()).toBe('/opt/envs/good');
  });
});
