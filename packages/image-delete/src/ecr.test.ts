import {
  BUSYBOX_IMAGE,
  MEDIA,
  busyboxImage,
  ensureEngine,
  indexOf,
  labelledImage,
  putManifestHttp,
  runRegistryCommand,
  skopeo,
  startEcrFixture,
  type BinResult,
  type Ecr,
  type EcrFixture,
  type Registry,
} from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The built bin through the ECR stand-in with the real AWS SDK (ListImages, BatchGetImage,
// BatchDeleteImage), backed by a real registry; skopeo reads that registry as the oracle.
let fx: EcrFixture;
let registry: Registry;
let ecr: Ecr;
let oracle: string;
const images: string[] = [];
const RUN = `t${process.pid}`;

beforeAll(async () => {
  const engine = await ensureEngine();
  await busyboxImage(engine);
  images.push(BUSYBOX_IMAGE, ...(await Promise.all(['delete-1', 'delete-2', 'delete-3'].map((l) => labelledImage(engine, l)))));
  fx = await startEcrFixture({ deployment: 'demo' });
  ({ registry, ecr, loggedIn: oracle } = fx);
});

afterAll(() => fx?.stop());

const HOST = () => fx.ecrHost;
const backing = (repo: string) => `${registry.host}/${RUN}/${repo}`;
const shown = (repo: string) => `${HOST()}/${RUN}/${repo}`;
const tags = (repo: string) => skopeo.tags(oracle, backing(repo));
function exists(repo: string, digest: string): boolean {
  try {
    skopeo.raw(oracle, `${backing(repo)}@${digest}`);
    return true;
  } catch {
    return false;
  }
}

const del = (repo: string, args: string[]): Promise<BinResult> => runRegistryCommand(fx, 'image-delete', args, { repo: `${RUN}/${repo}` });

describe('image-delete through ECR (stand-in, real AWS SDK)', () => {
  it('a tag of a shared image only untags it (no --force needed); its last tag takes the image', async () => {
    const digest = skopeo.push(oracle, images[0], `${backing('untag')}:a`);
    skopeo.push(oracle, images[0], `${backing('untag')}:b`);
    const r = await del('untag', ['a']);
    expect(r).toMatchObject({ code: 0, stdout: `untag  ${shown('untag')}:a  (${digest} stays, tagged b)\n`, stderr: 'deleted 1 tag\n' });
    expect(tags('untag')).toEqual(['b']);
    expect(exists('untag', digest)).toBe(true);
    const last = await del('untag', ['b']);
    expect(last).toMatchObject({ code: 0, stdout: `delete ${shown('untag')}@${digest}  tags: b\n`, stderr: 'deleted 1 manifest\n' });
    expect(exists('untag', digest)).toBe(false);
  });

  it('by digest: refused while a tag not named points to it; --force deletes the image with its tags', async () => {
    const digest = skopeo.push(oracle, images[1], `${backing('digest')}:x`);
    const keep = skopeo.push(oracle, images[2], `${backing('digest')}:y`);
    const refused = await del('digest', [digest]);
    expect(refused).toMatchObject({ code: 1, stderr: `image-delete: ECR ${HOST()}: ${RUN}/digest: refusing to delete: ${digest} is also tagged x: name those tags too, or --force; nothing deleted\n` });
    expect(tags('digest')).toEqual(['x', 'y']);
    const forced = await del('digest', [digest, '--force', '--json']);
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout)).toEqual({ registry: HOST(), repository: `${RUN}/digest`, dryRun: false, manifests: [{ digest, tags: ['x'] }], tags: [], kept: [] });
    expect(tags('digest')).toEqual(['y']);
    expect(exists('digest', digest)).toBe(false);
    expect(exists('digest', keep)).toBe(true);
  });

  it('--untagged deletes every untagged image but those a tagged manifest list needs; --dry-run first deletes nothing', async () => {
    const repo = 'untagged';
    // A multi-platform image: a tagged index over two manifests that end up untagged, as ECR has them.
    const children = [skopeo.push(oracle, images[0], `${backing(repo)}:tmp-a`, 'oci'), skopeo.push(oracle, images[1], `${backing(repo)}:tmp-b`, 'oci')];
    const bodies = ['tmp-a', 'tmp-b'].map((t) => ({ mediaType: MEDIA.ociManifest, body: skopeo.raw(oracle, `${backing(repo)}:${t}`) }));
    const index = await putManifestHttp(registry.host, registry, `${RUN}/${repo}`, 'multi', MEDIA.ociIndex, indexOf(MEDIA.ociIndex, bodies));
    // A stray: `latest` pushed again over it.
    const stray = skopeo.push(oracle, images[2], `${backing(repo)}:latest`);
    // The stand-in learns digests through ECR calls (as ECR saw the pushes); then the tags move on.
    expect((await runRegistryCommand(fx, 'image-tags', [], { repo: `${RUN}/${repo}` })).code).toBe(0);
    const latest = skopeo.push(oracle, images[3], `${backing(repo)}:latest`);
    for (const t of ['tmp-a', 'tmp-b']) skopeo.push(oracle, images[3], `${backing(repo)}:${t}`);

    const kept = children.map((c) => `kept   ${shown(repo)}@${c}: part of the manifest list ${index} tagged multi (--force deletes it)\n`).join('');
    const dry = await del(repo, ['--untagged', '--dry-run']);
    expect(dry).toMatchObject({ code: 0, stdout: `delete ${shown(repo)}@${stray}  untagged\n`, stderr: `${kept}dry run: would delete 1 manifest; nothing deleted\n` });
    expect(exists(repo, stray)).toBe(true);

    const first = ecr.calls.length;
    const r = await del(repo, ['--untagged']);
    expect(r).toMatchObject({ code: 0, stdout: `delete ${shown(repo)}@${stray}  untagged\n`, stderr: `${kept}deleted 1 manifest\n` });
    expect(ecr.calls.slice(first).filter((c) => c.operation === 'BatchDeleteImage')).toHaveLength(1);
    expect(exists(repo, stray)).toBe(false);
    for (const c of [...children, index, latest]) expect(exists(repo, c)).toBe(true);
    expect(tags(repo)).toEqual(['latest', 'multi', 'tmp-a', 'tmp-b']);
  });

  it('an untagged manifest list and its manifests go together, the list first (ECR refuses the other order)', async () => {
    const repo = 'listfirst';
    const children = [skopeo.push(oracle, images[0], `${backing(repo)}:tmp-a`, 'oci'), skopeo.push(oracle, images[1], `${backing(repo)}:tmp-b`, 'oci')];
    const bodies = ['tmp-a', 'tmp-b'].map((t) => ({ mediaType: MEDIA.ociManifest, body: skopeo.raw(oracle, `${backing(repo)}:${t}`) }));
    const index = await putManifestHttp(registry.host, registry, `${RUN}/${repo}`, 'multi', MEDIA.ociIndex, indexOf(MEDIA.ociIndex, bodies));
    skopeo.push(oracle, images[2], `${backing(repo)}:keep`);
    // The user names a child first: still the list goes first.
    const r = await del(repo, [children[1], 'multi', 'tmp-a', 'tmp-b']);
    expect(r.stderr).toBe('deleted 3 manifests\n');
    expect(r.stdout.split('\n').filter(Boolean).map((l) => l.split('@')[1].split(' ')[0])).toEqual([index, children[1], children[0]]);
    expect(r.code).toBe(0);
    for (const d of [index, ...children]) expect(exists(repo, d)).toBe(false);
    expect(tags(repo)).toEqual(['keep']);
  });

  it('an unknown tag or digest is exit 1 naming them; nothing deleted', async () => {
    skopeo.push(oracle, images[0], `${backing('unknown')}:a`);
    const missing = `sha256:${'1'.repeat(64)}`;
    const r = await del('unknown', ['a', 'nope', missing]);
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: `image-delete: ECR ${HOST()}: ${RUN}/unknown: no such tag or digest: nope, ${missing}; nothing deleted\n` });
    expect(tags('unknown')).toEqual(['a']);
  });
});
