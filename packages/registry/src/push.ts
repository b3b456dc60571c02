import type { Readable, Writable } from 'node:stream';
import { type Config, failure, ImagewrightError, usageError } from '@imagewright/core';
import { connectEngine, engineMessage, followProgress, hostAuth, imageIdOf, ProgressRenderer, type Engine, type RegistryAuth } from '@imagewright/docker';
import { isTransientStatus } from './http-send';
import { ecrLogin } from './login';
import { openRegistry } from './open';
import type { Registry } from './registry';

/** What went wrong talking to a registry, read from the Engine's (or a client's) message. */
export interface RegistryFailure {
  /** The registry's HTTP status, when the message tells it. */
  status?: number;
  /** "503 Service Unavailable", "401 Unauthorized", or the message itself when no status is known. */
  what: string;
  /** Worth another attempt: 5xx, 429, a reset connection, an EOF. */
  transient: boolean;
}

const STATUS_TEXT: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests' };

/**
 * Reads the Engine's error text the way people do: its registry client says either
 * "received unexpected HTTP status: 503 Service Unavailable" or the registry's error code
 * (unauthorized, denied, manifest unknown, ...), and network failures as Go errors.
 */
export function classifyRegistryError(message: string): RegistryFailure {
  const line = message.split('\n')[0].replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
  const explicit = /(?:unexpected HTTP status|status code):? (\d{3})( [A-Za-z][A-Za-z ]*)?/i.exec(line);
  let status = explicit ? Number(explicit[1]) : undefined;
  if (status === undefined) {
    if (/\bunauthorized\b|authentication required|no basic auth credentials/i.test(line)) status = 401;
    else if (/^denied\b|\bdenied:|requested access to the resource is denied|pull access denied/i.test(line)) status = 403;
    else if (/\b(name|manifest|blob) unknown\b|not found|does not exist/i.test(line)) status = 404;
    else if (/toomanyrequests/i.test(line)) status = 429;
  }
  const network = /connection reset|\bEOF\b|broken pipe|use of closed network connection|i\/o timeout|TLS handshake timeout/i.test(line);
  const transient = status !== undefined ? isTransientStatus(status) : network;
  const what = status === undefined ? line : `HTTP ${status}${explicit?.[2] ?? (STATUS_TEXT[status] ? ` ${STATUS_TEXT[status]}` : '')}`;
  return { status, what, transient };
}

export interface RetryOptions {
  /** Waits before the 2nd, 3rd, ... attempt, in ms (backoff). */
  delays?: number[];
  /** Told before each new attempt (a line on stderr). */
  onRetry?: (failure: RegistryFailure, attempt: number, attempts: number, delayMs: number) => void;
}

export const RETRY_DELAYS_MS = [1000, 2000, 4000];

/**
 * Runs `attempt` again after transient registry failures, with backoff; the last failure (or
 * a non-transient one at once) is one line in DistributionRegistry's shape:
 * `registry R: REPOSITORY: <what>: HTTP S (after N tries)`.
 */
export async function withRegistryRetry<T>(what: string, target: { registry: string; repository: string }, attempt: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const delays = options.delays ?? RETRY_DELAYS_MS;
  const attempts = delays.length + 1;
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      // Our own usage errors and the like are not the registry's.
      if (error instanceof ImagewrightError && error.exitCode !== 1) throw error;
      const classified = classifyRegistryError(engineMessage(error));
      if (classified.transient && n < attempts) {
        options.onRetry?.(classified, n + 1, attempts, delays[n - 1]);
        await new Promise((r) => setTimeout(r, delays[n - 1]));
        continue;
      }
      const tries = n > 1 ? ` (after ${n} tries)` : '';
      throw failure(`registry ${target.registry}: ${target.repository}: ${what}: ${classified.what}${tries}`, error);
    }
  }
}

export interface PushOptions {
  /** The local image: a reference or an ID. */
  image: string;
  /** Where to: host[:port][/path] prefix, repository and tag. */
  registry: string;
  repository: string;
  tag: string;
  /** Credentials for the Engine (undefined: anonymous). */
  auth?: RegistryAuth;
  /** Progress (bars on a terminal, plain lines in a pipe). */
  log: Writable & { isTTY?: boolean };
  retry?: RetryOptions;
}

export interface PushResult {
  ref: string;
  digest: string;
}

/**
 * Pushes a local image through the Engine as <registry>/<repository>:<tag>. The image gets that
 * reference as a new local tag first when it has another one (nothing else moves). Layers the
 * registry already has are skipped by the Engine, so a push that was interrupted completes when
 * run again. Transient failures are retried (withRegistryRetry).
 */
export async function pushImage(engine: Engine, options: PushOptions): Promise<PushResult> {
  const repo = `${options.registry}/${options.repository}`;
  const ref = `${repo}:${options.tag}`;
  const id = await imageIdOf(engine, options.image);
  if (!id) throw usageError(`image ${options.image} is not in the Engine: allowed a local image (build it with image-build)`);
  if (options.image !== ref) await engine.getImage(id).tag({ repo, tag: options.tag });
  return withRegistryRetry(`push of ${ref}`, { registry: options.registry, repository: options.repository }, async () => {
    const stream = await engine.getImage(ref).push({ tag: options.tag, ...(options.auth ? { authconfig: options.auth } : {}) });
    const { messages } = await followProgress(stream as unknown as Readable, new ProgressRenderer(options.log, Boolean(options.log.isTTY)));
    const digest = messages.map((m) => m.aux?.Digest).find(Boolean);
    if (!digest) throw failure(`push of ${ref} finished without a digest from the Engine`);
    return { ref, digest };
  }, options.retry);
}

/**
 * Puts the manifest `digest` names under more tags, without a push (Canonical's
 * `<tag>-<patch commit>`): the exact bytes, so every tag has the same digest. The registry
 * clients retry transient failures themselves and fail in one line naming registry and repository.
 */
export async function addTags(registry: Registry, repository: string, digest: string, tags: string[]): Promise<void> {
  if (tags.length === 0) return;
  const manifest = await registry.getManifest(repository, digest);
  if (!manifest) throw failure(`registry ${registry.host}: ${repository}: GET manifest ${digest}: HTTP 404 (the pushed manifest is not there)`);
  for (const tag of tags) {
    const put = await registry.putManifest(repository, tag, manifest);
    if (put !== digest) throw failure(`registry ${registry.host}: ${repository}: PUT manifest ${tag}: stored as ${put}, pushed as ${digest}`);
  }
}

type PushConfig = Pick<Config, 'REGISTRY' | 'REGISTRY_HOST' | 'ECR_ACCOUNT_ID' | 'AWS_REGION' | 'ADMIN_ARN' | 'IMAGE_REPO'>;

/**
 * The configured registry with the credentials the Engine needs for it: REGISTRY with what
 * `docker login`/image-login stored (hostAuth), or ECR with a fresh token (GetAuthorizationToken),
 * whose proxy endpoint is then the host images are named by.
 */
export async function configuredRegistry(config: PushConfig, env: NodeJS.ProcessEnv): Promise<{ registry: Registry; host: string; auth?: RegistryAuth }> {
  const registry = openRegistry(config, env); // or the usage error naming what to set (exit 2)
  if (registry.kind === 'distribution') return { registry, host: registry.host, auth: hostAuth(registry.host.split('/')[0], env) };
  const token = await ecrLogin(registry);
  return { registry, host: token.host, auth: { ...token.credentials, serveraddress: token.host } };
}

const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/**
 * image-push: the image (IMAGE_ID or the one named) to <registry>/<IMAGE_REPO>:<PUSH_TAG>, then
 * the same manifest under each of `alsoTags`. Bad tags and a missing registry are usage errors
 * before anything moves.
 */
export async function pushConfigured(
  config: PushConfig & Pick<Config, 'PUSH_TAG'>,
  options: { image: string; alsoTags?: string[]; env: NodeJS.ProcessEnv; log: Writable & { isTTY?: boolean }; retry?: RetryOptions },
): Promise<PushResult & { tags: string[] }> {
  if (!config.REGISTRY_HOST) throw usageError('no registry is configured: set REGISTRY=host[:port][/path], or ECR_ACCOUNT_ID and AWS_REGION');
  const alsoTags = [...new Set(options.alsoTags ?? [])].filter((t) => t !== config.PUSH_TAG);
  const bad = alsoTags.find((t) => !TAG.test(t));
  if (bad !== undefined) throw usageError(`--also-tag ${JSON.stringify(bad)} is invalid: allowed a docker tag: letters, digits, _ . - (max 128, not starting with . or -)`);
  const engine = await connectEngine(options.env);
  const { registry, host, auth } = await configuredRegistry(config, options.env);
  const pushed = await pushImage(engine, { image: options.image, registry: host, repository: config.IMAGE_REPO, tag: config.PUSH_TAG, auth, log: options.log, retry: options.retry });
  await addTags(registry, config.IMAGE_REPO, pushed.digest, alsoTags);
  return { ...pushed, tags: [config.PUSH_TAG, ...alsoTags] };
}
