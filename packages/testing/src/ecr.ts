import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Registry } from './registry';

/*
 * The one stand-in for AWS: a loopback server speaking ECR's and KMS' AWS JSON 1.1 protocol and
 * STS's query protocol to the unmodified AWS SDK (every request SigV4-checked), backed by a real
 * registry (startRegistry) for manifests. Without a registry it serves STS and KMS only.
 *
 * What it knows: tags are read from the registry on every request, so pushes made straight to the
 * registry (skopeo, docker) are seen. Untagged images are a different matter: the distribution API
 * cannot list manifests without a tag, so the stand-in keeps its own record of the digests it has
 * seen per repository (through a tag, BatchGetImage, PutImage or an untag). A digest that lost its
 * last tag before the stand-in ever saw it (say, two pushes of the same tag straight to the registry
 * between two ECR calls) is invisible to ListImages/DescribeImages UNTAGGED. imagePushedAt is when
 * the stand-in first saw the digest.
 *
 * Scanning: a test sets the scan of an image with `setScan` (basic `findings` or Inspector's
 * `enhancedFindings`, a number of calls answered IN_PROGRESS before COMPLETE, or a FAILED /
 * UNSUPPORTED_IMAGE status). Scans belong to the digest, as in ECR, so a retag keeps them.
 * DescribeImageScanFindings pages them (maxResults, nextToken); an image never scanned is
 * ScanNotFoundException, an unknown tag or digest ImageNotFoundException. StartImageScan starts an
 * empty scan (IN_PROGRESS for one call) unless one was set.
 *
 * KMS: symmetric keys a test creates with `createKmsKey` (optionally with an alias, and a list of
 * principals allowed to use it: its key policy in short). Encrypt, Decrypt, GenerateDataKey and
 * DescribeKey take a key id, key ARN, alias name or alias ARN of this account and region. A
 * ciphertext blob names its key and is AES-256-GCM under that key's own secret with the encryption
 * context as associated data, so Decrypt with another context (or a changed blob) is
 * InvalidCiphertextException and with another KeyId IncorrectKeyException, as in KMS. Unknown keys
 * and aliases are NotFoundException, a disabled key DisabledException, a principal outside the
 * key's list AccessDeniedException. Calls record the key and the context, never a plaintext.
 *
 * What it does not model: IAM policies (every key it issued may do everything; any role in the
 * account can be assumed; KMS keys' `allow` lists are the only policy), repository
 * creation/policies/lifecycle, tag immutability, scan on push, registry scanning configuration,
 * the one-scan-per-day limit, pull-through caches, throttling, token expiry (the authorization
 * token is the registry's one password: every GetAuthorizationToken returns the same one, valid
 * until the registry stops), KMS key creation/rotation/grants/asymmetric keys/multi-Region keys,
 * ReEncrypt, and real KMS ciphertext bytes (ours are only readable by this stand-in).
 */

export interface EcrOptions {
  /**
   * A startRegistry() registry whose username is `AWS`: ECR tokens decode to AWS:<password>.
   * Without one, ECR operations fail (ServerException): STS and KMS only.
   */
  registry?: Registry;
  /** 12 digits; 123456789012 when omitted. */
  accountId?: string;
  /** us-east-1 when omitted. */
  region?: string;
  /** Repositories that exist from the start (others exist once pushed to). */
  repositories?: string[];
}

/** One request as the stand-in saw it: who signed it and how it ended. */
export interface EcrCall {
  service: 'ecr' | 'sts' | 'kms';
  /** ECR or KMS operation (`PutImage`, `Decrypt`) or STS action (`AssumeRole`). */
  operation: string;
  /** The access key id in the SigV4 Authorization header; '' when there was none. */
  accessKeyId: string;
  repository?: string;
  /** The AWS error code it answered with, if any. */
  error?: string;
  /** AssumeRole: the role and session name asked for, and the access key id handed out. */
  roleArn?: string;
  roleSessionName?: string;
  issuedAccessKeyId?: string;
  /** KMS: the ARN of the key used (once resolved), and the encryption context given. */
  keyArn?: string;
  encryptionContext?: Record<string, string>;
}

export interface Ecr {
  /** http://127.0.0.1:PORT: ECR, STS and KMS. */
  endpoint: string;
  /**
   * What a client needs (merge over process.env): the service endpoint overrides, long-term keys,
   * the region, and paths that keep the SDK away from the real ~/.aws and from instance metadata.
   */
  env: Record<string, string>;
  accountId: string;
  region: string;
  /** Every request, in order. */
  calls: EcrCall[];
  /**
   * Sets the scan of the image `tagOrDigest` names now (resolved to its digest: a later retag
   * keeps the scan). Replaces any earlier scan of that image.
   */
  setScan(repository: string, tagOrDigest: string, scan: EcrScanSetup): Promise<void>;
  /** Creates a symmetric KMS key (enabled) and returns its key ARN. */
  createKmsKey(options?: KmsKeySetup): string;
  /** Enables or disables a key createKmsKey made (by its ARN): a disabled key is DisabledException. */
  setKmsKeyEnabled(keyArn: string, enabled: boolean): void;
  stop(): Promise<void>;
}

/** A KMS key as a test wants it. */
export interface KmsKeySetup {
  /** `alias/<name>` (or just `<name>`): the key is also found by this alias and its ARN. */
  alias?: string;
  /**
   * The principals allowed to use the key (its key policy in short): IAM user ARNs, or role ARNs
   * (arn:aws:iam::<account>:role/<name>), which admit that role's assumed sessions. Everyone when omitted.
   */
  allow?: string[];
  description?: string;
}

/** A scan as a test wants DescribeImageScanFindings to answer it. */
export interface EcrScanSetup {
  /** Basic scanning's findings, as ECR's API has them ({name, severity, uri, description, attributes}). */
  findings?: Record<string, unknown>[];
  /** Enhanced scanning's (Inspector's shape: packageVulnerabilityDetails, severity, status…). */
  enhancedFindings?: Record<string, unknown>[];
  /** How many DescribeImageScanFindings calls answer IN_PROGRESS before the scan is done (0 when omitted). */
  pendingCalls?: number;
  /** The status once done: COMPLETE (basic; default), ACTIVE (enhanced), FAILED, UNSUPPORTED_IMAGE… */
  status?: string;
  /** imageScanStatus.description; ECR's usual words when omitted. */
  description?: string;
  /** findingSeverityCounts; counted from all findings when omitted. */
  severityCounts?: Record<string, number>;
  completedAt?: Date;
  vulnerabilitySourceUpdatedAt?: Date;
}

const ECR_TARGET = 'AmazonEC2ContainerRegistry_V20150921.';
const KMS_TARGET = 'TrentService.';
// Our ciphertext blobs: magic, the key's 16-byte id, GCM iv and tag, then the ciphertext.
const KMS_BLOB_MAGIC = Buffer.from('iwk1');
const KMS_ALIAS_RE = /^alias\/[a-zA-Z0-9/_-]{1,250}$/;
const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const MEDIA = {
  dockerV1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerV1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  docker: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  oci: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const;
const ALL_MANIFESTS = [MEDIA.docker, MEDIA.dockerList, MEDIA.oci, MEDIA.ociIndex];
const INDEXES: readonly string[] = [MEDIA.dockerList, MEDIA.ociIndex];
const PUTTABLE: readonly string[] = [MEDIA.docker, MEDIA.dockerList, MEDIA.oci, MEDIA.ociIndex, MEDIA.dockerV1Signed];
// What ECR documents as acceptedMediaTypes' values when the caller gives none.
const DEFAULT_ACCEPT = [MEDIA.dockerV1, MEDIA.docker, MEDIA.oci];
// AWS's patterns (ECR API reference).
const REPOSITORY_RE = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const DIGEST_RE = /^[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+$/;
// The registry's own tag grammar: a tag it would refuse can't be stored, so it is invalid here.
const TAG_RE = /^[\w][\w.-]{0,127}$/;

const IN_PROGRESS = { status: 'IN_PROGRESS', description: 'The scan is in progress.' };
// imageScanStatus.description as ECR words it, per status.
const SCAN_DESCRIPTIONS: Record<string, string> = {
  COMPLETE: 'The scan was completed successfully.',
  ACTIVE: 'Continuous scan is selected for image.',
  FAILED: 'The scan failed.',
  UNSUPPORTED_IMAGE: 'UnsupportedImageError: The operating system and/or package manager are not supported.',
};

/** An AWS error: JSON `{__type, message}` for ECR, an XML ErrorResponse for STS. */
class AwsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

interface ImageId {
  imageDigest?: string;
  imageTag?: string;
}

interface Known {
  mediaType: string;
  size: number;
  pushedAt: Date;
  /** Manifests an index refers to. */
  children: string[];
  /** A manifest's config media type. */
  artifactMediaType?: string;
}

interface Keys {
  secret: string;
  sessionToken?: string;
  /** Who the key is, for GetCallerIdentity. */
  arn: string;
  userId: string;
  /** An assumed role's session: the role (KMS key lists name roles, not sessions). */
  roleArn?: string;
}

interface KmsKeyRecord {
  id: string;
  arn: string;
  secret: Buffer;
  enabled: boolean;
  allow?: string[];
  description: string;
  createdAt: Date;
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
const epochSeconds = (d: Date) => d.getTime() / 1000;
const xmlEscape = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
// RFC 3986 unreserved stay, everything else is %XX: SigV4's URI encoding.
const uriEscape = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const keyId = (prefix: string) => prefix + randomBytes(8).toString('hex').toUpperCase();

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((res, rej) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res(Buffer.concat(chunks)));
    req.on('error', rej);
  });
}

/**
 * Checks a SigV4 Authorization header against the secret of its key id: the canonical request,
 * string to sign and signing key exactly as AWS documents them. Resolves to the key id.
 */
function verifySigV4(req: IncomingMessage, body: Buffer, keys: Map<string, Keys>, service: EcrCall['service'], region: string, errors: SigErrors): string {
  const auth = req.headers.authorization;
  if (!auth) throw errors.missing();
  const m = /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;_-]+),\s*Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) throw errors.badSignature('Authorization header requires Credential, SignedHeaders and Signature (AWS4-HMAC-SHA256).');
  const [, accessKeyId, day, scopeRegion, scopeService, signedHeaders, signature] = m;
  const key = keys.get(accessKeyId!);
  if (!key) throw errors.unknownKey(accessKeyId!);
  if (scopeService !== service) throw errors.badSignature(`Credential should be scoped to correct service: '${service}'.`);
  if (scopeRegion !== region) throw errors.badSignature(`Credential should be scoped to a valid region, not '${scopeRegion}'.`);
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  if (!/^\d{8}T\d{6}Z$/.test(amzDate) || !amzDate.startsWith(day!)) throw errors.badSignature('Date in Credential scope does not match X-Amz-Date.');
  const when = Date.parse(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  if (Math.abs(Date.now() - when) > 15 * 60_000) throw errors.badSignature('Signature expired: X-Amz-Date is more than 15 minutes away.');
  const token = req.headers['x-amz-security-token'];
  if ((token ?? undefined) !== key.sessionToken) throw errors.unknownKey(accessKeyId!);

  const signed = signedHeaders!.split(';');
  if (!signed.includes('host')) throw errors.badSignature("'Host' must be a signed header.");
  const values = new Map<string, string[]>();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    values.set(name, [...(values.get(name) ?? []), req.rawHeaders[i + 1]!.trim().replace(/\s+/g, ' ')]);
  }
  const url = new URL(req.url ?? '/', 'http://x');
  const path = url.pathname.split('/').map((s) => uriEscape(decodeURIComponent(s))).join('/');
  const query = (url.search.slice(1) ? url.search.slice(1).split('&') : [])
    .map((p) => p.split('=').map((x) => uriEscape(decodeURIComponent(x.replace(/\+/g, ' ')))))
    .sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : (a[1] ?? '') < (b[1] ?? '') ? -1 : 1))
    .map(([k, v]) => `${k}=${v ?? ''}`)
    .join('&');
  const payload = String(req.headers['x-amz-content-sha256'] ?? sha256(body));
  const canonical = [req.method, path, query, ...signed.map((h) => `${h}:${(values.get(h) ?? []).join(',')}`), '', signedHeaders, payload].join('\n');
  const scope = `${day}/${scopeRegion}/${scopeService}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${key.secret}`, day!), scopeRegion!), scopeService!), 'aws4_request');
  const expected = Buffer.from(hmac(signingKey, toSign).toString('hex'));
  if (!timingSafeEqual(expected, Buffer.from(signature!))) {
    throw errors.badSignature('The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.');
  }
  return accessKeyId!;
}

interface SigErrors {
  missing(): AwsError;
  unknownKey(id: string): AwsError;
  badSignature(why: string): AwsError;
}

// The codes each protocol answers auth failures with (JSON services vs STS's query protocol).
const ECR_SIG: SigErrors = {
  missing: () => new AwsError('MissingAuthenticationTokenException', 'Missing Authentication Token'),
  unknownKey: () => new AwsError('UnrecognizedClientException', 'The security token included in the request is invalid.'),
  badSignature: (why) => new AwsError('InvalidSignatureException', why),
};
const STS_SIG: SigErrors = {
  missing: () => new AwsError('MissingAuthenticationToken', 'Request is missing Authentication Token', 403),
  unknownKey: () => new AwsError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403),
  badSignature: (why) => new AwsError('SignatureDoesNotMatch', why, 403),
};

/** ECR, STS and KMS on loopback; ECR backed by `options.registry`. */
export async function startEcr(options: EcrOptions): Promise<Ecr> {
  const accountId = options.accountId ?? '123456789012';
  const region = options.region ?? 'us-east-1';
  if (!/^\d{12}$/.test(accountId)) throw new Error(`startEcr accountId ${JSON.stringify(accountId)}: allowed 12 digits`);
  if (options.registry && options.registry.username !== 'AWS') {
    throw new Error(`startEcr: the registry's username is ${JSON.stringify(options.registry.username)}; ECR tokens decode to AWS:<password>, so start it with startRegistry({ username: 'AWS' })`);
  }
  /** The backing registry; without one, every ECR operation is a ServerException. */
  const backing = (): Registry => {
    if (!options.registry) throw new AwsError('ServerException', 'this stand-in was started without a registry: it serves STS and KMS only', 500);
    return options.registry;
  };

  const keys = new Map<string, Keys>();
  const accessKeyId = keyId('AKIA');
  const secretAccessKey = randomBytes(30).toString('base64');
  keys.set(accessKeyId, { secret: secretAccessKey, arn: `arn:aws:iam::${accountId}:user/imagewright-test`, userId: keyId('AIDA') });

  const existing = new Set(options.repositories ?? []);
  const known = new Map<string, Map<string, Known>>();
  const calls: EcrCall[] = [];
  /** Scans per repository per digest: what setScan or StartImageScan made, and calls left IN_PROGRESS. */
  const scans = new Map<string, Map<string, EcrScanSetup & { pending: number }>>();

  // --- the registry, through its distribution API ---------------------------------------------

  const reg = async (method: string, path: string, init: { accept?: string[]; body?: Buffer; contentType?: string } = {}) => {
    const registry = backing();
    const headers: Record<string, string> = { authorization: `Basic ${Buffer.from(`${registry.username}:${registry.password}`).toString('base64')}` };
    if (init.accept) headers.accept = init.accept.join(', ');
    if (init.contentType) headers['content-type'] = init.contentType;
    const res = await fetch(`http://${registry.host}/v2/${path}`, { method, headers, body: init.body });
    const body = Buffer.from(await res.arrayBuffer());
    return { status: res.status, headers: res.headers, body };
  };
  const registryCodes = (body: Buffer): string[] => {
    try {
      return ((JSON.parse(body.toString('utf8')) as { errors?: { code?: string }[] }).errors ?? []).map((e) => String(e.code));
    } catch {
      return [];
    }
  };
  const registryFailed = (what: string, r: { status: number; body: Buffer }) =>
    new AwsError('ServerException', `backing registry: ${what}: HTTP ${r.status} ${r.body.toString('utf8').trim().slice(0, 300)}`, 500);

  /** Every tag of the repository with its digest; undefined when the registry has no such name. */
  async function registryTags(repo: string): Promise<Map<string, string> | undefined> {
    const names: string[] = [];
    let next: string | undefined = `${repo}/tags/list`;
    while (next) {
      const r = await reg('GET', next);
      if (r.status === 404) return undefined;
      if (r.status !== 200) throw registryFailed(`GET ${next}`, r);
      names.push(...((JSON.parse(r.body.toString('utf8')) as { tags?: string[] | null }).tags ?? []));
      const link = /<\/v2\/([^>]+)>;\s*rel="?next"?/.exec(r.headers.get('link') ?? '');
      next = link?.[1];
    }
    const tags = new Map<string, string>();
    for (const tag of names) {
      const h = await reg('HEAD', `${repo}/manifests/${tag}`, { accept: ALL_MANIFESTS });
      const digest = h.headers.get('docker-content-digest');
      if (h.status === 200 && digest) tags.set(tag, digest);
    }
    return tags;
  }

  /** The manifest as the registry stores it (all manifest types accepted). */
  async function manifest(repo: string, reference: string): Promise<{ body: Buffer; mediaType: string; digest: string } | undefined> {
    const r = await reg('GET', `${repo}/manifests/${reference}`, { accept: ALL_MANIFESTS });
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw registryFailed(`GET manifest ${reference}`, r);
    return { body: r.body, mediaType: String(r.headers.get('content-type')), digest: `sha256:${sha256(r.body)}` };
  }

  function remember(repo: string, digest: string, body: Buffer, mediaType: string): void {
    const record = known.get(repo) ?? new Map<string, Known>();
    known.set(repo, record);
    if (record.has(digest)) return;
    let doc: { layers?: { size?: number }[]; manifests?: { digest?: string }[]; config?: { mediaType?: string } } = {};
    try {
      doc = JSON.parse(body.toString('utf8')) as typeof doc;
    } catch {
      /* not JSON: sizes unknown */
    }
    record.set(digest, {
      mediaType,
      size: (doc.layers ?? []).reduce((sum, l) => sum + (Number(l.size) || 0), 0),
      pushedAt: new Date(),
      children: (doc.manifests ?? []).map((m) => String(m.digest)),
      artifactMediaType: doc.config?.mediaType,
    });
  }

  /**
   * The repository now: tags from the registry, plus the untagged digests on record that the
   * registry still holds. Records digests it had not seen; forgets those the registry lost.
   */
  async function snapshot(repo: string, registryId: string | undefined): Promise<{ tags: Map<string, string>; images: Map<string, Known> }> {
    if (registryId !== undefined && registryId !== accountId) {
      throw new AwsError('RepositoryNotFoundException', `The repository with name '${repo}' does not exist in the registry with id '${registryId}'`);
    }
    if (typeof repo !== 'string' || repo.length < 2 || repo.length > 256 || !REPOSITORY_RE.test(repo)) {
      throw new AwsError('InvalidParameterException', `Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '${REPOSITORY_RE.source}''`);
    }
    const tags = await registryTags(repo);
    if (tags) existing.add(repo);
    if (!existing.has(repo)) {
      throw new AwsError('RepositoryNotFoundException', `The repository with name '${repo}' does not exist in the registry with id '${accountId}'`);
    }
    const record = known.get(repo) ?? new Map<string, Known>();
    known.set(repo, record);
    for (const digest of new Set(tags?.values())) {
      if (record.has(digest)) continue;
      const m = await manifest(repo, digest);
      if (m) remember(repo, digest, m.body, m.mediaType);
    }
    const tagged = new Set(tags?.values());
    for (const digest of [...record.keys()]) {
      if (tagged.has(digest)) continue;
      const h = await reg('HEAD', `${repo}/manifests/${digest}`, { accept: ALL_MANIFESTS });
      if (h.status === 404) record.delete(digest);
    }
    return { tags: tags ?? new Map(), images: record };
  }

  const tagsOf = (tags: Map<string, string>, digest: string) => [...tags].filter(([, d]) => d === digest).map(([t]) => t);

  // --- ECR operations -------------------------------------------------------------------------

  type Input = Record<string, unknown>;
  const str = (input: Input, name: string, required = true): string | undefined => {
    const v = input[name];
    if (v === undefined || v === null) {
      if (required) throw new AwsError('InvalidParameterException', `Invalid parameter at '${name}' failed to satisfy constraint: 'Member must not be null'`);
      return undefined;
    }
    if (typeof v !== 'string') throw new AwsError('SerializationException', `'${name}' must be a string`);
    return v;
  };
  const imageIdsOf = (input: Input): ImageId[] => {
    const ids = input.imageIds;
    if (!Array.isArray(ids) || ids.length < 1 || ids.length > 100) {
      throw new AwsError('InvalidParameterException', "Invalid parameter at 'imageIds' failed to satisfy constraint: 'Member must have length between 1 and 100'");
    }
    return ids as ImageId[];
  };
  const imageFailure = (imageId: ImageId, failureCode: string, failureReason: string) => ({ imageId, failureCode, failureReason });
  /** ECR's per-id checks: a failure, or undefined when the id is well-formed. */
  const idProblem = (id: ImageId) => {
    if (!id.imageDigest && !id.imageTag) return imageFailure(id, 'MissingDigestAndTag', 'Invalid request parameters: both tag and digest cannot be null');
    if (id.imageDigest && !DIGEST_RE.test(id.imageDigest)) {
      return imageFailure(id, 'InvalidImageDigest', "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'");
    }
    if (id.imageTag && !TAG_RE.test(id.imageTag)) return imageFailure(id, 'InvalidImageTag', 'Invalid request parameters: image tag is not valid');
    return undefined;
  };
  /** The digest an id names, or a failure. */
  const resolve = (id: ImageId, tags: Map<string, string>, images: Map<string, Known>) => {
    const problem = idProblem(id);
    if (problem) return { failure: problem };
    const byTag = id.imageTag ? tags.get(id.imageTag) : undefined;
    if (id.imageTag && !byTag) return { failure: imageFailure(id, 'ImageNotFound', 'Requested image not found') };
    if (id.imageTag && id.imageDigest && byTag !== id.imageDigest) {
      return { failure: imageFailure(id, 'ImageTagDoesNotMatchDigest', 'Invalid request parameters: given tag does not match the given digest') };
    }
    const digest = byTag ?? id.imageDigest!;
    if (!images.has(digest)) return { failure: imageFailure(id, 'ImageNotFound', 'Requested image not found') };
    return { digest };
  };
  /** Paging as ECR does it: maxResults 1..1000 (100 when omitted), an opaque nextToken. */
  const page = <T>(input: Input, items: T[], scope: string): { items: T[]; nextToken?: string } => {
    const max = input.maxResults === undefined ? 100 : Number(input.maxResults);
    if (!Number.isInteger(max) || max < 1 || max > 1000) {
      throw new AwsError('InvalidParameterException', "Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must have value between 1 and 1000'");
    }
    let offset = 0;
    const token = str(input, 'nextToken', false);
    if (token !== undefined) {
      let decoded: { o?: unknown; s?: unknown } = {};
      try {
        decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as typeof decoded;
      } catch {
        /* below */
      }
      if (!Number.isInteger(decoded.o) || decoded.s !== scope) throw new AwsError('InvalidParameterException', "Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid NextToken'");
      offset = decoded.o as number;
    }
    const end = offset + max;
    return {
      items: items.slice(offset, end),
      nextToken: end < items.length ? Buffer.from(JSON.stringify({ o: end, s: scope })).toString('base64url') : undefined,
    };
  };
  const tagStatusOf = (input: Input): 'TAGGED' | 'UNTAGGED' | 'ANY' => {
    const status = (input.filter as { tagStatus?: string } | undefined)?.tagStatus ?? 'ANY';
    if (status !== 'TAGGED' && status !== 'UNTAGGED' && status !== 'ANY') {
      throw new AwsError('InvalidParameterException', `Invalid parameter at 'filter.tagStatus' failed to satisfy constraint: 'Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]'`);
    }
    return status;
  };
  /** Images oldest first, digest as tie-break: a stable order for paging. */
  const ordered = (images: Map<string, Known>) =>
    [...images].sort(([da, a], [db, b]) => a.pushedAt.getTime() - b.pushedAt.getTime() || (da < db ? -1 : 1));
  const referrers = (images: Map<string, Known>, digest: string) => [...images].filter(([, k]) => k.children.includes(digest)).map(([d]) => d);

  /** The digest `id` names in `repo`, or ImageNotFoundException (InvalidParameterException for a malformed id), as ECR answers. */
  const digestOrThrow = (repo: string, id: ImageId, tags: Map<string, string>, images: Map<string, Known>): string => {
    const found = resolve(id, tags, images);
    if (found.failure) {
      if (found.failure.failureCode !== 'ImageNotFound') throw new AwsError('InvalidParameterException', found.failure.failureReason);
      throw new AwsError(
        'ImageNotFoundException',
        `The image with imageId {imageDigest:'${id.imageDigest ?? 'null'}', imageTag:'${id.imageTag ?? 'null'}'} does not exist within the repository with name '${repo}' in the registry with id '${accountId}'`,
      );
    }
    return found.digest!;
  };

  /** The image a scan call names (imageId: one tag or digest): its digest, or ImageNotFoundException. */
  const scannedImage = (repo: string, input: Input, tags: Map<string, string>, images: Map<string, Known>) => {
    const id = input.imageId as ImageId | undefined;
    if (!id || typeof id !== 'object') throw new AwsError('InvalidParameterException', "Invalid parameter at 'imageId' failed to satisfy constraint: 'Member must not be null'");
    return { id, digest: digestOrThrow(repo, id, tags, images) };
  };

  const ecr: Record<string, (input: Input, call: EcrCall) => Promise<unknown>> = {
    async GetAuthorizationToken(input) {
      const ids = (input.registryIds as string[] | undefined) ?? [accountId];
      if (!Array.isArray(ids) || ids.length < 1 || ids.some((id) => id !== accountId)) {
        throw new AwsError('InvalidParameterException', `Invalid parameter at 'registryIds': this registry serves only account '${accountId}'`);
      }
      const expiresAt = epochSeconds(new Date(Date.now() + 12 * 3600_000));
      const registry = backing();
      const authorizationToken = Buffer.from(`AWS:${registry.password}`).toString('base64');
      return { authorizationData: ids.map(() => ({ authorizationToken, expiresAt, proxyEndpoint: `http://${registry.host}` })) };
    },

    async BatchGetImage(input, call) {
      const repo = (call.repository = str(input, 'repositoryName')!);
      const { tags, images } = await snapshot(repo, str(input, 'registryId', false));
      const accepted = (input.acceptedMediaTypes as string[] | undefined) ?? DEFAULT_ACCEPT;
      const out: unknown[] = [];
      const failures: unknown[] = [];
      for (const id of imageIdsOf(input)) {
        const found = resolve(id, tags, images);
        if (found.failure) {
          failures.push(found.failure);
          continue;
        }
        // The registry negotiates as ECR does (a schema 2 manifest asked for as schema 1 is converted).
        const r = await reg('GET', `${repo}/manifests/${id.imageTag ?? found.digest}`, { accept: accepted });
        const type = String(r.headers.get('content-type'));
        if (r.status === 404 || (r.status === 200 && !accepted.includes(type) && !(type === MEDIA.dockerV1Signed && accepted.includes(MEDIA.dockerV1)))) {
          failures.push(imageFailure(id, 'ImageNotFound', `Requested image not found: its media type is none of ${accepted.join(', ')}`));
          continue;
        }
        if (r.status !== 200) throw registryFailed('GET manifest', r);
        const digest = r.headers.get('docker-content-digest') ?? `sha256:${sha256(r.body)}`;
        out.push({
          registryId: accountId,
          repositoryName: repo,
          imageId: { imageDigest: digest, ...(id.imageTag ? { imageTag: id.imageTag } : {}) },
          imageManifest: r.body.toString('utf8'),
          imageManifestMediaType: type,
        });
      }
      return { images: out, failures };
    },

    async PutImage(input, call) {
      const repo = (call.repository = str(input, 'repositoryName')!);
      const { tags, images } = await snapshot(repo, str(input, 'registryId', false));
      const text = str(input, 'imageManifest')!;
      const tag = str(input, 'imageTag', false);
      if (tag !== undefined && !TAG_RE.test(tag)) throw new AwsError('InvalidParameterException', `Invalid parameter at 'imageTag' failed to satisfy constraint: 'must satisfy regular expression '${TAG_RE.source}''`);
      let doc: { mediaType?: unknown; schemaVersion?: unknown };
      try {
        doc = JSON.parse(text) as typeof doc;
      } catch {
        throw new AwsError('InvalidParameterException', "Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'");
      }
      const declared = typeof doc.mediaType === 'string' ? doc.mediaType : doc.schemaVersion === 1 ? MEDIA.dockerV1Signed : undefined;
      const given = str(input, 'imageManifestMediaType', false);
      if (given && declared && given !== declared) {
        throw new AwsError('InvalidParameterException', `Invalid parameter at 'imageManifestMediaType': '${given}' does not match the manifest's mediaType '${declared}'`);
      }
      const mediaType = given ?? declared;
      if (!mediaType || !PUTTABLE.includes(mediaType)) {
        throw new AwsError('InvalidParameterException', `Invalid parameter at 'imageManifestMediaType': unsupported or missing media type ${JSON.stringify(mediaType ?? null)}`);
      }
      const body = Buffer.from(text, 'utf8');
      const digest = `sha256:${sha256(body)}`;
      const wanted = str(input, 'imageDigest', false);
      if (wanted !== undefined && wanted !== digest) {
        throw new AwsError('ImageDigestDoesNotMatchException', `The digest '${wanted}' does not match the digest '${digest}' of the manifest`);
      }
      if (tag ? tags.get(tag) === digest : images.has(digest)) {
        throw new AwsError(
          'ImageAlreadyExistsException',
          `Image with digest '${digest}'${tag ? ` and tag '${tag}'` : ''} already exists in the repository with name '${repo}' in registry with id '${accountId}'`,
        );
      }
      const r = await reg('PUT', `${repo}/manifests/${tag ?? digest}`, { body, contentType: mediaType });
      if (r.status !== 201) {
        const codes = registryCodes(r.body);
        if (codes.includes('MANIFEST_BLOB_UNKNOWN') || codes.includes('BLOB_UNKNOWN') || codes.includes('MANIFEST_UNKNOWN')) {
          if (INDEXES.includes(mediaType)) throw new AwsError('ReferencedImagesNotFoundException', 'Some of the images referenced by the image index were not found in the repository');
          throw new AwsError('LayersNotFoundException', 'Some of the layers referenced by the image manifest were not found in the repository');
        }
        if (r.status < 500) throw new AwsError('InvalidParameterException', `Invalid parameter at 'ImageManifest': the registry refused it (${codes.join(', ') || r.status})`);
        throw registryFailed('PUT manifest', r);
      }
      remember(repo, digest, body, mediaType);
      return {
        image: { registryId: accountId, repositoryName: repo, imageId: { imageDigest: digest, ...(tag ? { imageTag: tag } : {}) }, imageManifest: text, imageManifestMediaType: mediaType },
      };
    },

    async BatchDeleteImage(input, call) {
      const repo = (call.repository = str(input, 'repositoryName')!);
      const registryId = str(input, 'registryId', false);
      const ids = imageIdsOf(input);
      const deleted: ImageId[] = [];
      const failures: unknown[] = [];
      for (const id of ids) {
        // Afresh per id: an earlier id in the same batch may have changed the repository.
        const { tags, images } = await snapshot(repo, registryId);
        const found = resolve(id, tags, images);
        if (found.failure) {
          failures.push(found.failure);
          continue;
        }
        const digest = found.digest!;
        // A tag (with or without its digest) untags; a digest alone deletes the image.
        const byDigest = !id.imageTag;
        const onIt = tagsOf(tags, digest);
        const keepTags = byDigest ? [] : onIt.filter((t) => t !== id.imageTag);
        const usedBy = referrers(images, digest).filter((d) => d !== digest);
        // ECR: an image an index refers to cannot be deleted by digest; untagging it keeps it.
        if (byDigest && usedBy.length) {
          failures.push(imageFailure(id, 'ImageReferencedByManifestList', `Requested image referenced by manifest list: [${usedBy.join(', ')}]`));
          continue;
        }
        const m = await manifest(repo, digest);
        if (!m) {
          failures.push(imageFailure(id, 'ImageNotFound', 'Requested image not found'));
          continue;
        }
        // The registry can't drop one tag: delete the manifest (every tag with it), then put it
        // back, same bytes, under the tags that stay, or untagged when an index still needs it.
        const del = await reg('DELETE', `${repo}/manifests/${digest}`);
        if (del.status !== 202) throw registryFailed(`DELETE ${digest}`, del);
        const back = keepTags.length ? keepTags : byDigest || !usedBy.length ? [] : [digest];
        for (const reference of back) {
          const put = await reg('PUT', `${repo}/manifests/${reference}`, { body: m.body, contentType: m.mediaType });
          if (put.status !== 201) throw registryFailed(`PUT ${reference} back`, put);
        }
        if (!back.length) known.get(repo)?.delete(digest);
        if (id.imageTag) deleted.push({ imageDigest: digest, imageTag: id.imageTag });
        else if (onIt.length) deleted.push(...onIt.map((imageTag) => ({ imageDigest: digest, imageTag })));
        else deleted.push({ imageDigest: digest });
      }
      return { imageIds: deleted, failures };
    },

    async ListImages(input, call) {
      const repo = (call.repository = str(input, 'repositoryName')!);
      const { tags, images } = await snapshot(repo, str(input, 'registryId', false));
      const status = tagStatusOf(input);
      const ids: ImageId[] = [];
      for (const [digest] of ordered(images)) {
        const on = tagsOf(tags, digest).sort();
        if (on.length && status !== 'UNTAGGED') ids.push(...on.map((imageTag) => ({ imageDigest: digest, imageTag })));
        if (!on.length && status !== 'TAGGED') ids.push({ imageDigest: digest });
      }
      const { items, nextToken } = page(input, ids, `ListImages ${repo} ${status}`);
      return { imageIds: items, ...(nextToken ? { nextToken } : {}) };
    },

    async StartImageScan(input, call) {
      const repo = (call.repository = str(input, 'repositoryName')!);
      const { tags, images } = await snapshot(repo, str(input, 'registryId', false));
      const { id, digest } = scannedImage(repo, input, tags, images);
      const record = scans.get(repo) ?? new Map<string, EcrScanSetup & { pending: number }>();
      scans.set(repo, record);
      // A scan set by the test stays as it is; otherwise an empty one, done after one more call.
      if (!record.has(digest)) record.set(digest, { findings: [], pendingCalls: 1, pending: 1 });
      return { registryId: accountId, repositoryName: repo, imageId: { imageDigest: digest, ...(id.imageTag ? { imageTag: id.imageTag } : {}) }, imageScanStatus: IN_PROGRESS };
    },

    async DescribeImageScanFindings(input, call) {
      const repo = (call.repository = str(input, 'repositoryName')!);
      const { tags, images } = await snapshot(repo, str(input, 'registryId', false));
      const { id, digest } = scannedImage(repo, input, tags, images);
      const scan = scans.get(repo)?.get(digest);
      if (!scan) {
        throw new AwsError(
          'ScanNotFoundException',
          `Image scan does not exist for the image with '{imageDigest:'${id.imageDigest ?? 'null'}', imageTag:'${id.imageTag ?? 'null'}'}' in the repository with name '${repo}' in the registry with id '${accountId}'`,
        );
      }
      const head = { registryId: accountId, repositoryName: repo, imageId: { imageDigest: digest, ...(id.imageTag ? { imageTag: id.imageTag } : {}) } };
      if (scan.pending > 0) {
        scan.pending--;
        return { ...head, imageScanStatus: IN_PROGRESS };
      }
      const status = scan.status ?? 'COMPLETE';
      const imageScanStatus = { status, description: scan.description ?? SCAN_DESCRIPTIONS[status] ?? `The scan ended ${status}.` };
      if (status !== 'COMPLETE' && status !== 'ACTIVE') return { ...head, imageScanStatus };
      // One list to page over: basic findings, then enhanced ones.
      type Item = { basic?: Record<string, unknown>; enhanced?: Record<string, unknown> };
      const all: Item[] = [...(scan.findings ?? []).map((f) => ({ basic: f })), ...(scan.enhancedFindings ?? []).map((f) => ({ enhanced: f }))];
      const { items, nextToken } = page(input, all, `DescribeImageScanFindings ${repo} ${digest}`);
      const counts: Record<string, number> = {};
      for (const f of all) {
        const severity = String((f.basic ?? f.enhanced)?.severity ?? 'UNDEFINED');
        counts[severity] = (counts[severity] ?? 0) + 1;
      }
      const when = (d: Date | undefined) => epochSeconds(d ?? new Date(0));
      return {
        ...head,
        imageScanStatus,
        imageScanFindings: {
          imageScanCompletedAt: when(scan.completedAt),
          vulnerabilitySourceUpdatedAt: when(scan.vulnerabilitySourceUpdatedAt),
          findingSeverityCounts: scan.severityCounts ?? counts,
          ...(scan.findings ? { findings: items.flatMap((i) => (i.basic ? [i.basic] : [])) } : {}),
          ...(scan.enhancedFindings ? { enhancedFindings: items.flatMap((i) => (i.enhanced ? [i.enhanced] : [])) } : {}),
        },
        ...(nextToken ? { nextToken } : {}),
      };
    },

    async DescribeImages(input, call) {
      const repo = (call.repository = str(input, 'repositoryName')!);
      const { tags, images } = await snapshot(repo, str(input, 'registryId', false));
      const detail = (digest: string) => {
        const k = images.get(digest)!;
        const imageTags = tagsOf(tags, digest).sort();
        // An index weighs what the manifests it lists weigh (those on record).
        const size = k.size + k.children.reduce((sum, c) => sum + (images.get(c)?.size ?? 0), 0);
        return {
          registryId: accountId,
          repositoryName: repo,
          imageDigest: digest,
          ...(imageTags.length ? { imageTags } : {}),
          imageSizeInBytes: size,
          imagePushedAt: epochSeconds(k.pushedAt),
          imageManifestMediaType: k.mediaType,
          ...(k.artifactMediaType ? { artifactMediaType: k.artifactMediaType } : {}),
        };
      };
      if (input.imageIds !== undefined) {
        if (input.maxResults !== undefined || input.nextToken !== undefined) {
          throw new AwsError('InvalidParameterException', 'Invalid parameter: maxResults and nextToken cannot be used with imageIds');
        }
        const out = [];
        for (const id of imageIdsOf(input)) out.push(detail(digestOrThrow(repo, id, tags, images)));
        return { imageDetails: out };
      }
      const status = tagStatusOf(input);
      const digests = ordered(images)
        .map(([d]) => d)
        .filter((d) => (status === 'ANY' ? true : (tagsOf(tags, d).length > 0) === (status === 'TAGGED')));
      const { items, nextToken } = page(input, digests, `DescribeImages ${repo} ${status}`);
      return { imageDetails: items.map(detail), ...(nextToken ? { nextToken } : {}) };
    },
  };

  // --- STS operations -------------------------------------------------------------------------

  const sts: Record<string, (params: URLSearchParams, caller: Keys, call: EcrCall) => string> = {
    AssumeRole(params, caller, call) {
      const roleArn = params.get('RoleArn') ?? '';
      const session = params.get('RoleSessionName') ?? '';
      call.roleArn = roleArn;
      call.roleSessionName = session;
      const m = /^arn:aws:iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]{1,64})$/.exec(roleArn);
      if (!m) throw new AwsError('ValidationError', `1 validation error detected: Value '${roleArn}' at 'roleArn' failed to satisfy constraint: Member must be a role ARN`);
      if (!/^[\w+=,.@-]{2,64}$/.test(session)) {
        throw new AwsError('ValidationError', `1 validation error detected: Value '${session}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`);
      }
      if (m[1] !== accountId) throw new AwsError('AccessDenied', `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`, 403);
      const duration = Number(params.get('DurationSeconds') ?? 3600);
      const id = keyId('ASIA');
      const secret = randomBytes(30).toString('base64');
      const sessionToken = randomBytes(64).toString('base64');
      const arn = `arn:aws:sts::${accountId}:assumed-role/${m[2]}/${session}`;
      const roleId = `${keyId('AROA')}:${session}`;
      keys.set(id, { secret, sessionToken, arn, userId: roleId, roleArn });
      call.issuedAccessKeyId = id;
      const expiration = new Date(Date.now() + duration * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
      return (
        `<AssumeRoleResult><Credentials><AccessKeyId>${id}</AccessKeyId><SecretAccessKey>${xmlEscape(secret)}</SecretAccessKey>` +
        `<SessionToken>${xmlEscape(sessionToken)}</SessionToken><Expiration>${expiration}</Expiration></Credentials>` +
        `<AssumedRoleUser><Arn>${xmlEscape(arn)}</Arn><AssumedRoleId>${xmlEscape(roleId)}</AssumedRoleId></AssumedRoleUser></AssumeRoleResult>`
      );
    },
    GetCallerIdentity(_params, caller) {
      return `<GetCallerIdentityResult><Arn>${xmlEscape(caller.arn)}</Arn><UserId>${xmlEscape(caller.userId)}</UserId><Account>${accountId}</Account></GetCallerIdentityResult>`;
    },
  };

  // --- KMS operations -------------------------------------------------------------------------

  const kmsKeys = new Map<string, KmsKeyRecord>(); // by key id
  const kmsAliases = new Map<string, string>(); // alias/<name> → key id
  const kmsArn = (resource: string) => `arn:aws:kms:${region}:${accountId}:${resource}`;

  /** The key a KeyId names (key id, key ARN, alias name or alias ARN), or NotFoundException. */
  const kmsKeyOf = (keyIdParam: unknown): KmsKeyRecord => {
    if (typeof keyIdParam !== 'string' || keyIdParam.length < 1 || keyIdParam.length > 2048) {
      throw new AwsError('ValidationException', "1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must have length between 1 and 2048");
    }
    const arn = /^arn:aws[\w-]*:kms:([^:]*):([^:]*):(.+)$/.exec(keyIdParam);
    const resource = arn ? arn[3]! : keyIdParam;
    if (arn && (arn[1] !== region || arn[2] !== accountId)) throw new AwsError('NotFoundException', `Key '${keyIdParam}' does not exist`);
    if (resource.startsWith('alias/')) {
      const id = kmsAliases.get(resource);
      if (!id) throw new AwsError('NotFoundException', `Alias ${kmsArn(resource)} is not found.`);
      return kmsKeys.get(id)!;
    }
    const id = arn ? /^key\/(.+)$/.exec(resource)?.[1] : resource;
    const key = id ? kmsKeys.get(id) : undefined;
    if (!key) throw new AwsError('NotFoundException', arn || id ? `Key '${arn ? keyIdParam : kmsArn(`key/${id}`)}' does not exist` : `Invalid keyId '${keyIdParam}'`);
    return key;
  };
  /** The key, checked usable by `caller` for `operation` (its allow list, its state). */
  const usableKey = (key: KmsKeyRecord, caller: Keys, operation: string, call: EcrCall): KmsKeyRecord => {
    call.keyArn = key.arn;
    if (key.allow && !key.allow.includes(caller.roleArn ?? caller.arn)) {
      throw new AwsError('AccessDeniedException', `User: ${caller.arn} is not authorized to perform: kms:${operation} on resource: ${key.arn} because no resource-based policy allows the kms:${operation} action`);
    }
    if (!key.enabled) throw new AwsError('DisabledException', `${key.arn} is disabled.`);
    return key;
  };
  const contextOf = (input: Input, call: EcrCall): Record<string, string> => {
    const context = input.EncryptionContext ?? {};
    if (typeof context !== 'object' || Array.isArray(context) || context === null || Object.values(context).some((v) => typeof v !== 'string')) {
      throw new AwsError('SerializationException', "EncryptionContext must be a map of strings");
    }
    const out = context as Record<string, string>;
    if (Object.keys(out).length) call.encryptionContext = out;
    return out;
  };
  const blobOf = (input: Input, name: string, max: number): Buffer => {
    const value = input[name];
    if (typeof value !== 'string') throw new AwsError('ValidationException', `1 validation error detected: Value at '${name[0]!.toLowerCase()}${name.slice(1)}' failed to satisfy constraint: Member must not be null`);
    const bytes = Buffer.from(value, 'base64');
    if (bytes.length < 1 || bytes.length > max) {
      throw new AwsError('ValidationException', `1 validation error detected: Value at '${name[0]!.toLowerCase()}${name.slice(1)}' failed to satisfy constraint: Member must have length between 1 and ${max}`);
    }
    return bytes;
  };
  // The context as GCM's associated data: its pairs in a fixed order, so order in the request does not matter.
  const contextAad = (context: Record<string, string>) => Buffer.from(JSON.stringify(Object.entries(context).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
  const seal = (key: KmsKeyRecord, plaintext: Buffer, context: Record<string, string>): Buffer => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key.secret, iv).setAAD(contextAad(context));
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([KMS_BLOB_MAGIC, Buffer.from(key.id.replace(/-/g, ''), 'hex'), iv, cipher.getAuthTag(), sealed]);
  };
  const kmsResult = (key: KmsKeyRecord, fields: Record<string, unknown>) => ({ KeyId: key.arn, ...fields, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' });
  const keyMetadata = (key: KmsKeyRecord) => ({
    AWSAccountId: accountId,
    KeyId: key.id,
    Arn: key.arn,
    CreationDate: epochSeconds(key.createdAt),
    Enabled: key.enabled,
    Description: key.description,
    KeyUsage: 'ENCRYPT_DECRYPT',
    KeyState: key.enabled ? 'Enabled' : 'Disabled',
    Origin: 'AWS_KMS',
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
    KeySpec: 'SYMMETRIC_DEFAULT',
    EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    MultiRegion: false,
  });

  const kms: Record<string, (input: Input, call: EcrCall, caller: Keys) => unknown> = {
    Encrypt(input, call, caller) {
      const key = usableKey(kmsKeyOf(input.KeyId), caller, 'Encrypt', call);
      const context = contextOf(input, call);
      const plaintext = blobOf(input, 'Plaintext', 4096);
      return kmsResult(key, { CiphertextBlob: seal(key, plaintext, context).toString('base64') });
    },
    Decrypt(input, call, caller) {
      const blob = blobOf(input, 'CiphertextBlob', 6144);
      const context = contextOf(input, call);
      const header = KMS_BLOB_MAGIC.length + 16 + 12 + 16;
      const id = blob.length > header && blob.subarray(0, KMS_BLOB_MAGIC.length).equals(KMS_BLOB_MAGIC) ? blob.subarray(4, 20).toString('hex') : undefined;
      const uuid = id && `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20)}`;
      const owner = uuid ? kmsKeys.get(uuid) : undefined;
      if (!owner) throw new AwsError('InvalidCiphertextException', '');
      if (input.KeyId !== undefined && kmsKeyOf(input.KeyId) !== owner) {
        call.keyArn = owner.arn;
        throw new AwsError('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.');
      }
      const key = usableKey(owner, caller, 'Decrypt', call);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key.secret, blob.subarray(20, 32)).setAAD(contextAad(context)).setAuthTag(blob.subarray(32, header));
        const plaintext = Buffer.concat([decipher.update(blob.subarray(header)), decipher.final()]);
        return kmsResult(key, { Plaintext: plaintext.toString('base64') });
      } catch {
        throw new AwsError('InvalidCiphertextException', '');
      }
    },
    GenerateDataKey(input, call, caller) {
      const key = usableKey(kmsKeyOf(input.KeyId), caller, 'GenerateDataKey', call);
      const context = contextOf(input, call);
      const spec = input.KeySpec;
      const count = input.NumberOfBytes;
      if ((spec === undefined) === (count === undefined)) throw new AwsError('ValidationException', 'Please specify either number of bytes or key spec.');
      if (spec !== undefined && spec !== 'AES_256' && spec !== 'AES_128') {
        throw new AwsError('ValidationException', `1 validation error detected: Value '${String(spec)}' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]`);
      }
      const size = spec === 'AES_128' ? 16 : spec === 'AES_256' ? 32 : Number(count);
      if (!Number.isInteger(size) || size < 1 || size > 1024) {
        throw new AwsError('ValidationException', "1 validation error detected: Value at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024");
      }
      const plaintext = randomBytes(size);
      return { KeyId: key.arn, CiphertextBlob: seal(key, plaintext, context).toString('base64'), Plaintext: plaintext.toString('base64') };
    },
    DescribeKey(input, call, caller) {
      const key = kmsKeyOf(input.KeyId);
      call.keyArn = key.arn;
      if (key.allow && !key.allow.includes(caller.roleArn ?? caller.arn)) {
        throw new AwsError('AccessDeniedException', `User: ${caller.arn} is not authorized to perform: kms:DescribeKey on resource: ${key.arn} because no resource-based policy allows the kms:DescribeKey action`);
      }
      return { KeyMetadata: keyMetadata(key) };
    },
  };

  const createKmsKey = (setup: KmsKeySetup = {}): string => {
    const alias = setup.alias === undefined ? undefined : setup.alias.startsWith('alias/') ? setup.alias : `alias/${setup.alias}`;
    if (alias !== undefined && (!KMS_ALIAS_RE.test(alias) || alias.startsWith('alias/aws/'))) throw new Error(`createKmsKey alias ${JSON.stringify(setup.alias)}: allowed alias/<name> ([a-zA-Z0-9/_-], not alias/aws/…)`);
    if (alias !== undefined && kmsAliases.has(alias)) throw new Error(`createKmsKey: alias ${alias} exists`);
    const id = randomUUID();
    const key: KmsKeyRecord = { id, arn: kmsArn(`key/${id}`), secret: randomBytes(32), enabled: true, description: setup.description ?? '', createdAt: new Date() };
    if (setup.allow) key.allow = [...setup.allow];
    kmsKeys.set(id, key);
    if (alias) kmsAliases.set(alias, id);
    return key.arn;
  };
  const setKmsKeyEnabled = (keyArn: string, enabled: boolean): void => {
    const key = [...kmsKeys.values()].find((k) => k.arn === keyArn);
    if (!key) throw new Error(`setKmsKeyEnabled: no key ${keyArn}`);
    key.enabled = enabled;
  };

  // --- HTTP -----------------------------------------------------------------------------------

  // One request at a time: an untag is delete + put back, which must not interleave with another.
  let queue: Promise<unknown> = Promise.resolve();
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work);
    queue = run.catch(() => undefined);
    return run;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const requestId = randomUUID();
    const target = String(req.headers['x-amz-target'] ?? '');
    const service = target.startsWith(ECR_TARGET) ? 'ecr' : target.startsWith(KMS_TARGET) ? 'kms' : 'sts';
    const call: EcrCall = { service, operation: '', accessKeyId: /Credential=([^/,\s]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? '' };
    calls.push(call);
    if (service !== 'sts') {
      // ECR and KMS: AWS JSON 1.1, errors as {__type, message}.
      call.operation = target.slice(service === 'ecr' ? ECR_TARGET.length : KMS_TARGET.length);
      const send = (status: number, payload: unknown, errorType?: string) => {
        res.writeHead(status, {
          'content-type': 'application/x-amz-json-1.1',
          'x-amzn-requestid': requestId,
          ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
        });
        res.end(JSON.stringify(payload));
      };
      try {
        if (req.method !== 'POST') throw new AwsError('UnknownOperationException', `${req.method} is not supported`);
        const caller = keys.get(verifySigV4(req, body, keys, service, region, ECR_SIG))!;
        const operations = service === 'ecr' ? ecr : kms;
        const operation = Object.hasOwn(operations, call.operation) ? operations[call.operation] : undefined;
        if (!operation) throw new AwsError('UnknownOperationException', `The stand-in does not implement ${call.operation}`);
        let input: Input;
        try {
          input = JSON.parse(body.toString('utf8') || '{}') as Input;
        } catch {
          throw new AwsError('SerializationException', 'Start of structure or map found where not expected.');
        }
        if (service === 'ecr') backing();
        send(200, await serially(async () => operation(input, call, caller)));
      } catch (error) {
        const e = error instanceof AwsError ? error : new AwsError(service === 'ecr' ? 'ServerException' : 'KMSInternalException', String((error as Error)?.message ?? error), 500);
        call.error = e.code;
        send(e.status, { __type: e.code, message: e.message }, e.code);
      }
      return;
    }
    const params = new URLSearchParams(body.toString('utf8'));
    call.operation = params.get('Action') ?? '';
    const send = (status: number, xml: string) => {
      res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
      res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${xml}`);
    };
    try {
      if (req.method !== 'POST' || !String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
        throw new AwsError('InvalidAction', 'Expected a form-encoded POST (AWS query protocol) or an ECR X-Amz-Target');
      }
      const keyUsed = verifySigV4(req, body, keys, 'sts', region, STS_SIG);
      if (params.get('Version') !== '2011-06-15') throw new AwsError('InvalidAction', `Could not find operation ${call.operation} for version ${params.get('Version')}`);
      const action = Object.hasOwn(sts, call.operation) ? sts[call.operation] : undefined;
      if (!action) throw new AwsError('InvalidAction', `Could not find operation ${call.operation} for version 2011-06-15`);
      const result = action(params, keys.get(keyUsed)!, call);
      send(200, `<${call.operation}Response xmlns="${STS_NS}">${result}<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${call.operation}Response>`);
    } catch (error) {
      const e = error instanceof AwsError ? error : new AwsError('InternalFailure', String((error as Error)?.message ?? error), 500);
      call.error = e.code;
      send(
        e.status,
        `<ErrorResponse xmlns="${STS_NS}"><Error><Type>${e.status >= 500 ? 'Receiver' : 'Sender'}</Type><Code>${e.code}</Code><Message>${xmlEscape(e.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      );
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(error));
    });
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => res());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // Empty AWS config files: the SDK reads these instead of the real ~/.aws.
  const dir = mkdtempSync(join(tmpdir(), 'imagewright-ecr-'));
  writeFileSync(join(dir, 'config'), '');
  writeFileSync(join(dir, 'credentials'), '');
  const env: Record<string, string> = {
    AWS_ENDPOINT_URL_ECR: endpoint,
    AWS_ENDPOINT_URL_STS: endpoint,
    AWS_ENDPOINT_URL_KMS: endpoint,
    // Any other service a client might call lands here too (UnknownOperation), never on AWS.
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: accessKeyId,
    AWS_SECRET_ACCESS_KEY: secretAccessKey,
    // Empty is unset to the SDK: a session token from the outer environment must not ride along.
    AWS_SESSION_TOKEN: '',
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_CONFIG_FILE: join(dir, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'),
    // The SDK prefers a profile to the keys above when AWS_PROFILE is set: empty, it is not.
    AWS_PROFILE: '',
    AWS_EC2_METADATA_DISABLED: 'true',
  };

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= new Promise<void>((res) => {
      server.close(() => res());
      server.closeAllConnections(); // the SDK's keep-alive sockets
    }).then(() => rmSync(dir, { recursive: true, force: true })));
  const setScan = (repository: string, tagOrDigest: string, scan: EcrScanSetup): Promise<void> =>
    serially(async () => {
      const { tags, images } = await snapshot(repository, undefined);
      const id = DIGEST_RE.test(tagOrDigest) ? { imageDigest: tagOrDigest } : { imageTag: tagOrDigest };
      const found = resolve(id, tags, images);
      if (found.failure) throw new Error(`setScan ${repository} ${tagOrDigest}: ${found.failure.failureReason}`);
      const pending = scan.pendingCalls ?? 0;
      if (!Number.isInteger(pending) || pending < 0) throw new Error(`setScan pendingCalls ${pending}: allowed a whole number >= 0`);
      const record = scans.get(repository) ?? new Map<string, EcrScanSetup & { pending: number }>();
      scans.set(repository, record);
      record.set(found.digest!, { ...scan, pending });
    });
  return { endpoint, env, accountId, region, calls, setScan, createKmsKey, setKmsKeyEnabled, stop };
}
