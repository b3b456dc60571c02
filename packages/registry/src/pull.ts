import type { Writable } from 'node:stream';
import { type Config, failure, usageError } from '@imagewright/core';
import { connectEngine, imageIdOf, keepBackup, pullImage, registryAuth, registryOf, splitRef, type Engine, type RegistryAuth } from '@imagewright/docker';
import { configuredRegistry, withRegistryRetry, type RetryOptions } from './push';

export interface PullResult {
  ref: string;
  /** The image ID the tag points at now. */
  id: string;
  /** The image the tag pointed at before, when the pull replaced it; it keeps `backup`. */
  previous?: string;
  backup?: string;
}

/**
 * Pulls `ref` through the Engine with progress (bars on a terminal, plain lines in a pipe).
 * When the pull moves the local tag off another image, that image keeps a `<tag>-previous`
 * backup tag (docker's keepBackup), as a rebuild does. Transient failures are retried.
 */
export async function pullToEngine(engine: Engine, ref: string, options: { auth?: RegistryAuth; env?: NodeJS.ProcessEnv; log: Writable & { isTTY?: boolean }; retry?: RetryOptions }): Promise<PullResult> {
  const [repo] = splitRef(ref.includes('@') ? ref.slice(0, ref.indexOf('@')) : ref);
  const host = registryOf(ref);
  const repository = host === 'docker.io' || !repo.startsWith(`${host}/`) ? repo : repo.slice(host.length + 1);
  const previous = await imageIdOf(engine, ref);
  await withRegistryRetry(`pull of ${ref}`, { registry: host, repository }, async () => {
    await pullImage(engine, ref, { auth: options.auth, env: options.env, log: options.log });
  }, options.retry);
  const id = await imageIdOf(engine, ref);
  if (!id) throw failure(`pull of ${ref} finished but the Engine has no image under it`);
  if (!previous || previous === id || ref.includes('@')) return { ref, id };
  // The Engine moved the tag; the replaced image is still there (untagged) until given the backup tag.
  return { ref, id, previous, backup: await keepBackup(engine, previous, ref) };
}

/**
 * image-pull: `ref`, else the approved tag <registry>/<IMAGE_REPO>:<APPROVED_TAG>. Credentials:
 * a fresh ECR token for the configured ECR registry, else what `docker login`/image-login stored.
 */
export async function pullConfigured(
  config: Pick<Config, 'REGISTRY' | 'REGISTRY_HOST' | 'ECR_ACCOUNT_ID' | 'AWS_REGION' | 'ADMIN_ARN' | 'IMAGE_REPO' | 'APPROVED_TAG'>,
  options: { ref?: string; env: NodeJS.ProcessEnv; log: Writable & { isTTY?: boolean }; retry?: RetryOptions },
): Promise<PullResult> {
  const { env } = options;
  let ref = options.ref;
  let auth: RegistryAuth | undefined;
  if (ref === undefined) {
    if (!config.REGISTRY_HOST) throw usageError('no registry is configured: set REGISTRY=host[:port][/path], or ECR_ACCOUNT_ID and AWS_REGION (or name the image: image-pull REF)');
    if (config.REGISTRY) {
      ref = `${config.REGISTRY}/${config.IMAGE_REPO}:${config.APPROVED_TAG}`;
    } else {
      const { host, auth: fresh } = await configuredRegistry(config, env);
      ref = `${host}/${config.IMAGE_REPO}:${config.APPROVED_TAG}`;
      auth = fresh;
    }
  } else if (!config.REGISTRY && config.REGISTRY_HOST && registryOf(ref) === config.REGISTRY_HOST) {
    auth = (await configuredRegistry(config, env)).auth;
  }
  // Looked up once, not on every retry (a credential helper may run).
  auth ??= registryAuth(ref, env);
  return pullToEngine(await connectEngine(env), ref, { auth, env, log: options.log, retry: options.retry });
}
