import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { failure, ImagewrightError, usageError } from '@imagewright/core';
import { MANIFEST_ACCEPT } from './distribution-api';
import { chooseChallenge, isLoopback, parseChallenges, schemeFor, splitHostPort, type Challenge } from './distribution-auth';
import { describeError, discard, isTransientError, isTransientStatus, readBody, send } from './http-send';
import { mapLimit } from './limit';
import type { Credentials, ManifestDoc, Registry, TagDigest } from './registry';

/**
 * A client of the OCI distribution API (https://github.com/opencontainers/distribution-spec),
 * for any registry: Docker's distribution, Harbor, GHCR, Docker Hub, … Written here rather than
 * taken from npm: the maintained client (@snyk/docker-registry-v2-client) only reads, and parses
 * manifests instead of keeping their bytes, so writes, deletes, uploads and mounts — most of this
 * file — would be ours anyway, beside a second HTTP stack and auth layer.
 */

export { MANIFEST_ACCEPT, MEDIA_TYPES } from './distribution-api';

export interface DistributionOptions {
  /** Default: what `docker login` / image-login stored for the host, else anonymous. */
  credentials?: Credentials;
  env?: NodeJS.ProcessEnv;
  /** Tries per request when the failure is transient (5xx, 429, reset, timeout). Default 3. */
  tries?: number;
  /** The first retry's delay in ms, doubled for each later one. Default 500. */
  backoffMs?: number;
  /** Manifest HEADs in flight at once while listing tags. Default 8. */
  concurrency?: number;
}

/** A manifest as HEAD describes it. */
export interface ManifestInfo {
  digest: string;
  mediaType: string;
  size: number;
}

export interface BlobInfo {
  digest: string;
  size: number;
}

interface Call {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /** The repository as the caller named it (for messages). */
  repository: string;
  /** For messages: `GET manifest latest`. */
  what: string;
  /** A path from the registry root (`/v2/…`) or an absolute URL (an upload's Location). */
  url: string | URL;
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  /** Statuses that are answers; any other is a failure (after retries for transient ones). */
  ok: number[];
  /** Scopes beyond the challenge's (a mount also needs pull on the source). */
  scopes?: string[];
  /** Leave the body unread (blob downloads). */
  stream?: boolean;
  /** Send no registry credentials (token requests carry their own). */
  anonymous?: boolean;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body, read (empty with `stream`). */
  body: Buffer;
  message: IncomingMessage;
}

const REPOSITORY_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const HASHES: Record<string, string> = { sha256: 'sha256', sha512: 'sha512' };
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Loaded on first use: node:crypto costs start-up time that bins loading this package for --help must not pay.
function createHash(algorithm: string): import('node:crypto').Hash {
  return (require('node:crypto') as typeof import('node:crypto')).createHash(algorithm);
}

/** `sha256:…` of `body` (or the algorithm of `like`, when the registry uses another). */
export function digestOf(body: Buffer, like?: string): string {
  const algorithm = like?.split(':')[0] ?? 'sha256';
  const hash = HASHES[algorithm];
  if (!hash) throw failure(`digest ${like}: unsupported algorithm (sha256 and sha512 are)`);
  return `${algorithm}:${createHash(hash).update(body).digest('hex')}`;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The `rel="next"` target of a Link header (RFC 8288), if any. */
export function nextLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (match && /;\s*rel\s*=\s*"?(?:[^"]*\s)?next(?:\s[^"]*)?"?\s*(?:;|$)/i.test(match[2])) return match[1];
  }
  return undefined;
}

/** The registry's error code and message from an `{"errors":[{code,message}]}` body. */
function registryErrors(body: Buffer): string {
  if (!body.length) return '';
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: string; message?: string }>; details?: unknown; message?: unknown; error?: unknown };
    const errors = (parsed.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(' ')).filter(Boolean);
    if (errors.length) return errors.join('; ');
    // Token services answer in their own shapes (Docker Hub: {"details": …}).
    const own = [parsed.details, parsed.message, parsed.error].find((v) => typeof v === 'string' && v);
    if (own) return own as string;
  } catch {
    /* not the API's JSON: a proxy's page, say */
  }
  const text = body.toString('utf8').replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

export class DistributionRegistry implements Registry {
  readonly kind = 'distribution' as const;
  /** host[:port][/path], as REGISTRY gives it. */
  readonly host: string;
  private readonly hostPort: string;
  /** The path prefix of every repository (`org` of `ghcr.io/org`), without slashes. */
  private readonly prefix: string;
  private readonly origin: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly tries: number;
  private readonly backoffMs: number;
  private readonly concurrency: number;
  private credentialsCache: { value: Credentials | undefined } | undefined;
  /** Learned from a Basic challenge: send credentials up front from then on. */
  private basic = false;
  /** Bearer tokens by realm, service and scopes. */
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();
  /** Which token key served a repository and access class, to send it up front next time. */
  private readonly tokenFor = new Map<string, string>();
  private readonly pendingTokens = new Map<string, Promise<{ token: string; expiresAt: number }>>();

  constructor(registry: string, options: DistributionOptions = {}) {
    const slash = registry.indexOf('/');
    const hostPort = slash < 0 ? registry : registry.slice(0, slash);
    const prefix = slash < 0 ? '' : registry.slice(slash + 1).replace(/\/+$/, '');
    const hostOk = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/.test(hostPort);
    if (!hostOk || (prefix && !prefix.split('/').every((c) => REPOSITORY_COMPONENT.test(c)))) {
      throw usageError(`REGISTRY=${registry}: allowed host[:port][/path] (path components lower-case letters, digits and . _ -)`);
    }
    this.host = slash < 0 ? registry : `${hostPort}${prefix ? `/${prefix}` : ''}`;
    this.hostPort = hostPort;
    this.prefix = prefix;
    this.env = options.env ?? process.env;
    // Docker Hub's API lives on another name than the one references use.
    const { hostname } = splitHostPort(hostPort);
    const apiHost = hostname === 'docker.io' || hostname === 'index.docker.io' ? 'registry-1.docker.io' : hostPort;
    this.origin = `${schemeFor(hostPort, this.env)}//${apiHost}`;
    if (options.credentials) this.credentialsCache = { value: options.credentials };
    this.tries = Math.max(1, options.tries ?? 3);
    this.backoffMs = options.backoffMs ?? 500;
    this.concurrency = Math.max(1, options.concurrency ?? 8);
  }

  /** The base URL requests go to: `https://host[:port]` (http for loopback and insecure hosts). */
  get baseUrl(): string {
    return this.origin;
  }

  // ---- manifests -------------------------------------------------------------------------

  async getManifest(repository: string, reference: string): Promise<ManifestDoc | undefined> {
    const answer = await this.call({
      method: 'GET',
      repository,
      what: `GET manifest ${reference}`,
      url: this.path(repository, 'manifests', reference),
      headers: { accept: MANIFEST_ACCEPT },
      ok: [200, 404],
    });
    if (answer.status === 404) return undefined;
    const body = answer.body;
    const reported = header(answer.headers, 'docker-content-digest');
    const expected = reported ?? (DIGEST.test(reference) ? reference : undefined);
    const digest = digestOf(body, expected);
    if (expected && expected !== digest) throw this.fail(repository, `GET manifest ${reference}`, `the body's digest is ${digest}, not ${expected}`);
    if (reported && DIGEST.test(reference) && reported !== reference) throw this.fail(repository, `GET manifest ${reference}`, `the registry reports digest ${reported}`);
    return { mediaType: this.mediaTypeOf(answer.headers, body), digest, body };
  }

  /** Digest, media type and size of repository:reference without its body; undefined when there is none. */
  async headManifest(repository: string, reference: string): Promise<ManifestInfo | undefined> {
    const answer = await this.call({
      method: 'HEAD',
      repository,
      what: `HEAD manifest ${reference}`,
      url: this.path(repository, 'manifests', reference),
      headers: { accept: MANIFEST_ACCEPT },
      ok: [200, 404],
    });
    if (answer.status === 404) return undefined;
    const digest = header(answer.headers, 'docker-content-digest');
    const mediaType = (header(answer.headers, 'content-type') ?? '').split(';')[0].trim();
    const size = Number(header(answer.headers, 'content-length'));
    // Some registries leave the digest out of HEAD answers: the body says it then.
    if (!digest || !mediaType || !Number.isFinite(size)) {
      const doc = await this.getManifest(repository, reference);
      return doc && { digest: doc.digest, mediaType: doc.mediaType, size: doc.body.length };
    }
    return { digest, mediaType, size };
  }

  async putManifest(repository: string, tag: string, manifest: { mediaType: string; body: Buffer }): Promise<string> {
    const what = `PUT manifest ${tag}`;
    const computed = digestOf(manifest.body);
    const answer = await this.call({
      method: 'PUT',
      repository,
      what,
      url: this.path(repository, 'manifests', tag),
      headers: { 'content-type': manifest.mediaType, 'content-length': String(manifest.body.length) },
      body: manifest.body,
      ok: [200, 201, 202],
    });
    const reported = header(answer.headers, 'docker-content-digest');
    if (reported && digestOf(manifest.body, reported) !== reported) throw this.fail(repository, what, `the registry reports digest ${reported} for bytes whose digest is ${digestOf(manifest.body, reported)}`);
    return reported ?? computed;
  }

  async deleteImage(repository: string, target: { digest: string } | { tag: string }): Promise<void> {
    let digest: string;
    if ('digest' in target) digest = target.digest;
    else {
      // The distribution API deletes manifests, not tags: the tag's manifest goes, with every tag on it.
      const info = await this.headManifest(repository, target.tag);
      if (!info) throw this.fail(repository, `HEAD manifest ${target.tag}`, 'HTTP 404 no such tag');
      digest = info.digest;
    }
    if (!DIGEST.test(digest)) throw usageError(`digest ${JSON.stringify(digest)}: allowed algorithm:hex (sha256:…)`);
    await this.call({ method: 'DELETE', repository, what: `DELETE manifest ${digest}`, url: this.path(repository, 'manifests', digest), ok: [200, 202, 204] });
  }

  /** Every tag and its manifest's digest, through every `Link: rel="next"` page (`pageSize` sets `n=`). */
  async listTags(repository: string, options: { pageSize?: number } = {}): Promise<TagDigest[]> {
    const tags: string[] = [];
    const seen = new Set<string>();
    let url: string | undefined = this.path(repository, 'tags/list') + (options.pageSize ? `?n=${options.pageSize}` : '');
    while (url && !seen.has(url)) {
      seen.add(url);
      const answer = await this.call({ method: 'GET', repository, what: 'GET tags', url, ok: [200] });
      let page: { tags?: string[] | null };
      try {
        page = JSON.parse(answer.body.toString('utf8'));
      } catch {
        throw this.fail(repository, 'GET tags', 'the answer is not JSON');
      }
      tags.push(...(page.tags ?? []));
      url = nextLink(header(answer.headers, 'link'));
    }
    const unique = [...new Set(tags)];
    const digests = await mapLimit(unique, this.concurrency, (tag) => this.headManifest(repository, tag));
    // A tag deleted between the list and its HEAD is gone: not listed.
    return unique.flatMap((tag, i) => (digests[i] ? [{ tag, digest: digests[i]!.digest }] : []));
  }

  /** The distribution API cannot enumerate manifests without a tag. */
  async listUntagged(_repository: string): Promise<string[] | undefined> {
    return undefined;
  }

  // ---- blobs -----------------------------------------------------------------------------

  /** The blob's size, or undefined when the repository lacks it. */
  async headBlob(repository: string, digest: string): Promise<BlobInfo | undefined> {
    const answer = await this.call({ method: 'HEAD', repository, what: `HEAD blob ${digest}`, url: this.path(repository, 'blobs', digest), ok: [200, 404] });
    if (answer.status === 404) return undefined;
    return { digest, size: Number(header(answer.headers, 'content-length') ?? NaN) };
  }

  /** The blob's bytes as a stream, checked against `digest` at its end (the stream errors on a mismatch). */
  async getBlob(repository: string, digest: string): Promise<Readable> {
    const what = `GET blob ${digest}`;
    const answer = await this.call({ method: 'GET', repository, what, url: this.path(repository, 'blobs', digest), ok: [200], stream: true });
    const { Transform } = require('node:stream') as typeof import('node:stream');
    const algorithm = HASHES[digest.split(':')[0]];
    const hash = algorithm ? createHash(algorithm) : undefined;
    const checked = new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        hash?.update(chunk);
        done(null, chunk);
      },
      flush: (done) => {
        const actual = hash && `${digest.split(':')[0]}:${hash.digest('hex')}`;
        done(actual && actual !== digest ? this.fail(repository, what, `the bytes' digest is ${actual}`) : null);
      },
    });
    answer.message.once('error', (error) => checked.destroy(this.fail(repository, what, describeError(error))));
    return answer.message.pipe(checked);
  }

  /**
   * Uploads a blob unless the repository has it (resolves false then). Monolithic (POST, then
   * PUT with `digest=`) unless `chunkSize` is smaller than `size`: then PATCH chunks with
   * Content-Range and a closing PUT. Buffers (and each chunk) are retried on transient
   * failures; a stream sent whole is not (it cannot be replayed).
   */
  async uploadBlob(repository: string, digest: string, data: Buffer | Readable, size: number, options: { chunkSize?: number } = {}): Promise<boolean> {
    if (!DIGEST.test(digest)) throw usageError(`digest ${JSON.stringify(digest)}: allowed algorithm:hex (sha256:…)`);
    if (await this.headBlob(repository, digest)) return false;
    let location = await this.startUpload(repository, `POST blob upload ${digest}`);
    const chunkSize = options.chunkSize;
    const octets = { 'content-type': 'application/octet-stream' };
    if (!chunkSize || size <= chunkSize) {
      await this.call({
        method: 'PUT',
        repository,
        what: `PUT blob ${digest}`,
        url: withDigest(location, digest),
        headers: { ...octets, 'content-length': String(size) },
        body: data,
        ok: [201, 204],
      });
      return true;
    }
    let offset = 0;
    for await (const chunk of chunksOf(data, chunkSize)) {
      const end = offset + chunk.length - 1;
      const answer = await this.call({
        method: 'PATCH',
        repository,
        what: `PATCH blob ${digest} bytes ${offset}-${end}`,
        url: location,
        headers: { ...octets, 'content-length': String(chunk.length), 'content-range': `${offset}-${end}` },
        body: chunk,
        ok: [202, 204],
      });
      location = this.locationOf(answer, repository, `PATCH blob ${digest}`);
      offset += chunk.length;
    }
    if (offset !== size) throw this.fail(repository, `PATCH blob ${digest}`, `the data had ${offset} bytes, not the ${size} announced`);
    await this.call({ method: 'PUT', repository, what: `PUT blob ${digest}`, url: withDigest(location, digest), headers: { 'content-length': '0' }, body: Buffer.alloc(0), ok: [201, 204] });
    return true;
  }

  /**
   * Uploads a blob whose digest and size are known only at its end (a layer compressed while it
   * is made): PATCHes chunks of `chunkSize` bytes (default 16 MiB), hashing as they go, and closes
   * with PUT `digest=`. Each chunk is a Buffer, so it is retried on transient failures.
   */
  async uploadBlobStream(repository: string, data: Readable, options: { chunkSize?: number } = {}): Promise<{ digest: string; size: number }> {
    const chunkSize = Math.max(1, options.chunkSize ?? 16 * 1024 * 1024);
    let location = await this.startUpload(repository, 'POST blob upload');
    const hash = createHash('sha256');
    const octets = { 'content-type': 'application/octet-stream' };
    let offset = 0;
    try {
      for await (const chunk of chunksOf(data, chunkSize)) {
        hash.update(chunk);
        const end = offset + chunk.length - 1;
        const answer = await this.call({
          method: 'PATCH',
          repository,
          what: `PATCH blob bytes ${offset}-${end}`,
          url: location,
          headers: { ...octets, 'content-length': String(chunk.length), 'content-range': `${offset}-${end}` },
          body: chunk,
          ok: [202, 204],
        });
        location = this.locationOf(answer, repository, 'PATCH blob');
        offset += chunk.length;
      }
    } catch (error) {
      data.destroy();
      // The session would linger on the registry until it expires.
      await this.call({ method: 'DELETE', repository, what: 'DELETE blob upload', url: location, ok: [200, 202, 204, 404] }).catch(() => undefined);
      throw error;
    }
    const digest = `sha256:${hash.digest('hex')}`;
    await this.call({ method: 'PUT', repository, what: `PUT blob ${digest}`, url: withDigest(location, digest), headers: { 'content-length': '0' }, body: Buffer.alloc(0), ok: [201, 204] });
    return { digest, size: offset };
  }

  /**
   * Mounts `digest` from `fromRepository` (same registry) without moving its bytes. Resolves
   * false when the registry would not (it then opens an upload session, cancelled here).
   */
  async mountBlob(repository: string, digest: string, fromRepository: string): Promise<boolean> {
    if (!DIGEST.test(digest)) throw usageError(`digest ${JSON.stringify(digest)}: allowed algorithm:hex (sha256:…)`);
    const from = this.repositoryPath(fromRepository);
    const what = `POST blob mount ${digest} from ${fromRepository}`;
    const answer = await this.call({
      method: 'POST',
      repository,
      what,
      url: `${this.path(repository, 'blobs', 'uploads/')}?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
      headers: { 'content-length': '0' },
      body: Buffer.alloc(0),
      ok: [201, 202],
      scopes: [`repository:${from}:pull`],
    });
    if (answer.status === 201) return true;
    const location = header(answer.headers, 'location');
    if (location) {
      await this.call({ method: 'DELETE', repository, what: 'DELETE blob upload', url: new URL(location, this.origin), ok: [200, 202, 204, 404] }).catch(() => undefined);
    }
    return false;
  }

  // ---- internals -------------------------------------------------------------------------

  private async startUpload(repository: string, what: string): Promise<URL> {
    const answer = await this.call({
      method: 'POST',
      repository,
      what,
      url: this.path(repository, 'blobs', 'uploads/'),
      headers: { 'content-length': '0' },
      body: Buffer.alloc(0),
      ok: [202],
    });
    return this.locationOf(answer, repository, what);
  }

  private locationOf(answer: Answer, repository: string, what: string): URL {
    const location = header(answer.headers, 'location');
    if (!location) throw this.fail(repository, what, `HTTP ${answer.status} without a Location header`);
    return new URL(location, this.origin);
  }

  private repositoryPath(repository: string): string {
    if (!repository.split('/').every((c) => REPOSITORY_COMPONENT.test(c))) {
      throw usageError(`repository ${JSON.stringify(repository)}: allowed lower-case letters, digits and . _ - in /-separated components`);
    }
    return this.prefix ? `${this.prefix}/${repository}` : repository;
  }

  private path(repository: string, kind: 'manifests' | 'blobs' | 'tags/list', reference?: string): string {
    const name = this.repositoryPath(repository);
    if (kind === 'tags/list') return `/v2/${name}/tags/list`;
    if (reference !== 'uploads/' && !(TAG.test(reference ?? '') && kind === 'manifests') && !DIGEST.test(reference ?? '')) {
      throw usageError(`${kind === 'manifests' ? 'tag or digest' : 'digest'} ${JSON.stringify(reference)}: allowed ${kind === 'manifests' ? 'a tag ([A-Za-z0-9_][A-Za-z0-9._-]*, at most 128) or ' : ''}algorithm:hex (sha256:…)`);
    }
    return `/v2/${name}/${kind}/${reference}`;
  }

  private mediaTypeOf(headers: IncomingHttpHeaders, body: Buffer): string {
    const reported = (header(headers, 'content-type') ?? '').split(';')[0].trim();
    if (reported && reported !== 'application/json' && reported !== 'text/plain' && reported !== 'application/octet-stream') return reported;
    // A registry that does not know the type: the manifest names it (OCI manifests may not).
    try {
      const named = (JSON.parse(body.toString('utf8')) as { mediaType?: unknown }).mediaType;
      if (typeof named === 'string' && named) return named;
    } catch {
      /* not JSON: keep what was reported */
    }
    return reported || 'application/octet-stream';
  }

  private credentials(): Credentials | undefined {
    if (!this.credentialsCache) {
      // Loaded when a challenge first asks: a credential helper may run, and @imagewright/docker is not small.
      const { hostAuth } = require('@imagewright/docker') as typeof import('@imagewright/docker');
      const auth = hostAuth(this.hostPort, this.env);
      this.credentialsCache = { value: auth && { username: auth.username, password: auth.password } };
    }
    return this.credentialsCache.value;
  }

  private basicHeader(credentials: Credentials): string {
    return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
  }

  /** What to send up front: Basic once the registry asked for it, else a token this access earned before. */
  private authorizationFor(key: string): string | undefined {
    const credentials = this.basic ? this.credentials() : undefined;
    if (credentials) return this.basicHeader(credentials);
    const tokenKey = this.tokenFor.get(key);
    const cached = tokenKey ? this.tokens.get(tokenKey) : undefined;
    return cached && cached.expiresAt > Date.now() ? `Bearer ${cached.token}` : undefined;
  }

  private accessKey(call: Call): string {
    const access = call.method === 'GET' || call.method === 'HEAD' ? 'pull' : call.method === 'DELETE' ? 'delete' : 'push';
    return [this.repositoryPath(call.repository), access, ...(call.scopes ?? [])].join(' ');
  }

  /**
   * One request with retries: transient failures (5xx, 429, resets, timeouts) are tried again
   * with exponential backoff; anything else not in `ok` is one line naming registry,
   * repository, operation and status.
   */
  private async call(call: Call): Promise<Answer> {
    const replayable = !call.body || Buffer.isBuffer(call.body);
    const tries = replayable ? this.tries : 1;
    for (let attempt = 1; ; attempt++) {
      const retrying = attempt < tries;
      const after = attempt > 1 ? ` (after ${attempt} tries)` : '';
      let answer: Answer;
      try {
        answer = await this.authorized(call);
      } catch (error) {
        if (error instanceof ImagewrightError) throw error;
        if (retrying && isTransientError(error)) {
          await sleep(this.backoffMs * 2 ** (attempt - 1));
          continue;
        }
        throw this.fail(call.repository, call.what, `${describeError(error)}${after}`);
      }
      if (call.ok.includes(answer.status)) {
        if (!call.stream) answer.body = await this.read(call, answer.message);
        return answer;
      }
      if (retrying && isTransientStatus(answer.status)) {
        discard(answer.message);
        const retryAfter = Number(header(answer.headers, 'retry-after'));
        const delay = this.backoffMs * 2 ** (attempt - 1);
        await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(Math.max(delay, retryAfter * 1000), 30_000) : delay);
        continue;
      }
      if (call.method === 'HEAD') discard(answer.message);
      const detail = call.method === 'HEAD' ? '' : registryErrors(await this.read(call, answer.message, 64 * 1024).catch(() => Buffer.alloc(0)));
      throw this.fail(call.repository, call.what, `HTTP ${answer.status}${detail ? ` ${detail}` : ''}${this.hint(answer.status, call)}${after}`);
    }
  }

  private async read(call: Call, message: IncomingMessage, limit?: number): Promise<Buffer> {
    try {
      return await readBody(message, limit);
    } catch (error) {
      throw this.fail(call.repository, call.what, describeError(error));
    }
  }

  private hint(status: number, call: Call): string {
    if (status === 401) {
      return this.credentialsCache?.value ? ` (the registry refused the credentials for ${this.hostPort})` : ` (no credentials for ${this.hostPort}: run image-login or docker login)`;
    }
    if (status === 403) return ' (denied: the credentials lack this right)';
    if (status === 405 && call.method === 'DELETE') return ' (the registry does not allow deletes)';
    return '';
  }

  /** A request, answering one 401 challenge: Basic with our credentials, or a Bearer token for the asked scope. */
  private async authorized(call: Call): Promise<Answer> {
    const key = this.accessKey(call);
    const sent = call.anonymous ? undefined : this.authorizationFor(key);
    const first = await this.exchange(call, sent);
    if (first.status !== 401 || call.anonymous) return first;
    // A stream that went out cannot go again.
    if (call.body && !Buffer.isBuffer(call.body)) return first;
    const challenge = chooseChallenge(parseChallenges(first.headers['www-authenticate']));
    if (!challenge) return first;
    const authorization = await this.answer(challenge, call, key, sent);
    if (!authorization) return first;
    discard(first.message);
    return this.exchange(call, authorization);
  }

  private async answer(challenge: Challenge, call: Call, key: string, sent: string | undefined): Promise<string | undefined> {
    const credentials = this.credentials();
    if (challenge.scheme === 'basic') {
      if (!credentials) return undefined;
      const authorization = this.basicHeader(credentials);
      if (sent === authorization) return undefined; // refused already
      this.basic = true;
      return authorization;
    }
    const scopes = [...new Set([...(challenge.params.scope ?? '').split(' '), ...(call.scopes ?? [])].filter(Boolean))].sort();
    const tokenKey = [challenge.params.realm, challenge.params.service ?? '', ...scopes].join(' ');
    const cached = this.tokens.get(tokenKey);
    // A token we did not send may serve (another request earned it); one that was refused may not.
    if (cached && cached.expiresAt > Date.now() && sent !== `Bearer ${cached.token}`) {
      this.tokenFor.set(key, tokenKey);
      return `Bearer ${cached.token}`;
    }
    // Requests in flight together (listTags' HEADs) share one token request.
    let pending = this.pendingTokens.get(tokenKey);
    if (!pending) {
      pending = this.fetchToken(challenge, scopes, call, credentials).finally(() => this.pendingTokens.delete(tokenKey));
      this.pendingTokens.set(tokenKey, pending);
    }
    const token = await pending;
    this.tokens.set(tokenKey, token);
    this.tokenFor.set(key, tokenKey);
    return `Bearer ${token.token}`;
  }

  /** A token from the challenge's realm (docker's token protocol), with our credentials when we have them. */
  private async fetchToken(challenge: Challenge, scopes: string[], call: Call, credentials: Credentials | undefined): Promise<{ token: string; expiresAt: number }> {
    let realm: URL;
    try {
      realm = new URL(challenge.params.realm);
    } catch {
      throw this.fail(call.repository, call.what, `the token realm ${JSON.stringify(challenge.params.realm)} is not a URL`);
    }
    const what = `token for ${call.what} from ${realm.origin}${realm.pathname}`;
    const plainOk = isLoopback(realm.hostname) || schemeFor(realm.host, this.env) === 'http:';
    if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && plainOk)) {
      // Credentials would cross the network in clear: refused, as for the registry itself.
      throw this.fail(call.repository, what, `the realm is not https (list its host in IMAGEWRIGHT_INSECURE_REGISTRIES to allow http)`);
    }
    if (challenge.params.service) realm.searchParams.set('service', challenge.params.service);
    for (const scope of scopes) realm.searchParams.append('scope', scope);
    const answer = await this.call({
      method: 'GET',
      repository: call.repository,
      what,
      url: realm,
      headers: credentials ? { authorization: this.basicHeader(credentials) } : {},
      ok: [200],
      anonymous: true,
    });
    let parsed: { token?: string; access_token?: string; expires_in?: number };
    try {
      parsed = JSON.parse(answer.body.toString('utf8'));
    } catch {
      throw this.fail(call.repository, what, 'the answer is not JSON');
    }
    const token = parsed.token || parsed.access_token;
    if (!token) throw this.fail(call.repository, what, 'the answer holds no token');
    // The spec's default lifetime is 60 s; renew a little early.
    const lifetime = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : 60;
    return { token, expiresAt: Date.now() + Math.max(lifetime - 10, 1) * 1000 };
  }

  /** Sends one request, following redirects of GET/HEAD; credentials never leave the origin they belong to. */
  private async exchange(call: Call, authorization: string | undefined): Promise<Answer> {
    let url = typeof call.url === 'string' ? new URL(call.url, this.origin) : call.url;
    const authOrigin = call.anonymous ? url.origin : this.origin;
    const explicit = call.headers?.authorization;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { 'user-agent': 'imagewright', ...call.headers };
      delete headers.authorization;
      const auth = call.anonymous ? explicit : authorization;
      if (auth && url.origin === authOrigin) headers.authorization = auth;
      const sent = await send(url, { method: call.method, headers, body: call.body });
      const location = header(sent.headers, 'location');
      if ((call.method === 'GET' || call.method === 'HEAD') && REDIRECTS.has(sent.status) && location && hop < 5) {
        discard(sent.message);
        url = new URL(location, url);
        continue;
      }
      return { ...sent, body: Buffer.alloc(0) };
    }
  }

  /** One line; any secret we hold is masked, whatever a registry echoed. */
  private fail(repository: string, what: string, detail: string): ImagewrightError {
    let message = `registry ${this.host}: ${repository}: ${what}: ${detail}`.replace(/\s+/g, ' ');
    const secrets: string[] = [];
    const credentials = this.credentialsCache?.value;
    if (credentials) secrets.push(credentials.password, Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64'));
    for (const { token } of this.tokens.values()) secrets.push(token);
    for (const secret of secrets) if (secret && secret.length >= 4) message = message.split(secret).join('***');
    return failure(message);
  }
}

/** An upload URL with `digest=` added, keeping the registry's own query (`_state` and such) as it wrote it. */
function withDigest(location: URL, digest: string): URL {
  const url = new URL(location);
  url.search = `${url.search ? `${url.search}&` : '?'}digest=${encodeURIComponent(digest)}`;
  return url;
}

/** `data` in pieces of `size` bytes (the last may be shorter). */
async function* chunksOf(data: Buffer | Readable, size: number): AsyncGenerator<Buffer> {
  if (Buffer.isBuffer(data)) {
    for (let offset = 0; offset < data.length; offset += size) yield data.subarray(offset, offset + size);
    return;
  }
  let pending: Buffer[] = [];
  let length = 0;
  for await (const piece of data) {
    let chunk = Buffer.isBuffer(piece) ? piece : Buffer.from(piece as string);
    while (length + chunk.length >= size) {
      const take = size - length;
      pending.push(chunk.subarray(0, take));
      yield Buffer.concat(pending);
      chunk = chunk.subarray(take);
      pending = [];
      length = 0;
    }
    if (chunk.length) {
      pending.push(chunk);
      length += chunk.length;
    }
  }
  if (length) yield Buffer.concat(pending);
}
