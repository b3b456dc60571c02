import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ImagewrightError } from '@imagewright/core';
import { BUSYBOX_IMAGE, busyboxImage, dockerConfigWith, type Ecr, indexOf, labelledImage, MEDIA, ensureEngine, overrideProcessEnv, type Registry as TestRegistry, rejection, sha256, skopeo, startEcr, startRegistry } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EcrRegistry, type EcrRegistryOptions } from './ecr';

const LOOPBACK = /^http:\/\/127\.0\.0\.1:\d+$/;
const ACCOUNT = '123456789012';
const AMAZON_HOST = `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`;
const DIST = join(__dirname, '..', 'dist');


/** A Node child process (asynchronous: the stand-in answering it lives in this process). */
function node(script: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) =>
    execFile(process.execPath, ['-e', script], { cwd: join(__dirname, '..'), env, encoding: 'utf8' }, (error, stdout, stderr) =>
      res({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

describe('EcrRegistry against the ECR stand-in (startEcr) over a real registry, skopeo as the oracle', () => {
  let registry: TestRegistry;
  let ecr: Ecr;
  let cfg: string;
  let other: string;
  let home: string;
  let restoreEnv: (() => void) | undefined;

  /** An EcrRegistry that can only reach the stand-in: its env is the stand-in's alone. */
  const open = (options: Partial<EcrRegistryOptions> = {}) => {
    if (!LOOPBACK.test(ecr.env.AWS_ENDPOINT_URL_ECR) || !LOOPBACK.test(ecr.env.AWS_ENDPOINT_URL_STS)) {
      throw new Error(`refusing a non-loopback AWS endpoint: ${ecr.env.AWS_ENDPOINT_URL_ECR}`);
    }
    return new EcrRegistry({ accountId: ecr.accountId, region: ecr.region, env: { ...ecr.env }, ...options });
  };
  const push = (image: string, ref: string, format: 'v2s2' | 'oci' = 'v2s2') => skopeo.push(cfg, image, `${registry.host}/${ref}`, format);
  const callsSince = (n: number) => ecr.calls.slice(n);
  /** For child processes: no inherited AWS settings, a fresh HOME, the stand-in's environment. */
  const childEnv = (extra: Record<string, string> = {}) => ({ PATH: process.env.PATH ?? '', HOME: home, ...ecr.env, ...extra });
  const checkBuilt = () => {
    // The children load the built package (Nx builds it before the tests). Not an mtime check:
    // Nx restores build outputs from its cache with their old times.
    if (!statSync(join(DIST, 'ecr.js'), { throwIfNoEntry: false })) {
      throw new Error('packages/registry/dist has no ecr.js: build first (npx nx run-many -t build)');
    }
  };

  beforeAll(async () => {
    const engine = await ensureEngine();
    await busyboxImage(engine);
    other = await labelledImage(engine, 'ecr');
    // A password that is also a valid tag: the secret test below makes AWS echo it.
    registry = await startRegistry({ username: 'AWS', password: `Secret_${randomBytes(12).toString('hex')}` });
    ecr = await startEcr({ registry, repositories: ['demo-user-image'] });
    // The SDK in this process reads the stand-in's empty AWS files, not the real ~/.aws.
    restoreEnv = overrideProcessEnv(ecr.env, ['AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_EC2_METADATA_DISABLED']);
    cfg = dockerConfigWith({ [registry.host]: { username: 'AWS', password: registry.password } });
    home = mkdtempSync(join(tmpdir(), 'imagewright-ecr-home-'));
  });

  afterAll(async () => {
    restoreEnv?.();
    await ecr?.stop();
    await registry?.stop();
    for (const dir of [cfg, home]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('login: a token skopeo can use, the proxy endpoint as host, the caller as identity', async () => {
    push(BUSYBOX_IMAGE, 'demo-user-image:login');
    const r = open();
    expect(r.kind).toBe('ecr');
    expect(r.host).toBe(AMAZON_HOST);
    const before = ecr.calls.length;
    const login = await r.login();
    expect(login.host).toBe(registry.host);
    expect(r.host).toBe(registry.host);
    expect(login.credentials.username).toBe('AWS');
    expect(login.identity).toBe(`arn:aws:iam::${ACCOUNT}:user/imagewright-test`);
    expect(login.expiresAt!.getTime()).toBeGreaterThan(Date.now());
    const viaToken = dockerConfigWith({ [login.host]: login.credentials });
    try {
      expect(skopeo.tags(viaToken, `${login.host}/demo-user-image`)).toContain('login');
    } finally {
      rmSync(viaToken, { recursive: true, force: true });
    }
    expect(callsSince(before).map((c) => `${c.operation} ${c.accessKeyId}`)).toEqual([
      `GetAuthorizationToken ${ecr.env.AWS_ACCESS_KEY_ID}`,
      `GetCallerIdentity ${ecr.env.AWS_ACCESS_KEY_ID}`,
    ]);
  });

  it('login through ADMIN_ARN: AssumeRole (session imagewright) first, then every ECR call signed by the assumed key', async () => {
    const adminArn = `arn:aws:iam::${ACCOUNT}:role/admin-role`;
    const r = open({ adminArn });
    const before = ecr.calls.length;
    const login = await r.login();
    expect(await r.getManifest('demo-user-image', 'login')).toBeDefined();
    const seen = callsSince(before);
    const [assume, ...rest] = seen;
    expect(assume).toMatchObject({ service: 'sts', operation: 'AssumeRole', accessKeyId: ecr.env.AWS_ACCESS_KEY_ID, roleArn: adminArn, roleSessionName: 'imagewright' });
    expect(assume!.issuedAccessKeyId).toMatch(/^ASIA/);
    expect(rest.map((c) => `${c.service} ${c.operation} ${c.accessKeyId} ${c.error ?? 'ok'}`)).toEqual([
      `ecr GetAuthorizationToken ${assume!.issuedAccessKeyId} ok`,
      `ecr BatchGetImage ${assume!.issuedAccessKeyId} ok`,
    ]);
    expect(login.identity).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/admin-role/imagewright`);
  });

  it('promote a single manifest: get + put under a new tag, same bytes and digest per skopeo; a repeat put is a success', async () => {
    const digest = push(BUSYBOX_IMAGE, 'demo-user-image:latest-dev');
    const r = open();
    const got = (await r.getManifest('demo-user-image', 'latest-dev'))!;
    expect(got.digest).toBe(digest);
    expect(got.mediaType).toBe(MEDIA.dockerManifest);
    expect(got.body.equals(skopeo.raw(cfg, `${registry.host}/demo-user-image:latest-dev`))).toBe(true);
    expect(await r.putManifest('demo-user-image', 'latest-test', got)).toBe(digest);
    expect(skopeo.digest(cfg, `${registry.host}/demo-user-image:latest-test`)).toBe(digest);
    // By digest too.
    expect((await r.getManifest('demo-user-image', digest))!.body.equals(got.body)).toBe(true);

    const before = ecr.calls.length;
    expect(await r.putManifest('demo-user-image', 'latest-test', got)).toBe(digest);
    expect(callsSince(before).map((c) => c.error)).toEqual(['ImageAlreadyExistsException']);
  });

  for (const [kind, listType, childType, format] of [
    ['manifest list', MEDIA.dockerList, MEDIA.dockerManifest, 'v2s2'],
    ['OCI index', MEDIA.ociIndex, MEDIA.ociManifest, 'oci'],
  ] as const) {
    it(`promote a ${kind} put through the stand-in: digest and bytes unchanged per skopeo`, async () => {
      const repo = `multi-${format}`;
      push(BUSYBOX_IMAGE, `${repo}:amd64`, format);
      push(other, `${repo}:arm64`, format);
      const children = ['amd64', 'arm64'].map((tag) => ({ mediaType: childType, body: skopeo.raw(cfg, `${registry.host}/${repo}:${tag}`) }));
      const list = indexOf(listType, children);
      const r = open();
      expect(await r.putManifest(repo, 'latest-dev', { mediaType: listType, body: list })).toBe(sha256(list));

      const got = (await r.getManifest(repo, 'latest-dev'))!;
      expect(got).toEqual({ mediaType: listType, digest: sha256(list), body: list });
      expect(await r.putManifest(repo, 'latest-test', got)).toBe(sha256(list));
      expect(skopeo.raw(cfg, `${registry.host}/${repo}:latest-test`).equals(list)).toBe(true);
      expect(skopeo.digest(cfg, `${registry.host}/${repo}:latest-test`)).toBe(sha256(list));
    });
  }

  it('deleteImage by tag untags (other tags stay); by digest removes the image and every tag', async () => {
    const digest = push(BUSYBOX_IMAGE, 'gone:a');
    push(BUSYBOX_IMAGE, 'gone:b');
    push(BUSYBOX_IMAGE, 'gone:c');
    const kept = push(other, 'gone:kept');
    const r = open();
    await r.deleteImage('gone', { tag: 'a' });
    expect(skopeo.tags(cfg, `${registry.host}/gone`)).toEqual(['b', 'c', 'kept']);
    expect(skopeo.digest(cfg, `${registry.host}/gone:b`)).toBe(digest);

    await r.deleteImage('gone', { digest });
    expect(skopeo.tags(cfg, `${registry.host}/gone`)).toEqual(['kept']);
    expect(() => skopeo.raw(cfg, `${registry.host}/gone@${digest}`)).toThrow();
    expect(await r.listTags('gone')).toEqual([{ tag: 'kept', digest: kept }]);
  });

  it('listTags follows nextToken through every page and matches skopeo list-tags', async () => {
    const digest = push(BUSYBOX_IMAGE, 'paged:t1');
    for (const tag of ['t2', 't3', 't4']) push(BUSYBOX_IMAGE, `paged:${tag}`);
    const second = push(other, 'paged:t5');
    const r = open({ pageSize: 2 });
    const before = ecr.calls.length;
    const tags = await r.listTags('paged');
    expect(tags.map((t) => t.tag).sort()).toEqual(skopeo.tags(cfg, `${registry.host}/paged`));
    expect(new Map(tags.map((t) => [t.tag, t.digest]))).toEqual(new Map([...['t1', 't2', 't3', 't4'].map((t) => [t, digest] as const), ['t5', second]]));
    expect(callsSince(before).map((c) => c.operation)).toEqual(['ListImages', 'ListImages', 'ListImages']);
  });

  it('listUntagged: the digest a moved tag left behind, gone once deleted', async () => {
    const first = push(other, 'untagged:v1');
    push(BUSYBOX_IMAGE, 'untagged:stable');
    const r = open();
    expect(await r.listUntagged('untagged')).toEqual([]); // the stand-in now knows v1's digest
    push(BUSYBOX_IMAGE, 'untagged:v1');
    expect(await r.listUntagged('untagged')).toEqual([first]);
    await r.deleteImage('untagged', { digest: first });
    expect(await r.listUntagged('untagged')).toEqual([]);
    expect(skopeo.tags(cfg, `${registry.host}/untagged`)).toEqual(['stable', 'v1']);
  });

  it('errors are one line naming host, repository, operation and AWS code; a missing tag is undefined', async () => {
    const r = open();
    const missingRepo = await rejection(r.getManifest('no-such-repo', 'latest'));
    expect(missingRepo.exitCode).toBe(1);
    expect(missingRepo.message).toBe(
      `ECR ${AMAZON_HOST}: no-such-repo: BatchGetImage: RepositoryNotFoundException: The repository with name 'no-such-repo' does not exist in the registry with id '${ACCOUNT}'`,
    );
    expect(await r.getManifest('demo-user-image', 'no-such-tag')).toBeUndefined();
    const missingTag = await rejection(r.deleteImage('demo-user-image', { tag: 'no-such-tag' }));
    expect(missingTag.message).toBe(`ECR ${AMAZON_HOST}: demo-user-image: BatchDeleteImage: ImageNotFound: Requested image not found (imageTag=no-such-tag)`);
    const listing = await rejection(r.listTags('no-such-repo'));
    expect(listing.message).toMatch(new RegExp(`^ECR ${AMAZON_HOST}: no-such-repo: ListImages: RepositoryNotFoundException: `));
    const putting = await rejection(r.putManifest('no-such-repo', 'x', { mediaType: MEDIA.dockerManifest, body: Buffer.from('{}') }));
    expect(putting.message).toMatch(/: no-such-repo: PutImage: RepositoryNotFoundException: /);
    // After login the host is the proxy endpoint's.
    await r.login();
    expect((await rejection(r.getManifest('no-such-repo', 'latest'))).message).toMatch(new RegExp(`^ECR ${registry.host}: no-such-repo: BatchGetImage: RepositoryNotFoundException`));
    for (const e of [missingRepo, missingTag, listing, putting]) expect(e.message).not.toContain('\n');
  });

  it('no secret in any message or field: a wrong key, an echoed password, the object itself', async () => {
    const secrets = () => [ecr.env.AWS_SECRET_ACCESS_KEY, registry.password, Buffer.from(`AWS:${registry.password}`).toString('base64')];
    const wrongSecret = `${ecr.env.AWS_SECRET_ACCESS_KEY}x`;
    const wrong = open({ env: { ...ecr.env, AWS_SECRET_ACCESS_KEY: wrongSecret } });
    const refused = await rejection(wrong.login());
    expect(refused.message).toMatch(new RegExp(`^ECR ${AMAZON_HOST}: GetAuthorizationToken: InvalidSignatureException: `));

    const r = open({ adminArn: `arn:aws:iam::${ACCOUNT}:role/admin-role` });
    const login = await r.login();
    expect(login.credentials.password).toBe(registry.password);
    // A tag that happens to be the password: ECR's answer names it, our message must not.
    const echoed = await rejection(r.deleteImage('demo-user-image', { tag: registry.password }));
    expect(echoed.message).toMatch(/BatchDeleteImage: ImageNotFound: Requested image not found \(imageTag=\*\*\*\)$/);

    const { credentials, ...shown } = login;
    expect(credentials).toBeDefined();
    const outputs = [refused.message, echoed.message, JSON.stringify(shown), JSON.stringify(r), inspect(r, { showHidden: true, depth: 5 }), JSON.stringify(wrong), inspect(wrong)];
    for (const text of outputs) for (const secret of [...secrets(), wrongSecret]) expect(text).not.toContain(secret);
  });

  it('no AWS credentials: one line, exit 2, and nothing sent', async () => {
    checkBuilt();
    const script = `
      const { EcrRegistry } = require(${JSON.stringify(join(DIST, 'index.js'))});
      new EcrRegistry({ accountId: '${ACCOUNT}', region: 'us-east-1' }).login().then(
        () => process.exit(0),
        (e) => { process.stderr.write(e.message + '\\n'); process.exit(e.exitCode ?? 99); });`;
    const before = ecr.calls.length;
    const run = await node(script, childEnv({ AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' }));
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`^ECR ${AMAZON_HOST}: no AWS credentials \\(.+\\): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, as for the aws CLI\\n$`));
    expect(ecr.calls.length).toBe(before);
  });

  it('loads the SDK only when used, and keeps its Node-version warning (only that one) off stderr', async () => {
    checkBuilt();
    const script = `
      const loaded = () => Object.keys(require.cache).some((k) => k.includes('@aws-sdk'));
      const { EcrRegistry } = require(${JSON.stringify(join(DIST, 'index.js'))});
      const before = loaded();
      const r = new EcrRegistry({ accountId: '${ACCOUNT}', region: 'us-east-1', adminArn: 'arn:aws:iam::${ACCOUNT}:role/admin-role' });
      (async () => {
        const login = await r.login();
        await r.listTags('demo-user-image');
        process.emitWarning('imagewright-probe: other warnings still show');
        console.log(JSON.stringify({ before, after: loaded(), host: login.host }));
      })().catch((e) => { console.error(e.message); process.exit(1); });`;
    const run = await node(script, childEnv());
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ before: false, after: true, host: registry.host });
    expect(run.stderr).toContain('imagewright-probe: other warnings still show');
    expect(run.stderr).not.toContain('NodeVersionSupportWarning');
    expect(run.stderr.replace(/.*imagewright-probe.*\n|\(Use `node --trace-warnings.*\n/g, '')).toBe('');

    // The control: the bare SDK on this Node does print it (when its Node is one the SDK warns about).
    const bare = await node(`new (require('@aws-sdk/client-ecr').ECRClient)({}); new (require('@aws-sdk/client-sts').STSClient)({});`, childEnv());
    expect(bare.code, bare.stderr).toBe(0);
    if (Number(process.versions.node.split('.')[0]) < 22) expect(bare.stderr).toContain('NodeVersionSupportWarning');
  });
});
