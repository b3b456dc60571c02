import { rmSync } from 'node:fs';
import {
  BUSYBOX_IMAGE,
  busyboxImage,
  dockerConfigWith,
  ensureEngine,
  labelledImage,
  putManifestHttp,
  runBin,
  skopeo,
  startEcr,
  startRegistry,
  tempDeploymentRoot,
  type Ecr,
  type Registry,
} from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The built bin through the ECR stand-in with the real AWS SDK (ListImages, nextToken), backed by a
// real registry; skopeo reads the registry behind it as the oracle.
let registry: Registry;
let ecr: Ecr;
let root: string;
let oracle: string;
const REPO = `t${process.pid}/ecr`;
// ECR pages at up to 1000 images: one more forces a second page.
const COUNT = 1001;

beforeAll(async () => {
  const engine = await ensureEngine();
  await busyboxImage(engine);
  const other = await labelledImage(engine, 'tags');
  registry = await startRegistry({ username: 'AWS' });
  ecr = await startEcr({ registry });
  oracle = dockerConfigWith({ [registry.host]: registry });
  root = tempDeploymentRoot('demo');
  skopeo.push(oracle, BUSYBOX_IMAGE, `${registry.host}/${REPO}:t0000`);
  skopeo.push(oracle, other, `${registry.host}/${REPO}:other`);
  // The same manifest under many more tags, straight through the distribution API.
  const body = skopeo.raw(oracle, `${registry.host}/${REPO}:t0000`);
  const mediaType = (JSON.parse(body.toString('utf8')) as { mediaType: string }).mediaType;
  const tags = Array.from({ length: COUNT - 1 }, (_, i) => `t${String(i + 1).padStart(4, '0')}`);
  for (let i = 0; i < tags.length; i += 16) {
    await Promise.all(tags.slice(i, i + 16).map((tag) => putManifestHttp(registry.host, registry, REPO, tag, mediaType, body)));
  }
});

afterAll(async () => {
  await ecr?.stop();
  await registry?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('image-tags through ECR (stand-in, real AWS SDK)', () => {
  it('lists every tag through all ListImages pages, as skopeo sees them; no secret and no SDK warning in the output', async () => {
    const first = ecr.calls.length;
    const r = await runBin('image-tags', ['--json'], {
      env: { IMAGEWRIGHT_ROOT: root, DEPLOYMENT_NAME: 'demo', ECR_ACCOUNT_ID: ecr.accountId, IMAGE_REPO: REPO, ...ecr.env },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const listed = JSON.parse(r.stdout) as { tag: string; digest: string }[];
    const names = skopeo.tags(oracle, `${registry.host}/${REPO}`);
    expect(names).toHaveLength(COUNT + 1);
    expect(listed.map((t) => t.tag)).toEqual(names);
    expect(listed.find((t) => t.tag === 'other')?.digest).toBe(skopeo.digest(oracle, `${registry.host}/${REPO}:other`));
    expect(new Set(listed.filter((t) => t.tag !== 'other').map((t) => t.digest))).toEqual(new Set([skopeo.digest(oracle, `${registry.host}/${REPO}:t0000`)]));
    // Two pages: the second asked with the first's nextToken.
    expect(ecr.calls.slice(first).filter((c) => c.operation === 'ListImages')).toHaveLength(2);
    for (const secret of [ecr.env.AWS_SECRET_ACCESS_KEY, registry.password]) expect(r.stdout + r.stderr).not.toContain(secret);
  });

  it('a missing repository is one line naming ECR, the repository and the error, exit 1', async () => {
    const r = await runBin('image-tags', ['nosuch'], { env: { IMAGEWRIGHT_ROOT: root, DEPLOYMENT_NAME: 'demo', ECR_ACCOUNT_ID: ecr.accountId, ...ecr.env } });
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toMatch(/^image-tags: ECR \d{12}\.dkr\.ecr\.us-east-1\.amazonaws\.com: nosuch: ListImages: RepositoryNotFoundException[^\n]*\n$/);
  });
});
