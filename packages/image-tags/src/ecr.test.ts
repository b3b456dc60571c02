import {
  BUSYBOX_IMAGE,
  busyboxImage,
  ensureEngine,
  labelledImage,
  putManifestHttp,
  runRegistryCommand,
  skopeo,
  startEcrFixture,
  type Ecr,
  type EcrFixture,
  type Registry,
} from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The built bin through the ECR stand-in with the real AWS SDK (ListImages, nextToken), backed by a
// real registry; skopeo reads the registry behind it as the oracle.
let fx: EcrFixture;
let registry: Registry;
let ecr: Ecr;
let oracle: string;
const REPO = `t${process.pid}/ecr`;
// ECR pages at up to 1000 images: one more forces a second page.
const COUNT = 1001;

beforeAll(async () => {
  const engine = await ensureEngine();
  await busyboxImage(engine);
  const other = await labelledImage(engine, 'tags');
  fx = await startEcrFixture({ deployment: 'demo' });
  ({ registry, ecr, loggedIn: oracle } = fx);
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

afterAll(() => fx?.stop());

describe('image-tags through ECR (stand-in, real AWS SDK)', () => {
  it('lists every tag through all ListImages pages, as skopeo sees them; no secret and no SDK warning in the output', async () => {
    const first = ecr.calls.length;
    // runRegistryCommand fails the test when a secret is in the output.
    const r = await runRegistryCommand(fx, 'image-tags', ['--json'], { repo: REPO });
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
  });

  it('a missing repository is one line naming ECR, the repository and the error, exit 1', async () => {
    const r = await runRegistryCommand(fx, 'image-tags', ['nosuch']);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toMatch(/^image-tags: ECR \d{12}\.dkr\.ecr\.us-east-1\.amazonaws\.com: nosuch: ListImages: RepositoryNotFoundException[^\n]*\n$/);
  });
});
