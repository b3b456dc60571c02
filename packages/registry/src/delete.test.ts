import { createHash } from 'node:crypto';
import { ImagewrightError } from '@imagewright/core';
import { describe, expect, it } from 'vitest';
import { checkTargets, executeDelete, planDelete, planLines } from './delete';
import { checkPromotion, defaultPromotion, promote } from './promote';
import type { ManifestDoc, Registry, TagDigest } from './registry';
import { repositoryTags } from './tags';

/**
 * The logic of image-delete, image-promote and image-tags (delete plans, promotion, tag order) on
 * an in-memory registry that follows each kind's documented semantics (the
 * distribution API deletes a manifest with all its tags; ECR untags, and a manifest goes with its
 * last tag; ECR refuses to put a tag already on that manifest). The bins' tests run the same flows
 * against the real registry and the ECR stand-in.
 */
class MemoryRegistry implements Registry {
  readonly host = 'registry.test:5000';
  readonly manifests = new Map<string, ManifestDoc>();
  readonly tagMap = new Map<string, string>();
  readonly calls: string[] = [];
  constructor(readonly kind: 'distribution' | 'ecr') {}

  add(body: object, tags: string[] = [], mediaType = 'application/vnd.oci.image.manifest.v1+json'): string {
    const bytes = Buffer.from(JSON.stringify({ mediaType, ...body }));
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    this.manifests.set(digest, { mediaType, digest, body: bytes });
    for (const t of tags) this.tagMap.set(t, digest);
    return digest;
  }
  async getManifest(_repo: string, ref: string) {
    return this.manifests.get(ref.includes(':') ? ref : (this.tagMap.get(ref) ?? ''));
  }
  async putManifest(_repo: string, tag: string, m: { mediaType: string; body: Buffer }) {
    const digest = `sha256:${createHash('sha256').update(m.body).digest('hex')}`;
    if (this.kind === 'ecr' && this.tagMap.get(tag) === digest) throw new Error('ImageAlreadyExistsException');
    this.calls.push(`put ${tag}`);
    this.manifests.set(digest, { ...m, digest });
    this.tagMap.set(tag, digest);
    return digest;
  }
  async deleteImage(_repo: string, target: { digest: string } | { tag: string }) {
    this.calls.push('digest' in target ? `delete ${target.digest}` : `delete tag ${target.tag}`);
    const digest = 'digest' in target ? target.digest : this.tagMap.get(target.tag)!;
    if ('tag' in target && this.kind === 'ecr') {
      this.tagMap.delete(target.tag);
      if ([...this.tagMap.values()].includes(digest)) return;
    }
    this.manifests.delete(digest);
    for (const [t, d] of this.tagMap) if (d === digest) this.tagMap.delete(t);
  }
  async listTags(): Promise<TagDigest[]> {
    return [...this.tagMap].map(([tag, digest]) => ({ tag, digest }));
  }
  async listUntagged() {
    if (this.kind !== 'ecr') return undefined;
    const tagged = new Set(this.tagMap.values());
    return [...this.manifests.keys()].filter((d) => !tagged.has(d));
  }
}

async function rejected(promise: Promise<unknown>): Promise<ImagewrightError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ImagewrightError) return error;
    throw error;
  }
  throw new Error('expected an ImagewrightError, nothing was thrown');
}

/** One repository: a (tags a, b), c (tag c), an index tagged idx over two children, one stray untagged. */
function fixture(kind: 'distribution' | 'ecr') {
  const r = new MemoryRegistry(kind);
  const a = r.add({ n: 'a' }, ['a', 'b']);
  const c = r.add({ n: 'c' }, ['c']);
  const child1 = r.add({ n: 'child1' });
  const child2 = r.add({ n: 'child2' });
  const index = r.add({ manifests: [{ digest: child1 }, { digest: child2 }] }, ['idx'], 'application/vnd.oci.image.index.v1+json');
  const stray = r.add({ n: 'stray' });
  return { r, a, c, child1, child2, index, stray };
}

describe('planDelete', () => {
  it('checks every target before deleting anything: unknowns are exit 1, one line naming them all', async () => {
    const { r, a } = fixture('distribution');
    const error = await rejected(planDelete(r, 'repo', ['c', 'nope', `sha256:${'0'.repeat(64)}`]));
    expect(error.exitCode).toBe(1);
    expect(error.message).toBe(`registry registry.test:5000: repo: no such tag or digest (HTTP 404): nope, sha256:${'0'.repeat(64)}; nothing deleted`);
    expect(r.calls).toEqual([]);
    expect(r.tagMap.get('a')).toBe(a);
  });

  it('distribution API: a tag of a shared manifest is refused without --force, since its manifest and other tags go', async () => {
    const { r, a } = fixture('distribution');
    const error = await rejected(planDelete(r, 'repo', ['a']));
    expect(error).toMatchObject({ exitCode: 1, message: `registry registry.test:5000: repo: refusing to delete: ${a} is also tagged b: name those tags too, or --force; nothing deleted` });
    const forced = await planDelete(r, 'repo', ['a'], { force: true });
    expect(forced.manifests).toEqual([{ digest: a, tags: ['a', 'b'], by: 'digest' }]);
    // Naming both tags is the same manifest, no refusal.
    expect((await planDelete(r, 'repo', ['a', 'b'])).manifests).toEqual([{ digest: a, tags: ['a', 'b'], by: 'digest' }]);
  });

  it('ECR: a tag of a shared manifest is only untagged (fine without --force); its last tag takes the manifest', async () => {
    const { r, a } = fixture('ecr');
    const plan = await planDelete(r, 'repo', ['a']);
    expect(plan).toMatchObject({ manifests: [], tags: [{ tag: 'a', digest: a, stays: ['b'] }] });
    expect(planLines(plan)).toEqual([`untag  registry.test:5000/repo:a  (${a} stays, tagged b)`]);
    await executeDelete(r, plan);
    expect(r.calls).toEqual(['delete tag a']);
    expect(r.tagMap.get('b')).toBe(a);
    const last = await planDelete(r, 'repo', ['b']);
    expect(last.manifests).toEqual([{ digest: a, tags: ['b'], by: 'tags' }]);
  });

  it('a digest that tags not named point to is refused without --force (both kinds); naming the tags too is fine', async () => {
    for (const kind of ['distribution', 'ecr'] as const) {
      const { r, a } = fixture(kind);
      expect((await rejected(planDelete(r, 'repo', [a]))).message).toContain(`${a} is also tagged a, b`);
      expect((await planDelete(r, 'repo', [a, 'a', 'b'])).manifests).toEqual([{ digest: a, tags: ['a', 'b'], by: 'digest' }]);
    }
  });

  it('a manifest a tagged index needs is refused when named, kept by --untagged, deleted with --force', async () => {
    const { r, child1, child2, index, stray } = fixture('ecr');
    expect((await rejected(planDelete(r, 'repo', [child1]))).message).toContain(`${child1} is part of the manifest list ${index} tagged idx`);
    const plan = await planDelete(r, 'repo', [], { untagged: true });
    expect(plan.manifests).toEqual([{ digest: stray, tags: [], by: 'digest' }]);
    expect(plan.kept).toEqual([{ digest: child1, index, tags: ['idx'] }, { digest: child2, index, tags: ['idx'] }]);
    const forced = await planDelete(r, 'repo', [], { untagged: true, force: true });
    expect(forced.manifests.map((m) => m.digest).sort()).toEqual([child1, child2, stray].sort());
    // Once the index itself goes, its children are free to go with it: the index first (ECR
    // refuses to delete a manifest a list still refers to), then the user's order, then --untagged's.
    const all = await planDelete(r, 'repo', [child2, 'idx'], { untagged: true });
    expect(all.manifests.map((m) => m.digest)).toEqual([index, child2, child1, stray]);
  });

  it('--untagged on a registry that cannot list untagged manifests is exit 2 before anything else', async () => {
    const { r } = fixture('distribution');
    const error = await rejected(planDelete(r, 'repo', ['c'], { untagged: true }));
    expect(error).toMatchObject({ exitCode: 2, message: '--untagged: registry registry.test:5000 speaks the distribution API, which cannot list untagged manifests (ECR can): nothing deleted' });
    expect(r.calls).toEqual([]);
  });

  it('checkTargets: a word that is neither a tag nor a digest is a usage error; repeats count once', () => {
    expect(checkTargets(['a', 'a', `sha256:${'f'.repeat(64)}`])).toEqual(['a', `sha256:${'f'.repeat(64)}`]);
    for (const bad of ['sha256:abc', 'a/b', '-x', '']) {
      expect(() => checkTargets([bad])).toThrow(expect.objectContaining({ exitCode: 2 }));
    }
  });
});

describe('promote', () => {
  it('puts the exact bytes under the new tag; promoting again puts nothing (ECR would refuse it)', async () => {
    const r = new MemoryRegistry('ecr');
    const index = r.add({ manifests: [] }, ['latest-dev'], 'application/vnd.oci.image.index.v1+json');
    const result = await promote(r, 'repo', { from: 'latest-dev', to: 'latest-test' });
    expect(result).toEqual({ registry: r.host, repository: 'repo', from: 'latest-dev', to: 'latest-test', digest: index, mediaType: 'application/vnd.oci.image.index.v1+json', previous: null });
    expect(r.tagMap.get('latest-test')).toBe(index);
    expect((await promote(r, 'repo', { from: 'latest-dev', to: 'latest-test' })).previous).toBe(index);
    expect(r.calls).toEqual(['put latest-test']);
  });

  it('a missing FROM is exit 1 naming registry, repository and tag; nothing is put', async () => {
    const r = new MemoryRegistry('distribution');
    const error = await rejected(promote(r, 'repo', { from: 'latest-dev', to: 'latest-test' }));
    expect(error).toMatchObject({ exitCode: 1, message: 'registry registry.test:5000: repo: tag latest-dev not found (HTTP 404): nothing promoted' });
    expect(r.calls).toEqual([]);
  });

  it('defaultPromotion: <IMAGE_TAG>-<ENVIRONMENT> to the next environment; prod and sandbox have none (exit 2)', () => {
    expect(defaultPromotion({ IMAGE_TAG: 'latest', ENVIRONMENT: 'dev' })).toEqual({ from: 'latest-dev', to: 'latest-test' });
    expect(defaultPromotion({ IMAGE_TAG: 'v2', ENVIRONMENT: 'test' })).toEqual({ from: 'v2-test', to: 'v2-prod' });
    for (const ENVIRONMENT of ['prod', 'sandbox'] as const) {
      expect(() => defaultPromotion({ IMAGE_TAG: 'latest', ENVIRONMENT })).toThrow(
        expect.objectContaining({ exitCode: 2, message: `ENVIRONMENT=${ENVIRONMENT} has no next environment to promote to: allowed dev (→ test) or test (→ prod), or give FROM_TAG TO_TAG` }),
      );
    }
    expect(() => defaultPromotion({ IMAGE_TAG: 'x'.repeat(124), ENVIRONMENT: 'test' })).toThrow(
      expect.objectContaining({ exitCode: 2, message: `IMAGE_TAG="${'x'.repeat(124)}" is too long to promote (${'x'.repeat(124)}-prod): allowed at most 123 characters` }),
    );
    expect(defaultPromotion({ IMAGE_TAG: 'x'.repeat(123), ENVIRONMENT: 'test' }).to).toHaveLength(128);
  });

  it('checkPromotion: FROM a tag or digest, TO a tag, not the same', () => {
    expect(checkPromotion(`sha256:${'a'.repeat(64)}`, 'v1')).toEqual({ from: `sha256:${'a'.repeat(64)}`, to: 'v1' });
    for (const [from, to] of [['a', 'a'], ['a', 'sha256:abc'], ['a/b', 'c'], ['a', `sha256:${'a'.repeat(64)}`]]) {
      expect(() => checkPromotion(from, to)).toThrow(expect.objectContaining({ exitCode: 2 }));
    }
  });
});

describe('repositoryTags', () => {
  it('sorts by tag', async () => {
    const r = new MemoryRegistry('ecr');
    const d = r.add({}, ['b', 'a', 'c']);
    expect(await repositoryTags(r, 'repo')).toEqual([{ tag: 'a', digest: d }, { tag: 'b', digest: d }, { tag: 'c', digest: d }]);
  });
});
