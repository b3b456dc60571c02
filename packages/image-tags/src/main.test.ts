import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  BUSYBOX_IMAGE,
  MEDIA,
  REPO_ROOT,
  busyboxImage,
  dockerConfigWith,
  ensureEngine,
  indexOf,
  labelledImage,
  putManifestHttp,
  runRegistryCommand,
  skopeo,
  startPagingProxy,
  startRegistryFixture,
  type BinResult,
  type PagingProxy,
  type PlainRegistryFixture,
  type Registry,
} from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The built bin against a real registry (docker-registry, htpasswd) behind a proxy that pages its tag
// lists two at a time (Debian's registry 2.8 does not page), skopeo as the independent client.
let fx: PlainRegistryFixture<PagingProxy>;
let registry: Registry;
let proxy: PagingProxy;
let loggedIn: string;
let env: NodeJS.ProcessEnv;
const RUN = `t${process.pid}`;
const REPO = `${RUN}/many`;
/** tag → digest, per skopeo. */
const expected = new Map<string, string>();

beforeAll(async () => {
  const engine = await ensureEngine();
  await busyboxImage(engine);
  const other = await labelledImage(engine, 'tags');
  fx = await startRegistryFixture({ deployment: 'demo', front: (r) => startPagingProxy(r.host, 2) });
  ({ registry, front: proxy, loggedIn } = fx);
  env = { ...fx.env, IMAGE_REPO: REPO };
  // Seven tags over four manifests (one of them an OCI index): four pages of two.
  const at = (tag: string) => `${proxy.host}/${REPO}:${tag}`;
  for (const tag of ['latest', 'v1', 'v1-abc1234']) expected.set(tag, skopeo.push(loggedIn, BUSYBOX_IMAGE, at(tag)));
  for (const tag of ['latest-dev', 'unscanned-latest-dev']) expected.set(tag, skopeo.push(loggedIn, other, at(tag)));
  expected.set('oci', skopeo.push(loggedIn, other, at('oci'), 'oci'));
  const children = ['v1', 'oci'].map((tag) => ({ mediaType: tag === 'oci' ? MEDIA.ociManifest : MEDIA.dockerManifest, body: skopeo.raw(loggedIn, at(tag)) }));
  expected.set('multi', await putManifestHttp(proxy.host, registry, REPO, 'multi', MEDIA.ociIndex, indexOf(MEDIA.ociIndex, children)));
  // The oracle agrees with itself through the pages.
  expect(skopeo.tags(loggedIn, `${proxy.host}/${REPO}`)).toEqual([...expected.keys()].sort());
});

afterAll(() => fx?.stop());

const tags = (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<BinResult> => runRegistryCommand(fx, 'image-tags', args, { repo: REPO, env: extra });

const sorted = () => [...expected].sort(([a], [b]) => (a < b ? -1 : 1));

describe('image-tags', () => {
  it('lists every tag with its digest through all pages: TAG DIGEST lines in a pipe, as skopeo sees them', async () => {
    const before = await proxy.tagPages();
    const r = await tags([]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe(sorted().map(([tag, digest]) => `${tag} ${digest}\n`).join(''));
    // 7 tags, 2 a page: the bin followed the Link headers through 4 pages.
    expect((await proxy.tagPages()) - before).toBe(4);
  });

  it('--json is [{tag, digest}]', async () => {
    const r = await tags(['--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(sorted().map(([tag, digest]) => ({ tag, digest })));
  });

  it('a table on a terminal', () => {
    // script(1) gives the bin a terminal.
    const bin = join(REPO_ROOT, 'packages', 'image-tags', 'dist', 'main.js');
    const r = spawnSync('script', ['-qec', bin, '/dev/null'], { env: { ...process.env, ...env, NO_COLOR: '1' }, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const lines = r.stdout.replace(/\r/g, '').trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TAG {3,}DIGEST$/);
    expect(lines.slice(1).map((l) => l.split(/ +/))).toEqual(sorted());
    // Columns line up: every digest starts where the header's DIGEST does.
    expect(new Set(lines.map((l) => l.search(/DIGEST|sha256:/)))).toHaveProperty('size', 1);
  });

  it('REPO names another repository', async () => {
    const digest = skopeo.push(loggedIn, BUSYBOX_IMAGE, `${proxy.host}/${RUN}/other:only`);
    expect(await tags([`${RUN}/other`])).toMatchObject({ code: 0, stdout: `only ${digest}\n` });
    expect(await tags(['Not/A/Repo'])).toMatchObject({ code: 2, stdout: '' });
  });

  it('a missing repository or wrong credentials: one line naming registry, repository and HTTP status, exit 1', async () => {
    const missing = await tags([`${RUN}/nosuch`]);
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toMatch(new RegExp(`^image-tags: registry ${proxy.host}: ${RUN}/nosuch: [^\\n]*HTTP 404[^\\n]*\\n$`));
    const wrong = dockerConfigWith({ [proxy.host]: { username: registry.username, password: 'not-the-password' } });
    const denied = await tags([], { DOCKER_CONFIG: wrong });
    expect(denied).toMatchObject({ code: 1, stdout: '' });
    expect(denied.stderr).toMatch(new RegExp(`^image-tags: registry ${proxy.host}: ${REPO}: [^\\n]*HTTP 401[^\\n]*\\n$`));
    expect(denied.stderr).not.toContain('not-the-password');
  });
});
