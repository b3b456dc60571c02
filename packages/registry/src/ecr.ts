import { createHash } from 'node:crypto';
import { awsClientSettings, awsError, failure, formatElapsed, isCredentialsError, quietly, usageError, type ImagewrightError } from '@imagewright/core';
// Types only: the SDK itself is required inside methods (start-up of bins that never use it).
import type {
  BatchDeleteImageCommandOutput,
  BatchGetImageCommandOutput,
  DescribeImageScanFindingsCommandOutput,
  ECRClient,
  ECRClientConfig,
  EnhancedImageScanFinding,
  GetAuthorizationTokenCommandOutput,
  ImageIdentifier,
  ImageScanFinding,
  ListImagesCommandOutput,
} from '@aws-sdk/client-ecr';
import type { AssumeRoleCommandOutput, GetCallerIdentityCommandOutput, STSClient } from '@aws-sdk/client-sts';
import { MEDIA_TYPES } from './distribution-api';
import type { EcrLogin } from './open';
import type { ManifestDoc, Registry, TagDigest } from './registry';

type EcrSdk = typeof import('@aws-sdk/client-ecr');
type StsSdk = typeof import('@aws-sdk/client-sts');
type ClientConfig = Pick<ECRClientConfig, 'region' | 'endpoint' | 'credentials' | 'profile'>;

/** Every manifest type we move: BatchGetImage must not convert a list to one platform's manifest. */
const ACCEPTED: string[] = Object.values(MEDIA_TYPES);

const sha256 = (body: Buffer) => `sha256:${createHash('sha256').update(body).digest('hex')}`;
const isDigest = (reference: string) => /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-fA-F0-9]{32,}$/.test(reference);
const describeId = (id: ImageIdentifier | undefined) =>
  [id?.imageTag && `imageTag=${id.imageTag}`, id?.imageDigest && `imageDigest=${id.imageDigest}`].filter(Boolean).join(' ') || 'image';

export interface EcrRegistryOptions {
  /** 12-digit AWS account of the registry. */
  accountId: string;
  region: string;
  /** A role to assume (STS AssumeRole) before any ECR call: ADMIN_ARN. */
  adminArn?: string;
  /**
   * Where AWS settings are read: AWS_ENDPOINT_URL[_ECR|_STS], AWS_ACCESS_KEY_ID /
   * AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, AWS_PROFILE. Without keys here, the rest of the
   * SDK's default chain (profiles, SSO, containers, instance metadata) reads process.env as the SDK does.
   */
  env?: NodeJS.ProcessEnv;
  /** ListImages page size (maxResults, 1..1000). */
  pageSize?: number;
}

/** Options of EcrRegistry.scanFindings. */
export interface ScanFindingsOptions {
  /** DescribeImageScanFindings page size (maxResults, 1..1000); 1000 when omitted. */
  pageSize?: number;
  /** Milliseconds between two looks while the scan is IN_PROGRESS or PENDING; 10 s (the original's) when omitted. */
  pollInterval?: number;
  /** Milliseconds to wait for the scan before failing; 30 minutes when omitted. */
  timeout?: number;
  /** Told before each wait: the image as asked for, ECR's status and how long we have waited. */
  onProgress?: (progress: { image: string; status: string; waitedMs: number }) => void;
}

/** ECR's answer to DescribeImageScanFindings, every page together, once the scan is done. */
export interface EcrScanFindings {
  registryId: string;
  repositoryName: string;
  /** The image as ECR named it in its answer (digest, and the tag asked for). */
  imageId: { imageDigest?: string; imageTag?: string };
  /** COMPLETE (basic scanning) or ACTIVE (enhanced), with ECR's description. */
  imageScanStatus: { status: string; description?: string };
  imageScanCompletedAt?: Date;
  vulnerabilitySourceUpdatedAt?: Date;
  findingSeverityCounts: Record<string, number>;
  /** Basic scanning's findings. */
  findings: ImageScanFinding[];
  /** Enhanced scanning's (Amazon Inspector's) findings. */
  enhancedFindings: EnhancedImageScanFinding[];
  /** The `unscanned-X` tag asked for when ECR only knew X (the quarantine had retagged it). */
  fallbackFrom?: string;
}

/** Statuses that mean "look again later", and those that mean the findings are there. */
const SCAN_WAITING = new Set(['IN_PROGRESS', 'PENDING']);
const SCAN_DONE = new Set(['COMPLETE', 'ACTIVE']);
const QUARANTINE_PREFIX = 'unscanned-';

interface Session {
  ecr: ECRClient;
  sts: STSClient;
  /** The assumed role's ARN, when one was assumed. */
  assumed?: string;
}

/**
 * AWS ECR through its own API (as the originals used it: BatchGetImage/PutImage for promotion,
 * BatchDeleteImage, ListImages). Credentials from the SDK's default chain; with `adminArn`, an
 * STS AssumeRole first and its temporary credentials for every ECR call.
 */
export class EcrRegistry implements Registry {
  readonly kind = 'ecr' as const;
  readonly accountId: string;
  readonly region: string;
  readonly adminArn?: string;
  // Private (#) fields: clients and secrets never show in JSON.stringify or util.inspect.
  #host: string;
  #env: NodeJS.ProcessEnv;
  #pageSize: number;
  #session?: Promise<Session>;
  #secrets = new Set<string>();

  constructor(options: EcrRegistryOptions) {
    if (!/^\d{12}$/.test(options.accountId)) throw usageError(`ECR_ACCOUNT_ID=${options.accountId}: allowed a 12-digit AWS account id`);
    if (!/^[a-z]{2}(?:-[a-z]+)+-\d+$/.test(options.region)) throw usageError(`AWS_REGION=${options.region}: allowed an AWS region (us-east-1, eu-west-3, ...)`);
    const pageSize = options.pageSize ?? 1000;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) throw usageError(`ECR page size ${pageSize}: allowed 1..1000`);
    this.accountId = options.accountId;
    this.region = options.region;
    this.adminArn = options.adminArn || undefined;
    this.#env = options.env ?? process.env;
    this.#pageSize = pageSize;
    this.#host = `${this.accountId}.dkr.ecr.${this.region}.amazonaws.com`;
    for (const name of ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) this.#remember(this.#env[name]);
  }

  /** The registry's host: `<account>.dkr.ecr.<region>.amazonaws.com`, after login the token's proxy endpoint. */
  get host(): string {
    return this.#host;
  }

  /** An authorization token for the Engine (`docker login` with AWS and the password it holds). */
  async login(): Promise<EcrLogin> {
    const session = await this.#open();
    const { GetAuthorizationTokenCommand } = require('@aws-sdk/client-ecr') as EcrSdk;
    const out = await this.#send<GetAuthorizationTokenCommandOutput>(session.ecr, new GetAuthorizationTokenCommand({ registryIds: [this.accountId] }), 'GetAuthorizationToken');
    const data = out.authorizationData?.[0];
    if (!data?.authorizationToken || !data.proxyEndpoint) throw failure(`ECR ${this.#host}: GetAuthorizationToken: no authorization data in the answer`);
    this.#remember(data.authorizationToken);
    const decoded = Buffer.from(data.authorizationToken, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw failure(`ECR ${this.#host}: GetAuthorizationToken: the token is not base64 of user:password`);
    const credentials = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    this.#remember(credentials.password);
    const proxy = /^[a-z]+:\/\//i.test(data.proxyEndpoint) ? data.proxyEndpoint : `https://${data.proxyEndpoint}`;
    this.#host = new URL(proxy).host;

    let identity = session.assumed;
    if (!identity) {
      const { GetCallerIdentityCommand } = require('@aws-sdk/client-sts') as StsSdk;
      identity = (await this.#send<GetCallerIdentityCommandOutput>(session.sts, new GetCallerIdentityCommand({}), 'GetCallerIdentity')).Arn;
    }
    return { host: this.#host, credentials, expiresAt: data.expiresAt, identity: identity ?? 'unknown' };
  }

  async getManifest(repository: string, reference: string): Promise<ManifestDoc | undefined> {
    const { ecr } = await this.#open();
    const { BatchGetImageCommand } = require('@aws-sdk/client-ecr') as EcrSdk;
    const imageId = isDigest(reference) ? { imageDigest: reference } : { imageTag: reference };
    const out = await this.#send<BatchGetImageCommandOutput>(
      ecr,
      new BatchGetImageCommand({ registryId: this.accountId, repositoryName: repository, imageIds: [imageId], acceptedMediaTypes: ACCEPTED }),
      'BatchGetImage',
      repository,
    );
    const image = out.images?.[0];
    if (!image?.imageManifest) {
      const failed = out.failures?.[0];
      if (!failed || failed.failureCode === 'ImageNotFound') return undefined;
      throw this.#fail(repository, 'BatchGetImage', `${failed.failureCode}: ${failed.failureReason} (${describeId(failed.imageId)})`);
    }
    // The exact bytes ECR stores (a JSON string in the API): what the digest names.
    const body = Buffer.from(image.imageManifest, 'utf8');
    let mediaType = image.imageManifestMediaType;
    if (!mediaType) {
      try {
        mediaType = (JSON.parse(image.imageManifest) as { mediaType?: string }).mediaType;
      } catch {
        /* below */
      }
    }
    if (!mediaType) throw this.#fail(repository, 'BatchGetImage', `${reference}: the manifest has no media type`);
    return { mediaType, digest: image.imageId?.imageDigest ?? sha256(body), body };
  }

  async putManifest(repository: string, tag: string, manifest: { mediaType: string; body: Buffer }): Promise<string> {
    const text = manifest.body.toString('utf8');
    // ECR takes the manifest as a string: bytes that are not UTF-8 would not survive unchanged.
    if (!Buffer.from(text, 'utf8').equals(manifest.body)) throw this.#fail(repository, 'PutImage', 'the manifest is not UTF-8 text; ECR stores manifests as text');
    const digest = sha256(manifest.body);
    const { ecr } = await this.#open();
    const { PutImageCommand } = require('@aws-sdk/client-ecr') as EcrSdk;
    try {
      const out = await ecr.send(
        new PutImageCommand({ registryId: this.accountId, repositoryName: repository, imageTag: tag, imageManifest: text, imageManifestMediaType: manifest.mediaType }),
      );
      return out.image?.imageId?.imageDigest ?? digest;
    } catch (error) {
      // The tag already holds these bytes: the put is done. (ECR names the digest it found.)
      const e = error as { name?: string; message?: string };
      const found = /digest '([^']+)'/.exec(e.message ?? '')?.[1];
      if (e.name === 'ImageAlreadyExistsException' && (!found || found === digest)) return digest;
      throw this.#error('PutImage', repository, error);
    }
  }

  async deleteImage(repository: string, target: { digest: string } | { tag: string }): Promise<void> {
    const { ecr } = await this.#open();
    const { BatchDeleteImageCommand } = require('@aws-sdk/client-ecr') as EcrSdk;
    const imageId = 'digest' in target ? { imageDigest: target.digest } : { imageTag: target.tag };
    const out = await this.#send<BatchDeleteImageCommandOutput>(ecr, new BatchDeleteImageCommand({ registryId: this.accountId, repositoryName: repository, imageIds: [imageId] }), 'BatchDeleteImage', repository);
    const failures = out.failures ?? [];
    if (failures.length) {
      throw this.#fail(repository, 'BatchDeleteImage', failures.map((f) => `${f.failureCode}: ${f.failureReason} (${describeId(f.imageId)})`).join('; '));
    }
  }

  async listTags(repository: string): Promise<TagDigest[]> {
    const ids = await this.#listImages(repository, 'TAGGED');
    return ids.filter((id) => id.imageTag && id.imageDigest).map((id) => ({ tag: id.imageTag!, digest: id.imageDigest! }));
  }

  async listUntagged(repository: string): Promise<string[]> {
    const ids = await this.#listImages(repository, 'UNTAGGED');
    return [...new Set(ids.map((id) => id.imageDigest).filter((d): d is string => !!d))];
  }

  /**
   * The findings of the image's scan, every page: waits while ECR says IN_PROGRESS or PENDING
   * (polling, with a timeout), and fails clearly when the image is unknown, was never scanned, or
   * its scan failed. A tag `unscanned-X` that ECR does not know is looked up again as X: the
   * quarantine may have retagged the image since it was pushed.
   */
  async scanFindings(repository: string, image: { tag: string } | { digest: string }, options: ScanFindingsOptions = {}): Promise<EcrScanFindings> {
    const pageSize = options.pageSize ?? 1000;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) throw usageError(`ECR page size ${pageSize}: allowed 1..1000`);
    const pollInterval = options.pollInterval ?? 10_000;
    const timeout = options.timeout ?? 30 * 60_000;
    const { ecr } = await this.#open();
    const { DescribeImageScanFindingsCommand } = require('@aws-sdk/client-ecr') as EcrSdk;
    let imageId: ImageIdentifier = 'digest' in image ? { imageDigest: image.digest } : { imageTag: image.tag };
    let fallbackFrom: string | undefined;
    const shown = () => ('digest' in image ? `${repository}@${image.digest}` : `${repository}:${imageId.imageTag}`);
    const started = performance.now();

    const describe = async (nextToken?: string): Promise<DescribeImageScanFindingsCommandOutput> => {
      for (;;) {
        try {
          return await ecr.send(
            new DescribeImageScanFindingsCommand({ registryId: this.accountId, repositoryName: repository, imageId, maxResults: pageSize, ...(nextToken ? { nextToken } : {}) }),
          );
        } catch (error) {
          const name = (error as { name?: string }).name;
          const tag = imageId.imageTag;
          if (name === 'ImageNotFoundException' && !fallbackFrom && tag?.startsWith(QUARANTINE_PREFIX) && tag.length > QUARANTINE_PREFIX.length) {
            fallbackFrom = tag;
            imageId = { imageTag: tag.slice(QUARANTINE_PREFIX.length) };
            continue;
          }
          const asked = fallbackFrom ? `${repository}:${fallbackFrom} (nor ${imageId.imageTag})` : shown();
          if (name === 'ImageNotFoundException') throw this.#fail(repository, 'DescribeImageScanFindings', `no image ${asked} in the registry`);
          if (name === 'ScanNotFoundException') {
            throw this.#fail(repository, 'DescribeImageScanFindings', `${shown()} has never been scanned (is scan on push on for the repository? a scan can be started with aws ecr start-image-scan)`);
          }
          throw this.#error('DescribeImageScanFindings', repository, error);
        }
      }
    };

    let first = await describe();
    for (;;) {
      const status = first.imageScanStatus?.status ?? 'UNKNOWN';
      if (SCAN_DONE.has(status)) break;
      if (!SCAN_WAITING.has(status)) {
        const why = first.imageScanStatus?.description;
        throw this.#fail(repository, 'DescribeImageScanFindings', `the scan of ${shown()} ended ${status}${why ? `: ${why}` : ''}`);
      }
      const waited = performance.now() - started;
      if (waited + pollInterval > timeout) {
        throw failure(this.#scrub(`ECR ${this.#host}: the scan of ${shown()} is still ${status} after waiting ${formatElapsed(waited / 1000)} (timeout ${formatElapsed(timeout / 1000)})`));
      }
      options.onProgress?.({ image: shown(), status, waitedMs: waited });
      await new Promise((resolve) => setTimeout(resolve, pollInterval));
      first = await describe();
    }

    const findings: ImageScanFinding[] = [];
    const enhancedFindings: EnhancedImageScanFinding[] = [];
    const seen = new Set<string>();
    let out = first;
    for (;;) {
      findings.push(...(out.imageScanFindings?.findings ?? []));
      enhancedFindings.push(...(out.imageScanFindings?.enhancedFindings ?? []));
      const next = out.nextToken;
      if (!next) break;
      if (seen.has(next)) throw this.#fail(repository, 'DescribeImageScanFindings', 'the same nextToken came back twice');
      seen.add(next);
      out = await describe(next);
    }
    const details = first.imageScanFindings;
    return {
      registryId: first.registryId ?? this.accountId,
      repositoryName: first.repositoryName ?? repository,
      imageId: { imageDigest: first.imageId?.imageDigest, imageTag: first.imageId?.imageTag ?? imageId.imageTag },
      imageScanStatus: { status: first.imageScanStatus!.status!, ...(first.imageScanStatus?.description ? { description: first.imageScanStatus.description } : {}) },
      imageScanCompletedAt: details?.imageScanCompletedAt,
      vulnerabilitySourceUpdatedAt: details?.vulnerabilitySourceUpdatedAt,
      findingSeverityCounts: (details?.findingSeverityCounts ?? {}) as Record<string, number>,
      findings,
      enhancedFindings,
      ...(fallbackFrom ? { fallbackFrom } : {}),
    };
  }

  /** ListImages through every page. */
  async #listImages(repository: string, tagStatus: 'TAGGED' | 'UNTAGGED'): Promise<ImageIdentifier[]> {
    const { ecr } = await this.#open();
    const { ListImagesCommand } = require('@aws-sdk/client-ecr') as EcrSdk;
    const ids: ImageIdentifier[] = [];
    const seen = new Set<string>();
    let nextToken: string | undefined;
    do {
      const out = await this.#send<ListImagesCommandOutput>(
        ecr,
        new ListImagesCommand({ registryId: this.accountId, repositoryName: repository, filter: { tagStatus }, maxResults: this.#pageSize, nextToken }),
        'ListImages',
        repository,
      );
      ids.push(...(out.imageIds ?? []));
      nextToken = out.nextToken;
      if (nextToken && seen.has(nextToken)) throw this.#fail(repository, 'ListImages', 'the same nextToken came back twice');
      if (nextToken) seen.add(nextToken);
    } while (nextToken);
    return ids;
  }

  /** The clients, made once: the base credentials, or the assumed role's when adminArn is set. */
  #open(): Promise<Session> {
    this.#session ??= this.#connect().catch((error: unknown) => {
      this.#session = undefined; // a later call may try again
      throw error;
    });
    return this.#session;
  }

  async #connect(): Promise<Session> {
    const { ECRClient } = require('@aws-sdk/client-ecr') as EcrSdk;
    const { STSClient, AssumeRoleCommand } = require('@aws-sdk/client-sts') as StsSdk;
    const sts = quietly(() => new STSClient(this.#config('STS')));
    const ecrConfig = this.#config('ECR');
    let assumed: string | undefined;
    if (this.adminArn) {
      const out = await this.#send<AssumeRoleCommandOutput>(sts, new AssumeRoleCommand({ RoleArn: this.adminArn, RoleSessionName: 'imagewright' }), `AssumeRole ${this.adminArn}`);
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey) throw failure(`ECR ${this.#host}: AssumeRole ${this.adminArn}: no credentials in the answer`);
      this.#remember(c.SecretAccessKey);
      this.#remember(c.SessionToken);
      ecrConfig.credentials = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
      assumed = out.AssumedRoleUser?.Arn ?? this.adminArn;
    }
    const ecr = quietly(() => new ECRClient(ecrConfig));
    return { ecr, sts, assumed };
  }

  /** Client settings from `env`: region, the endpoint override, static keys or the profile. */
  #config(service: 'ECR' | 'STS'): ClientConfig {
    return awsClientSettings(this.#env, service, this.region);
  }

  async #send<T>(client: { send(command: never): Promise<unknown> }, command: unknown, operation: string, repository?: string): Promise<T> {
    try {
      return (await client.send(command as never)) as T;
    } catch (error) {
      throw this.#error(operation, repository, error);
    }
  }

  /** An SDK error as one line: registry, repository, operation, AWS's code and message. */
  #error(operation: string, repository: string | undefined, error: unknown): ImagewrightError {
    // Missing credentials are the registry's as a whole, not one repository's or call's.
    const what = isCredentialsError(error) ? `ECR ${this.#host}` : this.#where(repository, operation);
    return awsError(what, error, (line) => this.#scrub(line));
  }

  #fail(repository: string | undefined, operation: string, detail: string): ImagewrightError {
    return failure(this.#scrub(`${this.#where(repository, operation)}: ${detail}`));
  }

  #where(repository: string | undefined, operation: string): string {
    return `ECR ${this.#host}: ${repository ? `${repository}: ` : ''}${operation}`;
  }

  /** One line, with every secret we hold masked, whatever AWS echoed. */
  #scrub(message: string): string {
    let text = message.replace(/\s+/g, ' ').trim();
    for (const secret of this.#secrets) text = text.split(secret).join('***');
    return text;
  }

  #remember(secret: string | undefined): void {
    if (secret && secret.length >= 4) this.#secrets.add(secret);
  }
}
