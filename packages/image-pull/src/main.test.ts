import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imageIdOf, type Engine } from '@imagewright/docker';
import {
  busyboxImage,
  dockerConfigWith,
  ensureEngine,
  labelledImage,
  runBin,
  skopeo,
  startEcrFixture,
  startFaultyProxy,
  startRegistryFixture,
  type Ecr,
  type EcrFixture,
  type PlainRegistryFixture,
  type Registry,
} from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The built bin against the real Engine and a real registry; images are put there by skopeo
// (independent of our push), and the Engine's own view (image IDs, tags) checks what was pulled.
let engine: Engine;
let fx: PlainRegistryFixture;
let registry: Registry;
let loggedIn: string;
const RUN = `pull${process.pid}`;
/** Two images with different IDs, each only under its own local tag (so it can be removed whole). */
let imageA: { tag: string; id: string };
let imageB: { tag: string; id: string };
const repos: string[] = [];

const envFor = (host: string, repo: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
  repos.push(`${host}/${repo}`);
  return { ...fx.env, PERSONAL_IMAGE: '1', REGISTRY: host, IMAGE_REPO: repo, ...extra };
};
const pull = (args: string[], env: NodeJS.ProcessEnv) => runBin('image-pull', args, { env });
const lastLine = (text: string) => text.trimEnd().split('\n').pop();

async function uniqueImage(label: string): Promise<{ tag: string; id: string }> {
  const tag = await labelledImage(engine, `${RUN}-${label}`);
  return { tag, id: (await imageIdOf(engine, tag))! };
}

beforeAll(async () => {
  engine = await ensureEngine();
  await busyboxImage(engine);
  fx = await startRegistryFixture();
  ({ registry, loggedIn } = fx);
  imageA = await uniqueImage('a');
  imageB = await uniqueImage('b');
  skopeo.push(loggedIn, imageA.tag, `${registry.host}/${RUN}/app:latest`);
});

afterAll(async () => {
  await fx?.stop();
  const tags = (await engine.listImages()).flatMap((i) => i.RepoTags ?? []);
  const ours = tags.filter((t) => repos.some((r) => t.startsWith(`${r}:`)) || t === imageA?.tag || t === imageB?.tag);
  for (const tag of ours) await engine.getImage(tag).remove({ force: true }).catch(() => undefined);
});

describe('image-pull', () => {
  it('pulls the approved tag into an engine that lacks the image; prints REF ID', async () => {
    const gone = await uniqueImage('gone');
    const ref = `${registry.host}/${RUN}/gone:latest`;
    skopeo.push(loggedIn, gone.tag, ref);
    // The Engine loses the image entirely: no tag, no ID.
    await engine.getImage(gone.tag).remove();
    expect(await imageIdOf(engine, gone.id)).toBeUndefined();

    const r = await pull([], envFor(registry.host, `${RUN}/gone`));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${ref} ${gone.id}\n`);
    expect(await imageIdOf(engine, ref)).toBe(gone.id);
    // Plain progress in a pipe.
    expect(r.stderr).toMatch(/^Status: Downloaded newer image for /m);
    expect(r.stderr).not.toContain('[=');
  });

  it('a re-pull of a changed image keeps the replaced one as <tag>-previous; an unchanged one moves nothing', async () => {
    const ref = `${registry.host}/${RUN}/changing:latest`;
    const env = envFor(registry.host, `${RUN}/changing`);
    skopeo.push(loggedIn, imageA.tag, ref);
    const first = await pull(['--json'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ ref, id: imageA.id, previous: null, backup: null });

    skopeo.push(loggedIn, imageB.tag, ref);
    const second = await pull(['--json'], env);
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toEqual({ ref, id: imageB.id, previous: imageA.id, backup: `${ref}-previous` });
    expect(second.stderr).toContain(`image-pull: the replaced image ${imageA.id} is kept as ${ref}-previous`);
    expect(await imageIdOf(engine, ref)).toBe(imageB.id);
    expect(await imageIdOf(engine, `${ref}-previous`)).toBe(imageA.id);

    const third = await pull([], env);
    expect(third.stdout).toBe(`${ref} ${imageB.id}\n`);
    expect(third.stderr).not.toContain('kept as');
    expect(await imageIdOf(engine, `${ref}-previous`)).toBe(imageA.id);
  });

  it('with quarantine, the default is <tag>-<env>, never the unscanned- tag; REF names another', async () => {
    const repo = `${registry.host}/${RUN}/q`;
    skopeo.push(loggedIn, imageA.tag, `${repo}:latest-test`);
    skopeo.push(loggedIn, imageB.tag, `${repo}:unscanned-latest-test`);
    const env = envFor(registry.host, `${RUN}/q`, { IMAGE_QUARANTINE: '1', ENVIRONMENT: 'test' });
    const approved = await pull([], env);
    expect(approved.stdout).toBe(`${repo}:latest-test ${imageA.id}\n`);
    const named = await pull([`${repo}:unscanned-latest-test`], env);
    expect(named.stdout).toBe(`${repo}:unscanned-latest-test ${imageB.id}\n`);
  });

  it('registry errors are exit 1 in one line naming registry, repository and status: 401 without credentials, 404 for a missing tag', async () => {
    const anonymous = await pull([], envFor(registry.host, `${RUN}/app`, { DOCKER_CONFIG: mkdtempSync(join(tmpdir(), 'imagewright-empty-')) }));
    expect(anonymous).toMatchObject({ code: 1, stdout: '' });
    expect(lastLine(anonymous.stderr)).toBe(`image-pull: registry ${registry.host}: ${RUN}/app: pull of ${registry.host}/${RUN}/app:latest: HTTP 401 Unauthorized`);

    const missing = await pull([], envFor(registry.host, `${RUN}/app`, { IMAGE_TAG: 'no-such-tag' }));
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(missing.stderr).toBe(`image-pull: registry ${registry.host}: ${RUN}/app: pull of ${registry.host}/${RUN}/app:no-such-tag: HTTP 404 Not Found\n`);
  });

  it('retries a 5xx, and after the retries gives one line with the status', async () => {
    // The Engine asks HEAD, then GET when HEAD fails: the first attempt fails both.
    let asked = 0;
    const proxy = await startFaultyProxy(registry.host, (_req, path) => {
      if (!path.includes('/manifests/')) return 'pass';
      asked++;
      return path.endsWith('/down') || asked <= 2 ? { status: 503, body: 'busy' } : 'pass';
    });
    try {
      const env = envFor(proxy.host, `${RUN}/app`, { DOCKER_CONFIG: dockerConfigWith({ [proxy.host]: registry }) });
      const flaky = await pull([], env);
      expect(flaky.code, flaky.stderr).toBe(0);
      expect(flaky.stderr).toContain('image-pull: HTTP 503 Service Unavailable; attempt 2 of 4 in 1s');
      expect(flaky.stdout).toBe(`${proxy.host}/${RUN}/app:latest ${imageA.id}\n`);

      const down = await pull([`${proxy.host}/${RUN}/app:down`], env);
      expect(down.code).toBe(1);
      expect(lastLine(down.stderr)).toBe(`image-pull: registry ${proxy.host}: ${RUN}/app: pull of ${proxy.host}/${RUN}/app:down: HTTP 503 Service Unavailable (after 4 tries)`);
    } finally {
      await proxy.stop();
    }
  });

  it('bad input is exit 2 with nothing pulled: no registry and no REF, an empty REF, two REFs', async () => {
    const env = envFor(registry.host, `${RUN}/app`);
    const none = await pull([], { ...env, REGISTRY: '' });
    expect(none).toMatchObject({ code: 2, stdout: '' });
    expect(none.stderr).toMatch(/^image-pull: no registry is configured: .*\n$/);
    expect(await pull([''], env)).toMatchObject({ code: 2, stderr: 'image-pull: REF is empty: allowed an image reference (name[:tag], name@digest)\n' });
    expect(await pull(['a', 'b'], env)).toMatchObject({ code: 2, stderr: expect.stringContaining('unexpected argument "b"') });
  });
});

describe('image-pull from ECR (the AWS stand-in, the unmodified SDK)', () => {
  let ecrFx: EcrFixture;
  let ecrRegistry: Registry;
  let ecr: Ecr;
  beforeAll(async () => {
    ecrFx = await startEcrFixture();
    ({ registry: ecrRegistry, ecr } = ecrFx);
  });
  afterAll(() => ecrFx?.stop());

  it('pulls the approved tag (<tag>-<env>) with a fresh token, nothing stored beforehand', async () => {
    const repo = `${ecrRegistry.host}/${RUN}/ecr`;
    repos.push(repo);
    skopeo.push(ecrFx.loggedIn, imageB.tag, `${repo}:latest-dev`);
    // The fixture's DOCKER_CONFIG is empty: nothing stored beforehand.
    const env = { ...ecrFx.env, IMAGE_REPO: `${RUN}/ecr`, ENVIRONMENT: 'dev' };
    const r = await pull([], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${repo}:latest-dev ${imageB.id}\n`);
    expect(ecr.calls.map((c) => c.operation)).toContain('GetAuthorizationToken');
    expect(r.stderr).not.toMatch(/NodeVersionSupportWarning|AWS SDK/);
  });
});
