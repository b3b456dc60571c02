import {
  BUSYBOX_IMAGE,
  MEDIA,
  busyboxImage,
  dockerConfigWith,
  ensureEngine,
  indexOf,
  labelledImage,
  putManifestHttp,
  runRegistryCommand,
  sha256,
  skopeo,
  startRegistryFixture,
  type BinResult,
  type PlainRegistryFixture,
  type Registry,
} from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The built bin against a real registry (docker-registry, htpasswd), skopeo as the independent
// client that pushes the images and checks every result.
let fx: PlainRegistryFixture;
let registry: Registry;
let loggedIn: string;
let other: string;
const RUN = `t${process.pid}`;

beforeAll(async () => {
  const engine = await ensureEngine();
  await busyboxImage(engine);
  other = await labelledImage(engine, 'promote');
  fx = await startRegistryFixture({ deployment: 'demo' });
  ({ registry, loggedIn } = fx);
});

afterAll(() => fx?.stop());

/** image-promote in repository `repo`, logged in; the secret is in no output. */
const promote = (repo: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<BinResult> =>
  // No Engine: promotion happens in the registry, never through a pull.
  runRegistryCommand(fx, 'image-promote', args, { repo: `${RUN}/${repo}`, env: { DOCKER_HOST: 'unix:///nonexistent.sock', ...env } });

const ref = (repo: string, tag: string) => `${registry.host}/${RUN}/${repo}:${tag}`;

describe('image-promote', () => {
  it('with no arguments promotes <IMAGE_TAG>-<ENVIRONMENT> to the next environment: same bytes, same digest per skopeo', async () => {
    const digest = skopeo.push(loggedIn, BUSYBOX_IMAGE, ref('env', 'latest-dev'));
    const r = await promote('env', [], { ENVIRONMENT: 'dev' });
    expect(r).toMatchObject({ code: 0, stdout: `${ref('env', 'latest-dev')} → ${ref('env', 'latest-test')} ${digest}\n`, stderr: '' });
    expect(skopeo.raw(loggedIn, ref('env', 'latest-test')).equals(skopeo.raw(loggedIn, ref('env', 'latest-dev')))).toBe(true);
    expect(skopeo.digest(loggedIn, ref('env', 'latest-test'))).toBe(digest);

    const next = await promote('env', ['--json'], { ENVIRONMENT: 'test', IMAGE_TAG: 'latest' });
    expect(next.code).toBe(0);
    expect(JSON.parse(next.stdout)).toEqual({
      registry: registry.host, repository: `${RUN}/env`, from: 'latest-test', to: 'latest-prod', digest, mediaType: MEDIA.dockerManifest, previous: null,
    });
    expect(skopeo.tags(loggedIn, `${registry.host}/${RUN}/env`)).toEqual(['latest-dev', 'latest-prod', 'latest-test']);
  });

  it.each([
    ['a Docker v2 manifest', 'v2s2'],
    ['an OCI manifest', 'oci'],
    ['a Docker manifest list', MEDIA.dockerList],
    ['an OCI index', MEDIA.ociIndex],
  ])('FROM_TAG TO_TAG promotes %s byte for byte: the digest is the same per skopeo', async (_what, kind) => {
    const repo = `kind-${kind.replace(/\W+/g, '-')}`;
    let from: string;
    if (kind === 'v2s2' || kind === 'oci') {
      skopeo.push(loggedIn, BUSYBOX_IMAGE, ref(repo, 'rc'), kind);
      from = 'rc';
    } else {
      // A list over two real manifests of the repository (the registry checks they exist).
      const format = kind === MEDIA.dockerList ? 'v2s2' : 'oci';
      skopeo.push(loggedIn, BUSYBOX_IMAGE, ref(repo, 'amd64'), format);
      skopeo.push(loggedIn, other, ref(repo, 'arm64'), format);
      const children = ['amd64', 'arm64'].map((t) => ({ mediaType: format === 'oci' ? MEDIA.ociManifest : MEDIA.dockerManifest, body: skopeo.raw(loggedIn, ref(repo, t)) }));
      const body = indexOf(kind as typeof MEDIA.ociIndex, children);
      expect(await putManifestHttp(registry.host, registry, `${RUN}/${repo}`, 'rc', kind, body)).toBe(sha256(body));
      from = 'rc';
    }
    const before = skopeo.raw(loggedIn, ref(repo, from));
    const mediaType = (JSON.parse(before.toString('utf8')) as { mediaType: string }).mediaType;
    const r = await promote(repo, [from, 'stable', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ from, to: 'stable', digest: sha256(before), mediaType, previous: null });
    const after = skopeo.raw(loggedIn, ref(repo, 'stable'));
    expect(after.equals(before)).toBe(true);
    expect(skopeo.digest(loggedIn, ref(repo, 'stable'))).toBe(skopeo.digest(loggedIn, ref(repo, from)));
  });

  it('moves an existing TO_TAG and leaves every other tag alone; promoting again changes nothing', async () => {
    const digest = skopeo.push(loggedIn, BUSYBOX_IMAGE, ref('move', 'new'));
    const old = skopeo.push(loggedIn, other, ref('move', 'live'));
    skopeo.push(loggedIn, other, ref('move', 'keep'));
    const r = await promote('move', ['new', 'live']);
    expect(r).toMatchObject({ code: 0, stdout: `${ref('move', 'new')} → ${ref('move', 'live')} ${digest}\n`, stderr: `moved: ${registry.host}/${RUN}/move:live pointed at ${old}\n` });
    expect(skopeo.tags(loggedIn, `${registry.host}/${RUN}/move`)).toEqual(['keep', 'live', 'new']);
    expect(skopeo.digest(loggedIn, ref('move', 'live'))).toBe(digest);
    expect(skopeo.digest(loggedIn, ref('move', 'keep'))).toBe(old);
    const again = await promote('move', ['new', 'live']);
    expect(again).toMatchObject({ code: 0, stderr: `unchanged: ${registry.host}/${RUN}/move:live already pointed at ${digest}\n` });
  });

  it('FROM may be a digest', async () => {
    const digest = skopeo.push(loggedIn, other, ref('bydigest', 'x'));
    const r = await promote('bydigest', [digest, 'y']);
    expect(r).toMatchObject({ code: 0, stdout: `${registry.host}/${RUN}/bydigest@${digest} → ${ref('bydigest', 'y')} ${digest}\n` });
    expect(skopeo.digest(loggedIn, ref('bydigest', 'y'))).toBe(digest);
  });

  it('a missing FROM tag is exit 1 naming registry, repository, tag and status; nothing is put', async () => {
    skopeo.push(loggedIn, BUSYBOX_IMAGE, ref('missing', 'latest-test'));
    const r = await promote('missing', [], { ENVIRONMENT: 'dev' });
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: `image-promote: registry ${registry.host}: ${RUN}/missing: tag latest-dev not found (HTTP 404): nothing promoted\n` });
    expect(skopeo.tags(loggedIn, `${registry.host}/${RUN}/missing`)).toEqual(['latest-test']);
  });

  it('prod and sandbox have no next environment, one argument is not enough, bad tags are refused: exit 2, nothing asked', async () => {
    for (const ENVIRONMENT of ['prod', 'sandbox']) {
      const r = await promote('usage', [], { ENVIRONMENT });
      expect(r).toMatchObject({ code: 2, stdout: '', stderr: `image-promote: ENVIRONMENT=${ENVIRONMENT} has no next environment to promote to: allowed dev (→ test) or test (→ prod), or give FROM_TAG TO_TAG\n` });
    }
    // A registry that cannot answer: these fail before asking it.
    const nowhere = { REGISTRY: '127.0.0.1:1' };
    expect(await promote('usage', ['latest-dev'], nowhere)).toMatchObject({ code: 2, stderr: 'image-promote: give both FROM_TAG and TO_TAG, or neither (the next environment): usage: image-promote [FROM_TAG TO_TAG]\n' });
    expect((await promote('usage', ['a', 'a'], nowhere)).code).toBe(2);
    expect((await promote('usage', ['a', 'b/c'], nowhere)).stderr).toBe('image-promote: TO_TAG "b/c" is invalid: allowed a docker tag: letters, digits, _ . - (max 128, not starting with . or -)\n');
    expect((await promote('usage', ['a', 'b', 'c'], nowhere)).code).toBe(2);
  });

  it('wrong credentials: one line naming registry, repository and HTTP 401, exit 1; nothing is put', async () => {
    skopeo.push(loggedIn, BUSYBOX_IMAGE, ref('denied', 'a'));
    const wrong = dockerConfigWith({ [registry.host]: { username: registry.username, password: 'not-the-password' } });
    const r = await promote('denied', ['a', 'b'], { DOCKER_CONFIG: wrong });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^image-promote: registry ${registry.host}: ${RUN}/denied: .*HTTP 401`));
    expect(r.stderr).not.toContain('not-the-password');
    expect(skopeo.tags(loggedIn, `${registry.host}/${RUN}/denied`)).toEqual(['a']);
  });
});
