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
  skopeo,
  startRegistryFixture,
  type BinResult,
  type PlainRegistryFixture,
  type Registry,
} from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The built bin against a real registry (docker-registry, htpasswd, deletes enabled), skopeo as the
// independent client that pushes the images and checks what is left.
let fx: PlainRegistryFixture;
let registry: Registry;
let loggedIn: string;
let other: string;
const RUN = `t${process.pid}`;

beforeAll(async () => {
  const engine = await ensureEngine();
  await busyboxImage(engine);
  other = await labelledImage(engine, 'delete');
  fx = await startRegistryFixture({ deployment: 'demo' });
  ({ registry, loggedIn } = fx);
});

afterAll(() => fx?.stop());

/** image-delete in repository `repo`, logged in; the secret is in no output. */
const del = (repo: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<BinResult> => runRegistryCommand(fx, 'image-delete', args, { repo: `${RUN}/${repo}`, env });

const name = (repo: string) => `${registry.host}/${RUN}/${repo}`;
const tags = (repo: string) => skopeo.tags(loggedIn, name(repo));
/** Whether the registry still serves the manifest, per skopeo. */
function exists(repo: string, digest: string): boolean {
  try {
    skopeo.raw(loggedIn, `${name(repo)}@${digest}`);
    return true;
  } catch {
    return false;
  }
}

describe('image-delete (distribution API)', () => {
  it('by tag: prints the manifest and its tags before deleting; skopeo no longer finds them', async () => {
    const gone = skopeo.push(loggedIn, BUSYBOX_IMAGE, name('bytag') + ':old');
    const kept = skopeo.push(loggedIn, other, name('bytag') + ':new');
    const r = await del('bytag', ['old']);
    expect(r).toMatchObject({ code: 0, stdout: `delete ${name('bytag')}@${gone}  tags: old\n`, stderr: 'deleted 1 manifest\n' });
    expect(tags('bytag')).toEqual(['new']);
    expect(exists('bytag', gone)).toBe(false);
    expect(exists('bytag', kept)).toBe(true);
  });

  it('by digest, with every tag on it named; --json says what went', async () => {
    const digest = skopeo.push(loggedIn, BUSYBOX_IMAGE, name('bydigest') + ':a');
    skopeo.push(loggedIn, BUSYBOX_IMAGE, name('bydigest') + ':b');
    skopeo.push(loggedIn, other, name('bydigest') + ':c');
    const r = await del('bydigest', [digest, 'a', 'b', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ registry: registry.host, repository: `${RUN}/bydigest`, dryRun: false, manifests: [{ digest, tags: ['a', 'b'] }], tags: [], kept: [] });
    // With --json the plan still comes first, on stderr.
    expect(r.stderr).toBe(`delete ${name('bydigest')}@${digest}  tags: a, b\n`);
    expect(tags('bydigest')).toEqual(['c']);
    expect(exists('bydigest', digest)).toBe(false);
  });

  it('refuses a manifest that a tag not named still points to (a tag, or a digest), nothing deleted; --force deletes it with all its tags', async () => {
    const shared = skopeo.push(loggedIn, BUSYBOX_IMAGE, name('shared') + ':x');
    skopeo.push(loggedIn, BUSYBOX_IMAGE, name('shared') + ':y');
    const alone = skopeo.push(loggedIn, other, name('shared') + ':z');
    const refused = `image-delete: registry ${registry.host}: ${RUN}/shared: refusing to delete: ${shared} is also tagged y: name those tags too, or --force; nothing deleted\n`;
    // z alone could go: the refusal of x stops everything.
    expect(await del('shared', ['z', 'x'])).toMatchObject({ code: 1, stdout: '', stderr: refused });
    expect((await del('shared', [shared])).stderr).toContain(`${shared} is also tagged x, y`);
    expect(tags('shared')).toEqual(['x', 'y', 'z']);

    const forced = await del('shared', ['x', '--force']);
    expect(forced).toMatchObject({ code: 0, stdout: `delete ${name('shared')}@${shared}  tags: x, y\n` });
    expect(tags('shared')).toEqual(['z']);
    expect(exists('shared', shared)).toBe(false);
    expect(exists('shared', alone)).toBe(true);
  });

  it('--dry-run prints the same plan and deletes nothing', async () => {
    const a = skopeo.push(loggedIn, BUSYBOX_IMAGE, name('dry') + ':a');
    const b = skopeo.push(loggedIn, other, name('dry') + ':b');
    const r = await del('dry', ['a', b, 'b', '--dry-run']);
    expect(r).toMatchObject({ code: 0, stdout: `delete ${name('dry')}@${a}  tags: a\ndelete ${name('dry')}@${b}  tags: b\n`, stderr: 'dry run: would delete 2 manifests; nothing deleted\n' });
    expect(tags('dry')).toEqual(['a', 'b']);
    expect(JSON.parse((await del('dry', ['a', '--dry-run', '--json'])).stdout)).toMatchObject({ dryRun: true, manifests: [{ digest: a, tags: ['a'] }] });
    expect(exists('dry', a) && exists('dry', b)).toBe(true);
  });

  it('an unknown tag or digest is exit 1, one line naming them all; nothing deleted, not even what exists', async () => {
    skopeo.push(loggedIn, BUSYBOX_IMAGE, name('unknown') + ':a');
    const missing = `sha256:${'0'.repeat(64)}`;
    const r = await del('unknown', ['a', 'nope', missing]);
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: `image-delete: registry ${registry.host}: ${RUN}/unknown: no such tag or digest (HTTP 404): nope, ${missing}; nothing deleted\n` });
    expect(tags('unknown')).toEqual(['a']);
  });

  it('a manifest that a tagged manifest list needs is refused unless --force', async () => {
    const child = skopeo.push(loggedIn, BUSYBOX_IMAGE, name('list') + ':amd64', 'oci');
    const sibling = skopeo.push(loggedIn, other, name('list') + ':arm64', 'oci');
    const children = ['amd64', 'arm64'].map((t) => ({ mediaType: MEDIA.ociManifest, body: skopeo.raw(loggedIn, `${name('list')}:${t}`) }));
    const index = await putManifestHttp(registry.host, registry, `${RUN}/list`, 'multi', MEDIA.ociIndex, indexOf(MEDIA.ociIndex, children));
    const r = await del('list', ['amd64']);
    expect(r).toMatchObject({ code: 1, stderr: `image-delete: registry ${registry.host}: ${RUN}/list: refusing to delete: ${child} is part of the manifest list ${index} tagged multi: name those tags too, or --force; nothing deleted\n` });
    expect(tags('list')).toEqual(['amd64', 'arm64', 'multi']);
    expect(await del('list', ['amd64', '--force', '--dry-run'])).toMatchObject({ code: 0, stdout: `delete ${name('list')}@${child}  tags: amd64\n` });
    // The list itself can go; its manifests stay.
    expect((await del('list', ['multi'])).code).toBe(0);
    expect(exists('list', index)).toBe(false);
    expect(exists('list', child) && exists('list', sibling)).toBe(true);
  });

  it('--untagged: this registry cannot list untagged manifests: exit 2 saying so, nothing deleted', async () => {
    skopeo.push(loggedIn, BUSYBOX_IMAGE, name('untagged') + ':a');
    const r = await del('untagged', ['a', '--untagged']);
    expect(r).toMatchObject({ code: 2, stdout: '', stderr: `image-delete: --untagged: registry ${registry.host} speaks the distribution API, which cannot list untagged manifests (ECR can): nothing deleted\n` });
    expect(tags('untagged')).toEqual(['a']);
  });

  it('usage: no argument (the original exited 0) or a word that is neither tag nor digest is exit 2, before the registry is asked', async () => {
    const nowhere = { REGISTRY: '127.0.0.1:1' };
    expect(await del('usage', [], nowhere)).toMatchObject({ code: 2, stdout: '', stderr: 'image-delete: nothing to delete: name TAG or DIGEST arguments, or --untagged: usage: image-delete [OPTIONS] [TAG|DIGEST...]\n' });
    const bad = await del('usage', ['sha256:abc'], nowhere);
    expect(bad).toMatchObject({ code: 2, stderr: 'image-delete: "sha256:abc" is neither a tag nor a digest: allowed a tag (letters, digits, _ . -) or sha256:<64 hex>\n' });
  });

  it('wrong credentials or a missing repository: one line naming registry, repository and HTTP status, exit 1', async () => {
    skopeo.push(loggedIn, BUSYBOX_IMAGE, name('denied') + ':a');
    const wrong = dockerConfigWith({ [registry.host]: { username: registry.username, password: 'not-the-password' } });
    const denied = await del('denied', ['a'], { DOCKER_CONFIG: wrong });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(new RegExp(`^image-delete: registry ${registry.host}: ${RUN}/denied: [^\\n]*HTTP 401[^\\n]*\\n$`));
    expect(denied.stderr).not.toContain('not-the-password');
    expect(tags('denied')).toEqual(['a']);
    const missing = await del('nosuchrepo', ['a']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(new RegExp(`^image-delete: registry ${registry.host}: ${RUN}/nosuchrepo: [^\\n]*HTTP 404[^\\n]*\\n$`));
  });
});
