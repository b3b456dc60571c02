import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { usageError } from '@imagewright/core';
import type { Engine } from './client';
import { dockerConfigDir } from './context';
import { followProgress, ProgressRenderer } from './progress';

export interface RegistryAuth {
  username: string;
  password: string;
  serveraddress: string;
}

/** The registry host of an image reference ("docker.io" when it names none), as docker parses it. */
export function registryOf(ref: string): string {
  const first = ref.split('/')[0];
  const named = ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  return named ? first : 'docker.io';
}

/**
 * Credentials for a registry the way the docker CLI finds them after `docker login`:
 * $DOCKER_CONFIG/config.json (default ~/.docker), a credential helper (credHelpers[host] or
 * credsStore, asked through stdin/stdout: no secret on argv), else `auths[host].auth`.
 * Undefined when none are stored (anonymous pull).
 */
export function registryAuth(ref: string, env: NodeJS.ProcessEnv = process.env): RegistryAuth | undefined {
  return hostAuth(registryOf(ref), env);
}

/** The same lookup for a registry host (host[:port]) rather than an image reference. */
export function hostAuth(host: string, env: NodeJS.ProcessEnv = process.env): RegistryAuth | undefined {
  const file = join(dockerConfigDir(env), 'config.json');
  if (!existsSync(file)) return undefined;
  let config: { auths?: Record<string, { auth?: string }>; credsStore?: string; credHelpers?: Record<string, string> };
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw usageError(`${file}: not valid JSON (${(error as Error).message})`);
  }
  const keys = host === 'docker.io' ? ['https://index.docker.io/v1/', 'docker.io', 'index.docker.io'] : [host, `https://${host}`, `http://${host}`];
  const helper = config.credHelpers?.[host] ?? config.credsStore;
  if (helper) {
    try {
      const answer = execFileSync(`docker-credential-${helper}`, ['get'], { input: keys[0], env, encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'] });
      const { Username, Secret } = JSON.parse(answer) as { Username: string; Secret: string };
      return { username: Username, password: Secret, serveraddress: host };
    } catch {
      // Not in the store: fall back to config.json, as the CLI does for hosts the helper lacks.
    }
  }
  for (const key of keys) {
    const auth = config.auths?.[key]?.auth;
    if (!auth) continue;
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), serveraddress: host };
  }
  return undefined;
}

/**
 * The one pull: `docker login`'s credentials for the image's registry, progress drawn on `log`
 * as the docker CLI draws it. Errors are the Engine's (callers say what the pull was for).
 */
export async function pullImage(
  engine: Engine,
  ref: string,
  options: { log?: Writable & { isTTY?: boolean }; platform?: string; auth?: RegistryAuth; env?: NodeJS.ProcessEnv } = {},
): Promise<void> {
  const log = options.log ?? process.stderr;
  // `auth` for credentials docker login did not store (a fresh ECR token).
  const authconfig = options.auth ?? registryAuth(ref, options.env);
  const stream = await engine.pull(ref, { ...(authconfig ? { authconfig } : {}), ...(options.platform ? { platform: options.platform } : {}) });
  await followProgress(stream as unknown as Readable, new ProgressRenderer(log, Boolean(log.isTTY)));
}
