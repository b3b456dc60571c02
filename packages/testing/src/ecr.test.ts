import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchDeleteImageCommand,
  BatchGetImageCommand,
  DescribeImageScanFindingsCommand,
  DescribeImagesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
  ListImagesCommand,
  PutImageCommand,
  StartImageScanCommand,
  type ImageIdentifier,
} from '@aws-sdk/client-ecr';
import { DecryptCommand, DescribeKeyCommand, EncryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, busyboxImage } from './busybox';
import { startEcr, type Ecr } from './ecr';
import { ensureEngine } from './engine';
import { overrideProcessEnv } from './process-env';
import { startRegistry, type Registry } from './registry';
import { dockerConfigWith, indexOf, labelledImage, MEDIA, putManifestHttp, sha256, skopeo } from './registry-images';

interface Keys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

const LOOPBACK = /^http:\/\/127\.0\.0\.1:\d+$/;

/**
 * The unmodified SDK clients aimed at the stand-in. Refuses (loudly) any endpoint that is not
 * loopback: these tests must never reach AWS. maxAttempts 1: an error is seen as it came.
 */
function clients(ecr: Ecr, keys?: Keys): { ecr: ECRClient; sts: STSClient } {
  const endpoint = ecr.env.AWS_ENDPOINT_URL_ECR;
  if (!LOOPBACK.test(endpoint) || !LOOPBACK.test(ecr.env.AWS_ENDPOINT_URL_STS)) throw new Error(`refusing a non-loopback AWS endpoint: ${endpoint}`);
  const credentials = keys ?? { accessKeyId: ecr.env.AWS_ACCESS_KEY_ID, secretAccessKey: ecr.env.AWS_SECRET_ACCESS_KEY };
  return {
    ecr: new ECRClient({ region: ecr.region, endpoint, credentials, maxAttempts: 1 }),
    sts: new STSClient({ region: ecr.region, endpoint: ecr.env.AWS_ENDPOINT_URL_STS, credentials, maxAttempts: 1 }),
  };
}

/** The SDK exception a promise rejects with: its name (AWS's code) and message. */
async function awsError(promise: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return { name: (error as Error).name, message: (error as Error).message };
  }
  throw new Error('expected an AWS error, the call succeeded');
}

describe('startEcr (ECR and STS stand-in, the unmodified AWS SDK against a real registry)', () => {
  let registry: Registry;
  let ecr: Ecr;
  let sdk: { ecr: ECRClient; sts: STSClient };
  let cfg: string; // DOCKER_CONFIG for skopeo, the oracle
  let busybox: string; // digest of the busybox image as Docker v2 (same bytes in every repository)
  let other: string; // a second, different image
  let restoreEnv: (() => void) | undefined;

  beforeAll(async () => {
    const engine = await ensureEngine();
    await busyboxImage(engine);
    other = await labelledImage(engine, 'ecr');
    registry = await startRegistry({ username: 'AWS' });
    ecr = await startEcr({ registry, repositories: ['empty', 'made'] });
    // In this process too the SDK reads the stand-in's empty config files, never the real ~/.aws.
    restoreEnv = overrideProcessEnv(ecr.env, ['AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_EC2_METADATA_DISABLED', 'AWS_ENDPOINT_URL_ECR', 'AWS_ENDPOINT_URL_STS', 'AWS_ENDPOINT_URL']);
    sdk = clients(ecr);
    cfg = dockerConfigWith({ [registry.host]: { username: 'AWS', password: registry.password } });
    busybox = skopeo.push(cfg, BUSYBOX_IMAGE, `${registry.host}/base:one`);
  });

  afterAll(async () => {
    restoreEnv?.();
    await ecr?.stop();
    await registry?.stop();
    if (cfg) rmSync(cfg, { recursive: true, force: true });
  });

  it('needs a registry whose user is AWS, as ECR tokens are AWS:<password>', async () => {
    const plain = { ...registry, username: 'imagewright' };
    await expect(startEcr({ registry: plain })).rejects.toThrow(/username: 'AWS'/);
  });

  it('gives an environment that points both services at loopback and keeps the SDK off the real ~/.aws', () => {
    expect(ecr.endpoint).toMatch(LOOPBACK);
    expect(ecr.env).toMatchObject({
      AWS_ENDPOINT_URL_ECR: ecr.endpoint,
      AWS_ENDPOINT_URL_STS: ecr.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SESSION_TOKEN: '',
      AWS_PROFILE: '',
    });
    expect(ecr.env.AWS_CONFIG_FILE).not.toContain('.aws');
    expect(ecr.env.AWS_SHARED_CREDENTIALS_FILE).not.toContain('.aws');
    expect(ecr.accountId).toBe('123456789012');
  });

  it('is reached by an SDK given nothing but that environment (AWS_ENDPOINT_URL_<SERVICE> honoured, ~/.aws unread)', async () => {
    // A HOME whose ~/.aws would send the SDK elsewhere with other keys: it must not be read.
    const home = mkdtempSync(join(tmpdir(), 'imagewright-ecr-home-'));
    mkdirSync(join(home, '.aws'));
    writeFileSync(join(home, '.aws', 'config'), '[default]\nregion = eu-west-3\nendpoint_url = http://127.0.0.1:1\n');
    writeFileSync(join(home, '.aws', 'credentials'), '[default]\naws_access_key_id = AKIAFROMHOMEDIR00000\naws_secret_access_key = nope\n');
    const script = `
      const { ECRClient, GetAuthorizationTokenCommand } = require('@aws-sdk/client-ecr');
      const { STSClient, GetCallerIdentityCommand } = require('@aws-sdk/client-sts');
      (async () => {
        const token = await new ECRClient({}).send(new GetAuthorizationTokenCommand({}));
        const who = await new STSClient({}).send(new GetCallerIdentityCommand({}));
        console.log(JSON.stringify({ proxy: token.authorizationData[0].proxyEndpoint, arn: who.Arn }));
      })().catch((e) => { console.error(e.name + ': ' + e.message); process.exit(1); });`;
    const before = ecr.calls.length;
    // The generic AWS_ENDPOINT_URL goes to a closed port: only the service-specific ones can work.
    // An outer profile and session token are neutralised by the stand-in's environment.
    const env = { PATH: process.env.PATH ?? '', HOME: home, AWS_PROFILE: 'outer', AWS_SESSION_TOKEN: 'outer', ...ecr.env, AWS_ENDPOINT_URL: 'http://127.0.0.1:1' };
    // Asynchronously: the stand-in answering it lives in this process.
    const run = await new Promise<{ status: number; stdout: string; stderr: string }>((res) =>
      execFile(process.execPath, ['-e', script], { cwd: __dirname, env, encoding: 'utf8' }, (error, stdout, stderr) => res({ status: error ? Number(error.code ?? 1) : 0, stdout, stderr })),
    );
    rmSync(home, { recursive: true, force: true });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ proxy: `http://${registry.host}`, arn: 'arn:aws:iam::123456789012:user/imagewright-test' });
    const seen = ecr.calls.slice(before);
    expect(seen.map((c) => `${c.service} ${c.operation} ${c.accessKeyId}`)).toEqual([
      `ecr GetAuthorizationToken ${ecr.env.AWS_ACCESS_KEY_ID}`,
      `sts GetCallerIdentity ${ecr.env.AWS_ACCESS_KEY_ID}`,
    ]);
  });

  it('GetAuthorizationToken: a token the real registry takes (skopeo), its proxy endpoint, an expiry', async () => {
    const out = await sdk.ecr.send(new GetAuthorizationTokenCommand({ registryIds: [ecr.accountId] }));
    const data = out.authorizationData![0]!;
    const [user, password] = Buffer.from(data.authorizationToken!, 'base64').toString('utf8').split(/:(.*)/s);
    expect(user).toBe('AWS');
    expect(data.proxyEndpoint).toBe(`http://${registry.host}`);
    expect(data.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 3600_000);
    const viaToken = dockerConfigWith({ [registry.host]: { username: user!, password: password! } });
    try {
      expect(skopeo.tags(viaToken, `${registry.host}/base`)).toEqual(['one']);
    } finally {
      rmSync(viaToken, { recursive: true, force: true });
    }
    const elsewhere = await awsError(sdk.ecr.send(new GetAuthorizationTokenCommand({ registryIds: ['999999999999'] })));
    expect(elsewhere.name).toBe('InvalidParameterException');
  });

  it('STS AssumeRole (query protocol): temporary keys ECR then accepts, signed calls logged by key', async () => {
    const roleArn = `arn:aws:iam::${ecr.accountId}:role/admin-role`;
    const out = await sdk.sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'tester' }));
    const c = out.Credentials!;
    expect(c.AccessKeyId).toMatch(/^ASIA/);
    expect(c.SessionToken).toBeTruthy();
    expect(c.Expiration!.getTime()).toBeGreaterThan(Date.now());
    expect(out.AssumedRoleUser!.Arn).toBe(`arn:aws:sts::${ecr.accountId}:assumed-role/admin-role/tester`);
    const assumeCall = ecr.calls.at(-1)!;
    expect(assumeCall).toMatchObject({ service: 'sts', operation: 'AssumeRole', accessKeyId: ecr.env.AWS_ACCESS_KEY_ID, roleArn, roleSessionName: 'tester', issuedAccessKeyId: c.AccessKeyId });

    const temp = clients(ecr, { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! });
    await temp.ecr.send(new ListImagesCommand({ repositoryName: 'base' }));
    expect(ecr.calls.at(-1)).toMatchObject({ service: 'ecr', operation: 'ListImages', accessKeyId: c.AccessKeyId, repository: 'base' });
    expect(ecr.calls.at(-1)!.error).toBeUndefined();
    expect((await temp.sts.send(new GetCallerIdentityCommand({}))).Arn).toBe(out.AssumedRoleUser!.Arn);

    // Without its session token the temporary key is no one.
    const noToken = clients(ecr, { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey! });
    expect((await awsError(noToken.ecr.send(new ListImagesCommand({ repositoryName: 'base' })))).name).toBe('UnrecognizedClientException');
    expect((await awsError(sdk.sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::999999999999:role/x', RoleSessionName: 'tester' })))).name).toBe('AccessDenied');
  });

  it('verifies SigV4: a wrong secret or an unknown key is refused by both services', async () => {
    const wrong = clients(ecr, { accessKeyId: ecr.env.AWS_ACCESS_KEY_ID, secretAccessKey: `${ecr.env.AWS_SECRET_ACCESS_KEY}x` });
    expect((await awsError(wrong.ecr.send(new ListImagesCommand({ repositoryName: 'base' })))).name).toBe('InvalidSignatureException');
    expect((await awsError(wrong.sts.send(new GetCallerIdentityCommand({})))).name).toBe('SignatureDoesNotMatch');
    const stranger = clients(ecr, { accessKeyId: 'AKIANOTKNOWN00000000', secretAccessKey: 'x' });
    expect((await awsError(stranger.ecr.send(new ListImagesCommand({ repositoryName: 'base' })))).name).toBe('UnrecognizedClientException');
    expect((await awsError(stranger.sts.send(new GetCallerIdentityCommand({})))).name).toBe('InvalidClientTokenId');
    expect(ecr.calls.at(-1)).toMatchObject({ accessKeyId: 'AKIANOTKNOWN00000000', error: 'InvalidClientTokenId' });
  });

  it('RepositoryNotFoundException for a repository neither declared nor pushed to; a pushed one exists', async () => {
    const missing = await awsError(sdk.ecr.send(new ListImagesCommand({ repositoryName: 'nowhere' })));
    expect(missing).toEqual({ name: 'RepositoryNotFoundException', message: "The repository with name 'nowhere' does not exist in the registry with id '123456789012'" });
    expect((await awsError(sdk.ecr.send(new ListImagesCommand({ repositoryName: 'base', registryId: '999999999999' })))).name).toBe('RepositoryNotFoundException');
    expect((await awsError(sdk.ecr.send(new ListImagesCommand({ repositoryName: 'Bad_Name' })))).name).toBe('InvalidParameterException');
    expect((await sdk.ecr.send(new ListImagesCommand({ repositoryName: 'empty' }))).imageIds).toEqual([]);
    // 'base' was only pushed to by skopeo: it exists.
    expect((await sdk.ecr.send(new ListImagesCommand({ repositoryName: 'base' }))).imageIds).toEqual([{ imageDigest: busybox, imageTag: 'one' }]);
  });

  it('BatchGetImage: the exact bytes skopeo sees, by tag or digest; per-id failures with AWS codes', async () => {
    const raw = skopeo.raw(cfg, `${registry.host}/base:one`);
    const out = await sdk.ecr.send(
      new BatchGetImageCommand({ repositoryName: 'base', imageIds: [{ imageTag: 'one' }, { imageDigest: busybox }, { imageTag: 'none' }, {}, { imageDigest: 'nope' }, { imageTag: 'one', imageDigest: `sha256:${'0'.repeat(64)}` }], acceptedMediaTypes: [MEDIA.dockerManifest] }),
    );
    expect(out.images!.map((i) => i.imageId)).toEqual([{ imageDigest: busybox, imageTag: 'one' }, { imageDigest: busybox }]);
    for (const image of out.images!) {
      expect(Buffer.from(image.imageManifest!, 'utf8').equals(raw)).toBe(true);
      expect(image.imageManifestMediaType).toBe(MEDIA.dockerManifest);
      expect(image.registryId).toBe(ecr.accountId);
    }
    expect(out.failures!.map((f) => f.failureCode)).toEqual(['ImageNotFound', 'MissingDigestAndTag', 'InvalidImageDigest', 'ImageTagDoesNotMatchDigest']);
    expect(out.failures![0]).toEqual({ imageId: { imageTag: 'none' }, failureCode: 'ImageNotFound', failureReason: 'Requested image not found' });
  });

  it('PutImage: a new tag on the same bytes (digest kept, per skopeo); ImageAlreadyExistsException when the tag has it', async () => {
    const raw = skopeo.raw(cfg, `${registry.host}/base:one`);
    const put = await sdk.ecr.send(new PutImageCommand({ repositoryName: 'base', imageTag: 'two', imageManifest: raw.toString('utf8'), imageManifestMediaType: MEDIA.dockerManifest }));
    expect(put.image!.imageId).toEqual({ imageDigest: busybox, imageTag: 'two' });
    expect(skopeo.digest(cfg, `${registry.host}/base:two`)).toBe(busybox);
    const again = await awsError(sdk.ecr.send(new PutImageCommand({ repositoryName: 'base', imageTag: 'two', imageManifest: raw.toString('utf8') })));
    expect(again.name).toBe('ImageAlreadyExistsException');
    expect(again.message).toBe(`Image with digest '${busybox}' and tag 'two' already exists in the repository with name 'base' in registry with id '123456789012'`);

    expect((await awsError(sdk.ecr.send(new PutImageCommand({ repositoryName: 'nowhere', imageTag: 'x', imageManifest: raw.toString('utf8') })))).name).toBe('RepositoryNotFoundException');
    expect((await awsError(sdk.ecr.send(new PutImageCommand({ repositoryName: 'base', imageTag: 'x', imageManifest: '{not json' })))).name).toBe('InvalidParameterException');
    expect((await awsError(sdk.ecr.send(new PutImageCommand({ repositoryName: 'base', imageTag: 'x', imageManifest: raw.toString('utf8'), imageManifestMediaType: MEDIA.ociManifest })))).name).toBe(
      'InvalidParameterException',
    );
    expect((await awsError(sdk.ecr.send(new PutImageCommand({ repositoryName: 'base', imageTag: 'x', imageManifest: raw.toString('utf8'), imageDigest: `sha256:${'1'.repeat(64)}` })))).name).toBe(
      'ImageDigestDoesNotMatchException',
    );
    // A layer the repository lacks, and an index over a manifest it lacks.
    const lacking = raw.toString('utf8').replace(/"digest": ?"sha256:[0-9a-f]{64}"(?![\s\S]*"digest")/, `"digest": "sha256:${'2'.repeat(64)}"`);
    expect(lacking).not.toBe(raw.toString('utf8'));
    expect((await awsError(sdk.ecr.send(new PutImageCommand({ repositoryName: 'base', imageTag: 'x', imageManifest: lacking })))).name).toBe('LayersNotFoundException');
    const orphanIndex = indexOf(MEDIA.ociIndex, [{ mediaType: MEDIA.ociManifest, body: Buffer.from('{"not":"there"}') }]);
    expect((await awsError(sdk.ecr.send(new PutImageCommand({ repositoryName: 'base', imageTag: 'x', imageManifest: orphanIndex.toString('utf8') })))).name).toBe(
      'ReferencedImagesNotFoundException',
    );
    expect(skopeo.tags(cfg, `${registry.host}/base`)).toEqual(['one', 'two']);
  });

  it('an OCI index put through the stand-in; acceptedMediaTypes decides whether BatchGetImage returns it', async () => {
    const child = skopeo.push(cfg, BUSYBOX_IMAGE, `${registry.host}/multi:child`, 'oci');
    const index = indexOf(MEDIA.ociIndex, [{ mediaType: MEDIA.ociManifest, body: skopeo.raw(cfg, `${registry.host}/multi:child`) }]);
    const put = await sdk.ecr.send(new PutImageCommand({ repositoryName: 'multi', imageTag: 'index', imageManifest: index.toString('utf8'), imageManifestMediaType: MEDIA.ociIndex }));
    expect(put.image!.imageId!.imageDigest).toBe(sha256(index));
    expect(skopeo.raw(cfg, `${registry.host}/multi:index`).equals(index)).toBe(true);

    const asIndex = await sdk.ecr.send(new BatchGetImageCommand({ repositoryName: 'multi', imageIds: [{ imageTag: 'index' }], acceptedMediaTypes: [MEDIA.ociManifest, MEDIA.ociIndex] }));
    expect(asIndex.images![0]!.imageManifestMediaType).toBe(MEDIA.ociIndex);
    expect(Buffer.from(asIndex.images![0]!.imageManifest!, 'utf8').equals(index)).toBe(true);
    const refused = await sdk.ecr.send(new BatchGetImageCommand({ repositoryName: 'multi', imageIds: [{ imageTag: 'index' }], acceptedMediaTypes: [MEDIA.ociManifest] }));
    expect(refused.images).toEqual([]);
    expect(refused.failures![0]!.failureCode).toBe('ImageNotFound');

    // An image an index refers to can't be deleted by digest (ECR's rule; the registry would allow it).
    const del = await sdk.ecr.send(new BatchDeleteImageCommand({ repositoryName: 'multi', imageIds: [{ imageDigest: child }] }));
    expect(del.failures!.map((f) => f.failureCode)).toEqual(['ImageReferencedByManifestList']);
    expect(skopeo.digest(cfg, `${registry.host}/multi:child`)).toBe(child);
    // Untagging it keeps it, untagged, for the index.
    await sdk.ecr.send(new BatchDeleteImageCommand({ repositoryName: 'multi', imageIds: [{ imageTag: 'child' }] }));
    expect(skopeo.tags(cfg, `${registry.host}/multi`)).toEqual(['index']);
    expect(skopeo.digest(cfg, `${registry.host}/multi@${child}`)).toBe(child);
    const untagged = await sdk.ecr.send(new ListImagesCommand({ repositoryName: 'multi', filter: { tagStatus: 'UNTAGGED' } }));
    expect(untagged.imageIds).toEqual([{ imageDigest: child }]);
  });

  it('BatchDeleteImage by tag untags (the image stays while other tags point at it; the last tag takes it), by digest deletes', async () => {
    for (const tag of ['a', 'b', 'c']) skopeo.push(cfg, BUSYBOX_IMAGE, `${registry.host}/del:${tag}`);
    const second = skopeo.push(cfg, other, `${registry.host}/del:d`);
    const byTag = await sdk.ecr.send(new BatchDeleteImageCommand({ repositoryName: 'del', imageIds: [{ imageTag: 'a' }, { imageTag: 'zz' }] }));
    expect(byTag.imageIds).toEqual([{ imageDigest: busybox, imageTag: 'a' }]);
    expect(byTag.failures).toEqual([{ imageId: { imageTag: 'zz' }, failureCode: 'ImageNotFound', failureReason: 'Requested image not found' }]);
    expect(skopeo.tags(cfg, `${registry.host}/del`)).toEqual(['b', 'c', 'd']);
    expect(skopeo.digest(cfg, `${registry.host}/del:b`)).toBe(busybox);

    const byDigest = await sdk.ecr.send(new BatchDeleteImageCommand({ repositoryName: 'del', imageIds: [{ imageDigest: busybox }] }));
    expect(byDigest.imageIds!.map((i) => i.imageTag).sort()).toEqual(['b', 'c']);
    expect(byDigest.failures).toEqual([]);
    expect(skopeo.tags(cfg, `${registry.host}/del`)).toEqual(['d']);
    expect(() => skopeo.raw(cfg, `${registry.host}/del@${busybox}`)).toThrow();

    // The last tag: the image goes with it, as ECR documents.
    await sdk.ecr.send(new BatchDeleteImageCommand({ repositoryName: 'del', imageIds: [{ imageTag: 'd' }] }));
    expect(skopeo.tags(cfg, `${registry.host}/del`)).toEqual([]);
    expect(() => skopeo.raw(cfg, `${registry.host}/del@${second}`)).toThrow();
    expect((await sdk.ecr.send(new ListImagesCommand({ repositoryName: 'del' }))).imageIds).toEqual([]);
  });

  it('ListImages: TAGGED / UNTAGGED / ANY; a digest seen under a tag that then moved stays listed, untagged', async () => {
    skopeo.push(cfg, BUSYBOX_IMAGE, `${registry.host}/moving:latest`);
    skopeo.push(cfg, BUSYBOX_IMAGE, `${registry.host}/moving:keep`);
    const first = skopeo.push(cfg, other, `${registry.host}/moving:v1`);
    await sdk.ecr.send(new ListImagesCommand({ repositoryName: 'moving' })); // the stand-in sees v1's digest
    skopeo.push(cfg, BUSYBOX_IMAGE, `${registry.host}/moving:v1`); // v1 now names busybox: `first` is untagged

    const list = async (tagStatus?: 'TAGGED' | 'UNTAGGED' | 'ANY') =>
      (await sdk.ecr.send(new ListImagesCommand({ repositoryName: 'moving', ...(tagStatus ? { filter: { tagStatus } } : {}) }))).imageIds!;
    const key = (ids: ImageIdentifier[]) => ids.map((i) => `${i.imageTag ?? '-'}@${i.imageDigest}`).sort();
    expect(key(await list('TAGGED'))).toEqual(key(['keep', 'latest', 'v1'].map((imageTag) => ({ imageTag, imageDigest: busybox }))));
    expect(await list('UNTAGGED')).toEqual([{ imageDigest: first }]);
    expect(key(await list())).toEqual(key([...(await list('TAGGED')), { imageDigest: first }]));
    expect(key(await list('ANY'))).toEqual(key(await list()));
    expect((await awsError(sdk.ecr.send(new ListImagesCommand({ repositoryName: 'moving', filter: { tagStatus: 'SOME' as never } })))).name).toBe('InvalidParameterException');
  });

  it('ListImages pages: maxResults + nextToken reach every tag; 100 a page when maxResults is not given', async () => {
    const raw = skopeo.raw(cfg, `${registry.host}/base:one`);
    skopeo.push(cfg, BUSYBOX_IMAGE, `${registry.host}/paged:t000`);
    // Tags put straight into the registry (as docker push would): the stand-in finds them.
    for (let i = 1; i < 103; i++) await putManifestHttp(registry.host, { username: 'AWS', password: registry.password }, 'paged', `t${String(i).padStart(3, '0')}`, MEDIA.dockerManifest, raw);
    const expected = skopeo.tags(cfg, `${registry.host}/paged`);
    expect(expected).toHaveLength(103);

    const collect = async (maxResults?: number) => {
      const pages: number[] = [];
      const tags: string[] = [];
      let nextToken: string | undefined;
      do {
        const out = await sdk.ecr.send(new ListImagesCommand({ repositoryName: 'paged', filter: { tagStatus: 'TAGGED' }, maxResults, nextToken }));
        pages.push(out.imageIds!.length);
        tags.push(...out.imageIds!.map((i) => i.imageTag!));
        nextToken = out.nextToken;
      } while (nextToken);
      return { pages, tags: tags.sort() };
    };
    expect(await collect(40)).toEqual({ pages: [40, 40, 23], tags: expected });
    expect(await collect()).toEqual({ pages: [100, 3], tags: expected });

    expect((await awsError(sdk.ecr.send(new ListImagesCommand({ repositoryName: 'paged', nextToken: 'garbage' })))).name).toBe('InvalidParameterException');
    expect((await awsError(sdk.ecr.send(new ListImagesCommand({ repositoryName: 'paged', maxResults: 1001 })))).name).toBe('InvalidParameterException');
  });

  it('DescribeImages: one detail per image with tags, size, push time and media type; ImageNotFoundException by id; pages', async () => {
    const a = skopeo.push(cfg, BUSYBOX_IMAGE, `${registry.host}/described:a`);
    skopeo.push(cfg, BUSYBOX_IMAGE, `${registry.host}/described:b`);
    const o = skopeo.push(cfg, other, `${registry.host}/described:other`);
    const layers = (JSON.parse(skopeo.raw(cfg, `${registry.host}/described:a`).toString('utf8')) as { layers: { size: number }[] }).layers;

    const all = await sdk.ecr.send(new DescribeImagesCommand({ repositoryName: 'described' }));
    const byDigest = new Map(all.imageDetails!.map((d) => [d.imageDigest, d]));
    expect([...byDigest.keys()].sort()).toEqual([a, o].sort());
    const detail = byDigest.get(a)!;
    expect(detail).toMatchObject({ registryId: ecr.accountId, repositoryName: 'described', imageManifestMediaType: MEDIA.dockerManifest, artifactMediaType: 'application/vnd.docker.container.image.v1+json' });
    expect(detail.imageTags!.sort()).toEqual(['a', 'b']);
    expect(detail.imageSizeInBytes).toBe(layers.reduce((sum, l) => sum + l.size, 0));
    expect(detail.imagePushedAt).toBeInstanceOf(Date);
    expect(Math.abs(detail.imagePushedAt!.getTime() - Date.now())).toBeLessThan(600_000);

    const one = await sdk.ecr.send(new DescribeImagesCommand({ repositoryName: 'described', imageIds: [{ imageTag: 'other' }] }));
    expect(one.imageDetails!.map((d) => d.imageDigest)).toEqual([o]);
    const missing = await awsError(sdk.ecr.send(new DescribeImagesCommand({ repositoryName: 'described', imageIds: [{ imageTag: 'gone' }] })));
    expect(missing.name).toBe('ImageNotFoundException');
    expect(missing.message).toContain("imageTag:'gone'");

    const first = await sdk.ecr.send(new DescribeImagesCommand({ repositoryName: 'described', maxResults: 1 }));
    expect(first.imageDetails).toHaveLength(1);
    const second = await sdk.ecr.send(new DescribeImagesCommand({ repositoryName: 'described', maxResults: 1, nextToken: first.nextToken }));
    expect(second.nextToken).toBeUndefined();
    expect([first.imageDetails![0]!.imageDigest, second.imageDetails![0]!.imageDigest].sort()).toEqual([a, o].sort());
  });

  it('PutImage without a tag keeps an untagged image, listed by ListImages UNTAGGED', async () => {
    const raw = skopeo.raw(cfg, `${registry.host}/base:one`);
    skopeo.push(cfg, BUSYBOX_IMAGE, `${registry.host}/made:seed`);
    await sdk.ecr.send(new BatchDeleteImageCommand({ repositoryName: 'made', imageIds: [{ imageTag: 'seed' }] })); // gone: its last tag
    expect((await sdk.ecr.send(new ListImagesCommand({ repositoryName: 'made' }))).imageIds).toEqual([]);
    // The layers stay in the registry (no garbage collection), so the manifest can come back untagged.
    const put = await sdk.ecr.send(new PutImageCommand({ repositoryName: 'made', imageManifest: raw.toString('utf8') }));
    expect(put.image!.imageId).toEqual({ imageDigest: busybox });
    expect((await sdk.ecr.send(new ListImagesCommand({ repositoryName: 'made', filter: { tagStatus: 'UNTAGGED' } }))).imageIds).toEqual([{ imageDigest: busybox }]);
    expect(skopeo.digest(cfg, `${registry.host}/made@${busybox}`)).toBe(busybox);
    expect((await awsError(sdk.ecr.send(new PutImageCommand({ repositoryName: 'made', imageManifest: raw.toString('utf8') })))).name).toBe('ImageAlreadyExistsException');
  });

  it('DescribeImageScanFindings: IN_PROGRESS for the set number of calls, then COMPLETE with every finding over maxResults/nextToken pages', async () => {
    skopeo.push(cfg, BUSYBOX_IMAGE, `${registry.host}/scanned:one`);
    const findings = Array.from({ length: 7 }, (_, i) => ({
      name: `CVE-2024-${1000 + i}`,
      severity: i < 2 ? 'HIGH' : 'LOW',
      uri: `https://ubuntu.com/security/CVE-2024-${1000 + i}`,
      attributes: [{ key: 'package_name', value: `pkg${i}` }],
    }));
    await ecr.setScan('scanned', 'one', { findings, pendingCalls: 2, completedAt: new Date('2024-05-01T10:00:00Z'), vulnerabilitySourceUpdatedAt: new Date('2024-04-30T00:00:00Z') });
    const ask = (nextToken?: string) => sdk.ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'scanned', imageId: { imageTag: 'one' }, maxResults: 3, nextToken }));
    for (let i = 0; i < 2; i++) {
      const pending = await ask();
      expect(pending.imageScanStatus?.status).toBe('IN_PROGRESS');
      expect(pending.imageScanFindings).toBeUndefined();
    }
    const pages = [await ask()];
    while (pages.at(-1)!.nextToken) pages.push(await ask(pages.at(-1)!.nextToken));
    expect(pages.map((p) => p.imageScanFindings?.findings?.length)).toEqual([3, 3, 1]);
    expect(pages.flatMap((p) => p.imageScanFindings!.findings!)).toEqual(findings);
    expect(pages[0]).toMatchObject({
      registryId: ecr.accountId,
      repositoryName: 'scanned',
      imageId: { imageDigest: busybox, imageTag: 'one' },
      imageScanStatus: { status: 'COMPLETE', description: 'The scan was completed successfully.' },
      imageScanFindings: { findingSeverityCounts: { HIGH: 2, LOW: 5 }, imageScanCompletedAt: new Date('2024-05-01T10:00:00Z'), vulnerabilitySourceUpdatedAt: new Date('2024-04-30T00:00:00Z') },
    });
    // By digest, and after a retag: the scan belongs to the image.
    skopeo.push(cfg, BUSYBOX_IMAGE, `${registry.host}/scanned:two`);
    const byDigest = await sdk.ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'scanned', imageId: { imageDigest: busybox }, maxResults: 1000 }));
    expect(byDigest.imageScanFindings?.findings).toHaveLength(7);
    const byOtherTag = await sdk.ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'scanned', imageId: { imageTag: 'two' } }));
    expect(byOtherTag.imageId).toEqual({ imageDigest: busybox, imageTag: 'two' });
    expect((await awsError(ask('bogus'))).name).toBe('InvalidParameterException');
  });

  it('scan errors: ScanNotFoundException for an image never scanned, ImageNotFoundException for an unknown tag or digest; UNSUPPORTED_IMAGE and enhanced (ACTIVE) scans', async () => {
    skopeo.push(cfg, other, `${registry.host}/scanned:never`);
    const never = await awsError(sdk.ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'scanned', imageId: { imageTag: 'never' } })));
    expect(never).toMatchObject({ name: 'ScanNotFoundException', message: expect.stringContaining("imageTag:'never'") });
    expect((await awsError(sdk.ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'scanned', imageId: { imageTag: 'nothing' } })))).name).toBe('ImageNotFoundException');
    const noDigest = `sha256:${'0'.repeat(64)}`;
    expect((await awsError(sdk.ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'scanned', imageId: { imageDigest: noDigest } })))).name).toBe('ImageNotFoundException');
    await expect(ecr.setScan('scanned', 'nothing', {})).rejects.toThrow(/not found/);

    await ecr.setScan('scanned', 'never', { status: 'UNSUPPORTED_IMAGE' });
    const unsupported = await sdk.ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'scanned', imageId: { imageTag: 'never' } }));
    expect(unsupported.imageScanStatus).toEqual({ status: 'UNSUPPORTED_IMAGE', description: 'UnsupportedImageError: The operating system and/or package manager are not supported.' });
    expect(unsupported.imageScanFindings).toBeUndefined();

    const enhanced = [{ severity: 'CRITICAL', title: 'CVE-2024-9 - zlib', packageVulnerabilityDetails: { vulnerabilityId: 'CVE-2024-9', vulnerablePackages: [{ name: 'zlib', version: '1.2.13' }] } }];
    await ecr.setScan('scanned', 'never', { enhancedFindings: enhanced, status: 'ACTIVE' });
    const active = await sdk.ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'scanned', imageId: { imageTag: 'never' } }));
    expect(active.imageScanStatus?.status).toBe('ACTIVE');
    expect(active.imageScanFindings?.findings).toBeUndefined();
    expect(active.imageScanFindings?.enhancedFindings).toEqual(enhanced);
    expect(active.imageScanFindings?.findingSeverityCounts).toEqual({ CRITICAL: 1 });
  });

  it('StartImageScan: an image never scanned gets an empty scan, IN_PROGRESS once, then COMPLETE', async () => {
    skopeo.push(cfg, other, `${registry.host}/started:x`);
    const started = await sdk.ecr.send(new StartImageScanCommand({ repositoryName: 'started', imageId: { imageTag: 'x' } }));
    expect(started.imageScanStatus?.status).toBe('IN_PROGRESS');
    const ask = () => sdk.ecr.send(new DescribeImageScanFindingsCommand({ repositoryName: 'started', imageId: { imageTag: 'x' } }));
    expect((await ask()).imageScanStatus?.status).toBe('IN_PROGRESS');
    const done = await ask();
    expect(done.imageScanStatus?.status).toBe('COMPLETE');
    expect(done.imageScanFindings).toMatchObject({ findings: [], findingSeverityCounts: {} });
  });

  it('stop() closes the port', async () => {
    const temp = await startEcr({ registry });
    const port = Number(new URL(temp.endpoint).port);
    await temp.stop();
    await temp.stop();
    const open = await new Promise<boolean>((res) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        res(true);
      });
      socket.once('error', () => res(false));
    });
    expect(open).toBe(false);
  });
});

describe('startEcr KMS (the unmodified @aws-sdk/client-kms against the stand-in, no registry)', () => {
  let aws: Ecr;
  let kms: KMSClient;
  let restoreEnv: (() => void) | undefined;

  beforeAll(async () => {
    aws = await startEcr({});
    restoreEnv = overrideProcessEnv(aws.env, ['AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_EC2_METADATA_DISABLED', 'AWS_ENDPOINT_URL_KMS', 'AWS_ENDPOINT_URL']);
    kms = kmsClient(aws);
  });
  afterAll(async () => {
    restoreEnv?.();
    await aws?.stop();
  });

  function kmsClient(stand: Ecr, keys?: Keys): KMSClient {
    const endpoint = stand.env.AWS_ENDPOINT_URL_KMS;
    if (!LOOPBACK.test(endpoint)) throw new Error(`refusing a non-loopback AWS endpoint: ${endpoint}`);
    const credentials = keys ?? { accessKeyId: stand.env.AWS_ACCESS_KEY_ID, secretAccessKey: stand.env.AWS_SECRET_ACCESS_KEY };
    return new KMSClient({ region: stand.region, endpoint, credentials, maxAttempts: 1 });
  }

  it('routes KMS to itself through the environment it gives', () => {
    expect(aws.env.AWS_ENDPOINT_URL_KMS).toBe(aws.endpoint);
    expect(aws.endpoint).toMatch(LOOPBACK);
  });

  it('Encrypt then Decrypt gives the plaintext back, by key ARN, key id, alias name or alias ARN; calls record key and context only', async () => {
    const arn = aws.createKmsKey({ alias: 'sops-test', description: 'test key' });
    expect(arn).toMatch(/^arn:aws:kms:us-east-1:123456789012:key\/[0-9a-f-]{36}$/);
    const id = arn.split('/')[1]!;
    const plaintext = randomBytes(32);
    const context = { deployment: 'tike', role: 'secrets' };
    const before = aws.calls.length;
    for (const keyId of [arn, id, 'alias/sops-test', 'arn:aws:kms:us-east-1:123456789012:alias/sops-test']) {
      const sealed = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: plaintext, EncryptionContext: context }));
      expect(sealed.KeyId).toBe(arn);
      expect(Buffer.from(sealed.CiphertextBlob!).includes(plaintext)).toBe(false);
      // Decrypt without KeyId finds the key from the blob, as symmetric KMS keys do; with it, it must match.
      const opened = await kms.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob, EncryptionContext: { role: 'secrets', deployment: 'tike' } }));
      expect(Buffer.from(opened.Plaintext!).equals(plaintext)).toBe(true);
      expect(opened.KeyId).toBe(arn);
      const named = await kms.send(new DecryptCommand({ CiphertextBlob: sealed.CiphertextBlob, KeyId: keyId, EncryptionContext: context }));
      expect(Buffer.from(named.Plaintext!).equals(plaintext)).toBe(true);
    }
    const recorded = aws.calls.slice(before);
    expect(recorded.map((c) => `${c.service} ${c.operation}`)).toEqual(Array(4).fill(['kms Encrypt', 'kms Decrypt', 'kms Decrypt']).flat());
    expect(recorded.every((c) => c.keyArn === arn && c.encryptionContext?.deployment === 'tike' && !c.error)).toBe(true);
    expect(JSON.stringify(aws.calls)).not.toContain(plaintext.toString('base64'));
    const described = await kms.send(new DescribeKeyCommand({ KeyId: 'alias/sops-test' }));
    expect(described.KeyMetadata).toMatchObject({ Arn: arn, KeyId: id, Enabled: true, KeyState: 'Enabled', Description: 'test key', KeyUsage: 'ENCRYPT_DECRYPT' });
  });

  it('a wrong or missing encryption context, a changed blob: InvalidCiphertextException; another key named: IncorrectKeyException', async () => {
    const arn = aws.createKmsKey();
    const other = aws.createKmsKey();
    const sealed = await kms.send(new EncryptCommand({ KeyId: arn, Plaintext: randomBytes(32), EncryptionContext: { a: '1' } }));
    const blob = Buffer.from(sealed.CiphertextBlob!);
    expect((await kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { a: '1' } }))).Plaintext).toHaveLength(32);
    expect(await awsError(kms.send(new DecryptCommand({ CiphertextBlob: blob, EncryptionContext: { a: '2' } })))).toMatchObject({ name: 'InvalidCiphertextException' });
    expect(await awsError(kms.send(new DecryptCommand({ CiphertextBlob: blob })))).toMatchObject({ name: 'InvalidCiphertextException' });
    const changed = Buffer.from(blob);
    changed[changed.length - 1]! ^= 1;
    expect(await awsError(kms.send(new DecryptCommand({ CiphertextBlob: changed, EncryptionContext: { a: '1' } })))).toMatchObject({ name: 'InvalidCiphertextException' });
    expect(await awsError(kms.send(new DecryptCommand({ CiphertextBlob: randomBytes(80) })))).toMatchObject({ name: 'InvalidCiphertextException' });
    expect(await awsError(kms.send(new DecryptCommand({ CiphertextBlob: blob, KeyId: other, EncryptionContext: { a: '1' } })))).toMatchObject({ name: 'IncorrectKeyException' });
    const last = aws.calls[aws.calls.length - 1]!;
    expect(last).toMatchObject({ service: 'kms', operation: 'Decrypt', error: 'IncorrectKeyException' });
  });

  it('unknown keys and aliases: NotFoundException (KMS words); another region or account in the ARN is unknown too', async () => {
    const missing = 'arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000';
    expect(await awsError(kms.send(new EncryptCommand({ KeyId: missing, Plaintext: Buffer.from('x') })))).toEqual({ name: 'NotFoundException', message: `Key '${missing}' does not exist` });
    expect(await awsError(kms.send(new EncryptCommand({ KeyId: 'alias/nope', Plaintext: Buffer.from('x') })))).toEqual({
      name: 'NotFoundException',
      message: 'Alias arn:aws:kms:us-east-1:123456789012:alias/nope is not found.',
    });
    const arn = aws.createKmsKey();
    for (const elsewhere of [arn.replace('us-east-1', 'eu-west-3'), arn.replace('123456789012', '210987654321')]) {
      expect((await awsError(kms.send(new EncryptCommand({ KeyId: elsewhere, Plaintext: Buffer.from('x') })))).name).toBe('NotFoundException');
    }
  });

  it("a key's allow list: AccessDeniedException for others; a listed role's assumed session may; a disabled key: DisabledException", async () => {
    const role = 'arn:aws:iam::123456789012:role/sops-admin';
    const arn = aws.createKmsKey({ allow: [role] });
    const denied = await awsError(kms.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') })));
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toContain('kms:Encrypt');
    const sts = new STSClient({ region: aws.region, endpoint: aws.env.AWS_ENDPOINT_URL_STS, credentials: { accessKeyId: aws.env.AWS_ACCESS_KEY_ID, secretAccessKey: aws.env.AWS_SECRET_ACCESS_KEY }, maxAttempts: 1 });
    const assumed = await sts.send(new AssumeRoleCommand({ RoleArn: role, RoleSessionName: 'sops@test' }));
    const c = assumed.Credentials!;
    const asRole = kmsClient(aws, { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! });
    const data = await asRole.send(new GenerateDataKeyCommand({ KeyId: arn, KeySpec: 'AES_256' }));
    expect(data.Plaintext).toHaveLength(32);
    const opened = await asRole.send(new DecryptCommand({ CiphertextBlob: data.CiphertextBlob }));
    expect(Buffer.from(opened.Plaintext!).equals(Buffer.from(data.Plaintext!))).toBe(true);
    expect(aws.calls[aws.calls.length - 1]).toMatchObject({ service: 'kms', operation: 'Decrypt', accessKeyId: c.AccessKeyId, keyArn: arn });
    aws.setKmsKeyEnabled(arn, false);
    expect((await awsError(asRole.send(new DecryptCommand({ CiphertextBlob: data.CiphertextBlob })))).name).toBe('DisabledException');
    aws.setKmsKeyEnabled(arn, true);
    expect((await asRole.send(new DecryptCommand({ CiphertextBlob: data.CiphertextBlob }))).Plaintext).toHaveLength(32);
  });

  it('verifies SigV4 for KMS too; ECR without a registry is a ServerException', async () => {
    const arn = aws.createKmsKey();
    const wrong = kmsClient(aws, { accessKeyId: aws.env.AWS_ACCESS_KEY_ID, secretAccessKey: 'not-the-secret' });
    expect((await awsError(wrong.send(new EncryptCommand({ KeyId: arn, Plaintext: Buffer.from('x') })))).name).toBe('InvalidSignatureException');
    const ecr = new ECRClient({ region: aws.region, endpoint: aws.endpoint, credentials: { accessKeyId: aws.env.AWS_ACCESS_KEY_ID, secretAccessKey: aws.env.AWS_SECRET_ACCESS_KEY }, maxAttempts: 1 });
    expect((await awsError(ecr.send(new GetAuthorizationTokenCommand({})))).name).toBe('ServerException');
  });
});
