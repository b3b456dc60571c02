import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { failure, usageError, writeFileAtomic } from '@imagewright/core';
import { dockerConfigDir } from '@imagewright/docker';
import type { Credentials } from './registry';

/** Where a credential went: config.json itself, or the credential helper config.json names. */
export type StoredIn = { file: string } | { helper: string; file: string };

interface DockerConfigFile {
  auths?: Record<string, Record<string, unknown>>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [key: string]: unknown;
}

/**
 * The key a host's credential is stored under, as `docker login` stores it (and as
 * `registryAuth` looks it up): Docker Hub under its legacy index URL, any other registry by
 * host[:port] alone (a REGISTRY path such as ghcr.io/org is not part of it).
 */
export function credentialKey(registry: string): string {
  const host = registry.replace(/^https?:\/\//, '').split('/')[0];
  return ['docker.io', 'index.docker.io', 'registry-1.docker.io'].includes(host) ? 'https://index.docker.io/v1/' : host;
}

function readConfigFile(file: string): DockerConfigFile {
  if (!existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw usageError(`${file}: not valid JSON (${(error as Error).message})`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw usageError(`${file}: allowed a JSON object (docker's config.json)`);
  return parsed as DockerConfigFile;
}

/**
 * Stores a registry credential where the docker CLI and `registryAuth` find it, as `docker login`
 * does: through `docker-credential-<helper> store` when config.json names one for the host
 * (credHelpers[host], else credsStore), the secret on the helper's stdin only; else as
 * `auths[key].auth` in $DOCKER_CONFIG/config.json. The file is rewritten atomically, mode 0600,
 * with every other key kept; with a helper the host's entry there is emptied (no stale
 * plain-text copy), as the docker CLI leaves it.
 */
export function storeCredential(registry: string, credentials: Credentials, env: NodeJS.ProcessEnv = process.env): StoredIn {
  if (!credentials.username || credentials.username.includes(':')) {
    throw usageError(`username ${JSON.stringify(credentials.username)}: allowed a non-empty name without ":"`);
  }
  const dir = dockerConfigDir(env);
  const path = join(dir, 'config.json');
  const config = readConfigFile(path);
  const key = credentialKey(registry);
  const host = key === 'https://index.docker.io/v1/' ? 'docker.io' : key;
  const helper = config.credHelpers?.[key] ?? config.credHelpers?.[host] ?? config.credsStore;
  const auths = { ...(config.auths ?? {}) };
  if (helper) {
    const program = `docker-credential-${helper}`;
    const result = spawnSync(program, ['store'], {
      input: JSON.stringify({ ServerURL: key, Username: credentials.username, Secret: credentials.password }),
      env,
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    if (result.error || result.status !== 0) {
      // A helper's message is shown, but never anything that holds the secret.
      const forms = [credentials.password, JSON.stringify(credentials.password).slice(1, -1), 'Secret'];
      const said = `${result.stdout ?? ''}\n${result.stderr ?? ''}`.split('\n').map((l) => l.trim()).find((l) => l && !forms.some((f) => l.includes(f)));
      const why = result.error ? ((result.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found on PATH' : result.error.message) : `exit ${result.status ?? result.signal}${said ? `: ${said}` : ''}`;
      throw failure(`${program} store for ${key} failed (${why}); config.json names it in ${config.credHelpers?.[key] || config.credHelpers?.[host] ? 'credHelpers' : 'credsStore'} (${path})`);
    }
    auths[key] = {};
  } else {
    auths[key] = { auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64') };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // A symlinked config.json (dotfile managers) is written through, as the docker CLI does.
  const target = existsSync(path) ? realpathSync(path) : path;
  writeFileAtomic(target, `${JSON.stringify({ ...config, auths }, null, '\t')}\n`, 0o600);
  return helper ? { helper: `docker-credential-${helper}`, file: target } : { file: target };
}
