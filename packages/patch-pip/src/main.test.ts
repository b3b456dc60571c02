import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '@imagewright/docker';
import { buildWheel, builtEnvDeployment, childImagesOf, ENV_DEPLOYMENT, ensureEngine, patchContainersOf, removeChainTags, runBin, runInImage, untarFiles } from '@imagewright/testing';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The real thing: the env test deployment (environment wheely: a venv with tinypkg 0.1.0 from a
// local wheel, pip offline) built on the Engine, patched by the built bin with wheels built in
// it; what is installed is asked of the venv's own python in a container of the result.
const REPO = `imagewright-test/patch-pip-${process.pid}`;
const IMAGE = `${REPO}:latest`;
const VERSION_OF_TINYPKG = ['/opt/envs/wheely/bin/python', '-c', "import importlib.metadata as m; print(m.version('tinypkg'))"];
let engine: Engine;
let env: NodeJS.ProcessEnv;
let ledger: string;
let wheels: string;
let good: string;
let broken: string;

const idOf = async (ref: string) => (await engine.getImage(ref).inspect()).Id;
const short = (id: string) => id.slice(7, 19);
const patchContainers = (source: string) => patchContainersOf(engine, source);
const childrenOf = (id: string) => childImagesOf(engine, id);
/** The image the frame committed and then checked: it says "checking <short id>". */
const checked = (stderr: string) => stderr.match(/checking ([0-9a-f]{12})/)?.[1];

async function tinypkgVersion(image: string): Promise<string> {
  const run = await runInImage(engine, image, VERSION_OF_TINYPKG);
  expect(run.code, run.stderr).toBe(0);
  return run.stdout.trim();
}

beforeAll(async () => {
  engine = await ensureEngine();
  const built = await builtEnvDeployment(REPO);
  env = built.env;
  ledger = join(built.root, 'deployments', ENV_DEPLOYMENT, 'patches.yaml');
  wheels = mkdtempSync(join(tmpdir(), 'imagewright-patch-pip-'));
  good = await buildWheel(engine, IMAGE, { name: 'tinypkg', version: '0.2.0', init: 'ANSWER = 43\n' }, wheels);
  broken = await buildWheel(engine, IMAGE, { name: 'tinypkg', version: '0.3.0', init: 'raise ImportError("tinypkg 0.3.0 is broken on purpose")\n' }, wheels);
});

afterAll(async () => {
  if (wheels) rmSync(wheels, { recursive: true, force: true });
  if (!engine) return;
  await removeChainTags(engine, REPO);
  // The pre-patch-<id> backups (and anything else tagged in the test's repository).
  const tags = (await engine.listImages()).flatMap((i) => i.RepoTags ?? []).filter((t) => t.startsWith(`${REPO}:`));
  for (const ref of tags) await engine.getImage(ref).remove().catch(() => undefined);
});

describe('patch-pip', () => {
  it('bad input: unknown ENV names the environments there are, a bad PACKAGE, a missing wheel: exit 2, one line, nothing changed', async () => {
    const src = await idOf(IMAGE);
    const cases: [string[], RegExp][] = [
      [['nosuchenv', good], /^patch-pip: ENV nosuchenv: not an environment of .*; allowed bare, good, sys, wheely$/],
      [['wheely', 'tinypkg>=0.2'], /^patch-pip: PACKAGE "tinypkg>=0\.2": allowed NAME, NAME==VERSION or a local \.whl file$/],
      [['wheely', 'tinypkg==0.2==0.3'], /^patch-pip: PACKAGE "tinypkg==0\.2==0\.3": allowed/],
      [['wheely', join(wheels, 'nosuch-1.0-py3-none-any.whl')], /^patch-pip: PACKAGE .*nosuch-1\.0-py3-none-any\.whl: no such wheel file; allowed/],
      [['wheely/../x', good], /^patch-pip: ENV "wheely\/\.\.\/x": allowed an environment name/],
    ];
    for (const [args, message] of cases) {
      const result = await runBin('patch-pip', [...args, '--author', 'ops@example.org'], { env });
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr.trim()).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(await idOf(IMAGE)).toBe(src);
    expect(await childrenOf(src)).toEqual([]);
    expect(await patchContainers(src)).toEqual([]);
    expect(existsSync(ledger)).toBe(false);
  });

  it('a wheel that breaks the tests: exit 1, the tag unchanged, the committed image removed', async () => {
    const src = await idOf(IMAGE);
    const result = await runBin('patch-pip', ['wheely', broken, '--author', 'ops@example.org'], { env });
    expect(result.code, result.stderr).toBe(1);
    // pip installed it (the patch script succeeded); the environment's own tests caught it.
    expect(result.stderr).toMatch(/Successfully installed tinypkg-0\.3\.0/);
    expect(result.stderr).toMatch(/^\[wheely\] import tinypkg \.\.\. FAIL/m);
    expect(result.stderr).toContain('tinypkg 0.3.0 is broken on purpose');
    expect(result.stderr).toMatch(/patch-pip: the tests of wheely failed on the patched image \(1 failed, 0 passed\): tag not moved/);
    const committed = checked(result.stderr);
    expect(committed).toBeDefined();
    await expect(engine.getImage(committed!).inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect(await idOf(IMAGE)).toBe(src);
    await expect(engine.getImage(`${REPO}:pre-patch-${short(src)}`).inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect(await childrenOf(src)).toEqual([]);
    expect(await patchContainers(src)).toEqual([]);
    expect(existsSync(ledger)).toBe(false);
    expect(await tinypkgVersion(IMAGE)).toBe('0.1.0');
  });

  it('a good wheel: installed with the env\'s pip, its tests pass, the tag moves, the wheel kept in the record', async () => {
    const src = await idOf(IMAGE);
    expect(await tinypkgVersion(src)).toBe('0.1.0');
    const result = await runBin('patch-pip', ['wheely', good, '--author', 'ops@example.org', '--json'], { env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/Successfully installed tinypkg-0\.2\.0/);
    expect(result.stderr).toMatch(/^\[wheely\] import tinypkg \.\.\. ok \(\d+\.\d\ds\)$/m);
    // Only wheely's tests run.
    expect(result.stderr).not.toMatch(/^\[(good|sys|bare)\]/m);
    const out = JSON.parse(result.stdout);
    expect(out).toMatchObject({ tag: IMAGE, previous: src, backup: `${REPO}:pre-patch-${short(src)}`, exitStatus: 0 });
    expect(short(out.id)).toBe(checked(result.stderr));
    expect(await idOf(IMAGE)).toBe(out.id);
    expect(await idOf(out.backup)).toBe(src);
    // The positive case of what the failure tests check: the commit is a child of the source.
    expect(await childrenOf(src)).toEqual([out.id]);
    expect(await tinypkgVersion(IMAGE)).toBe('0.2.0');
    const answer = await runInImage(engine, IMAGE, ['/opt/envs/wheely/bin/python', '-c', 'import tinypkg; print(tinypkg.ANSWER)']);
    expect(answer.stdout.trim()).toBe('43');
    expect(await tinypkgVersion(src)).toBe('0.1.0');

    const dir = `opt/patches/${short(src)}`;
    const container = await engine.createContainer({ Image: out.id, Cmd: ['true'] });
    let files: Map<string, Buffer>;
    try {
      files = await untarFiles((await container.getArchive({ path: `/${dir}` })) as unknown as NodeJS.ReadableStream);
    } finally {
      await container.remove({ force: true });
    }
    const record = (name: string) => files.get(`${short(src)}/${name}`);
    const metadata = parse(record('metadata.yaml')!.toString());
    expect(metadata).toMatchObject({ author: 'ops@example.org', description: 'pip wheely: tinypkg-0.2.0-py3-none-any.whl', files: ['tinypkg-0.2.0-py3-none-any.whl'], exitStatus: 0 });
    expect(record('tinypkg-0.2.0-py3-none-any.whl')?.equals(readFileSync(good))).toBe(true);
    expect(record(metadata.script.name)?.toString()).toContain('/opt/common-scripts/imagewright-env pip wheely install --no-cache-dir ./tinypkg-0.2.0-py3-none-any.whl');
    const entries = parse(readFileSync(ledger, 'utf8')).patches;
    expect(entries).toEqual([expect.objectContaining({ command: 'patch-pip', description: 'pip wheely: tinypkg-0.2.0-py3-none-any.whl', result: expect.objectContaining({ id: out.id, tag: IMAGE }) })]);
    expect(await patchContainers(src)).toEqual([]);
  });

  it('--no-test: the broken wheel is committed and the tag moves (no test ran)', async () => {
    const src = await idOf(IMAGE);
    const result = await runBin('patch-pip', ['wheely', broken, '--no-test', '--author', 'ops@example.org', '--description', 'known broken', '--json', '--no-ledger'], { env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(/^\[wheely\]/m);
    expect(checked(result.stderr)).toBeUndefined();
    const out = JSON.parse(result.stdout);
    expect(out).toMatchObject({ tag: IMAGE, previous: src, backup: `${REPO}:pre-patch-${short(src)}` });
    expect(await idOf(IMAGE)).toBe(out.id);
    expect(await tinypkgVersion(IMAGE)).toBe('0.3.0');
    expect(await patchContainers(src)).toEqual([]);
  });
});
