import {
  BUSYBOX_IMAGE,
  MEDIA,
  busyboxImage,
  ensureEngine,
  indexOf,
  labelledImage,
  putManifestHttp,
  runRegistryCommand,
  sha256,
  skopeo,
  startEcrFixture,
  type BinResult,
  type Ecr,
  type EcrFixture,
  type Registry,
} from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The built bin through the ECR stand-in with the real AWS SDK (STS AssumeRole for ADMIN_ARN,
// BatchGetImage, PutImage), backed by a real registry; skopeo reads that registry as the oracle.
let fx: EcrFixture;
let registry: Registry;
let ecr: Ecr;
let oracle: string;
let other: string;
const RUN = `t${process.pid}`;

beforeAll(async () => {
  const engine = await ensureEngine();
  await busyboxImage(engine);
  other = await labelledImage(engine, 'promote');
  fx = await startEcrFixture({ deployment: 'demo' });
  ({ registry, ecr, loggedIn: oracle } = fx);
});

afterAll(() => fx?.stop());

const backing = (repo: string, tag: string) => `${registry.host}/${RUN}/${repo}:${tag}`;
const shown = (repo: string, tag: string) => `${fx.ecrHost}/${RUN}/${repo}:${tag}`;

const promote = (repo: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<BinResult> =>
  runRegistryCommand(fx, 'image-promote', args, { repo: `${RUN}/${repo}`, env: { DOCKER_HOST: 'unix:///nonexistent.sock', ...env } });

describe('image-promote through ECR (stand-in, real AWS SDK)', () => {
  it('latest-dev → latest-test as the admin role: BatchGetImage + PutImage, same digest per skopeo; again: nothing put', async () => {
    const digest = skopeo.push(oracle, BUSYBOX_IMAGE, backing('env', 'latest-dev'));
    const first = ecr.calls.length;
    const r = await promote('env', [], { ENVIRONMENT: 'dev' });
    // No SDK runtime warning or anything else on stderr.
    expect(r).toMatchObject({ code: 0, stdout: `${shown('env', 'latest-dev')} → ${shown('env', 'latest-test')} ${digest}\n`, stderr: '' });
    expect(skopeo.raw(oracle, backing('env', 'latest-test')).equals(skopeo.raw(oracle, backing('env', 'latest-dev')))).toBe(true);
    const calls = ecr.calls.slice(first);
    expect(calls.filter((c) => c.service === 'sts').map((c) => [c.operation, c.roleArn])).toEqual([['AssumeRole', `arn:aws:iam::${ecr.accountId}:role/admin-role`]]);
    expect(calls.filter((c) => c.operation === 'PutImage')).toHaveLength(1);
    // ECR calls after AssumeRole are signed with the role's keys, not the base ones.
    expect(calls.filter((c) => c.service === 'ecr').every((c) => c.accessKeyId !== ecr.env.AWS_ACCESS_KEY_ID)).toBe(true);

    const again = ecr.calls.length;
    const r2 = await promote('env', [], { ENVIRONMENT: 'dev' });
    expect(r2).toMatchObject({ code: 0, stderr: `unchanged: ${shown('env', 'latest-test')} already pointed at ${digest}\n` });
    expect(ecr.calls.slice(again).filter((c) => c.operation === 'PutImage' || c.error)).toEqual([]);
  });

  it.each([
    ['an OCI manifest', MEDIA.ociManifest],
    ['an OCI index', MEDIA.ociIndex],
    ['a Docker manifest list', MEDIA.dockerList],
  ])('promotes %s byte for byte', async (_what, kind) => {
    const repo = `kind-${kind.replace(/\W+/g, '-')}`;
    if (kind === MEDIA.ociManifest) skopeo.push(oracle, BUSYBOX_IMAGE, backing(repo, 'rc'), 'oci');
    else {
      const format = kind === MEDIA.ociIndex ? 'oci' : 'v2s2';
      skopeo.push(oracle, BUSYBOX_IMAGE, backing(repo, 'a'), format);
      skopeo.push(oracle, other, backing(repo, 'b'), format);
      const children = ['a', 'b'].map((t) => ({ mediaType: format === 'oci' ? MEDIA.ociManifest : MEDIA.dockerManifest, body: skopeo.raw(oracle, backing(repo, t)) }));
      await putManifestHttp(registry.host, registry, `${RUN}/${repo}`, 'rc', kind, indexOf(kind as typeof MEDIA.ociIndex, children));
    }
    const before = skopeo.raw(oracle, backing(repo, 'rc'));
    const r = await promote(repo, ['rc', 'stable', '--json']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(r.stdout)).toMatchObject({ registry: fx.ecrHost, digest: sha256(before), mediaType: kind, previous: null });
    expect(skopeo.raw(oracle, backing(repo, 'stable')).equals(before)).toBe(true);
  });

  it('a missing FROM tag is exit 1 naming ECR, the repository and the tag; nothing put', async () => {
    skopeo.push(oracle, BUSYBOX_IMAGE, backing('missing', 'x'));
    const first = ecr.calls.length;
    const r = await promote('missing', ['latest-dev', 'latest-test']);
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: `image-promote: ECR ${fx.ecrHost}: ${RUN}/missing: tag latest-dev not found: nothing promoted\n` });
    expect(ecr.calls.slice(first).filter((c) => c.operation === 'PutImage')).toEqual([]);
    expect(skopeo.tags(oracle, `${registry.host}/${RUN}/missing`)).toEqual(['x']);
  });

  it('a wrong secret key is one line naming ECR and the AWS error, exit 1, the key nowhere', async () => {
    skopeo.push(oracle, BUSYBOX_IMAGE, backing('denied', 'a'));
    const wrong = `${ecr.env.AWS_SECRET_ACCESS_KEY.slice(0, -4)}XXXX`;
    const r = await promote('denied', ['a', 'b'], { AWS_SECRET_ACCESS_KEY: wrong });
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^image-promote: ECR \d{12}\.dkr\.ecr\.us-east-1\.amazonaws\.com: .*SignatureDoesNotMatch/);
    expect(r.stderr).not.toContain(wrong);
    expect(skopeo.tags(oracle, `${registry.host}/${RUN}/denied`)).toEqual(['a']);
  });
});
