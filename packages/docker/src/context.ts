import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { usageError } from '@imagewright/core';

/** The built-in context: DOCKER_HOST (with DOCKER_TLS_VERIFY/DOCKER_CERT_PATH), else the local socket. */
export const DEFAULT_CONTEXT = 'default';

/** $DOCKER_CONFIG, default ~/.docker: config.json and the context store live there. */
export function dockerConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CONFIG || join(homedir(), '.docker');
}

/** A context's folder in the store, as the docker CLI names it: the sha256 hex of the name. */
export function contextId(name: string): string {
  // Loaded here: only a named context needs it, and bins' start-up is measured.
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  return createHash('sha256').update(name).digest('hex');
}

/** Which context applies, and what chose it (for messages). */
export interface ContextChoice {
  name: string;
  /** `DOCKER_HOST`, `DOCKER_CONTEXT`, `currentContext in …/config.json`, or undefined when nothing chose. */
  from?: string;
}

/** A JSON parse error on one line: Node quotes the offending text, newlines and all. */
const jsonError = (error: unknown) => (error as Error).message.replace(/\s+/g, ' ');

/**
 * The context name as the docker CLI resolves it (cli/command/cli.go resolveContextName): DOCKER_HOST
 * set means the default context; then DOCKER_CONTEXT; then currentContext in config.json. An empty
 * variable counts as unset. config.json is read only when it decides.
 */
export function chooseContext(env: NodeJS.ProcessEnv = process.env): ContextChoice {
  if (env.DOCKER_HOST) return { name: DEFAULT_CONTEXT, from: 'DOCKER_HOST' };
  if (env.DOCKER_CONTEXT) return { name: env.DOCKER_CONTEXT, from: 'DOCKER_CONTEXT' };
  const file = join(dockerConfigDir(env), 'config.json');
  if (!existsSync(file)) return { name: DEFAULT_CONTEXT };
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    // The docker CLI warns and carries on with the default; we refuse rather than guess the engine.
    throw usageError(`${file}: not valid JSON (${jsonError(error)})`);
  }
  const current = (config as { currentContext?: unknown } | null)?.currentContext;
  if (current !== undefined && typeof current !== 'string') throw usageError(`${file}: currentContext must be a context name, not ${JSON.stringify(current)}`);
  // `docker context use default` stores "" (or removes the key).
  return current ? { name: current, from: `currentContext in ${file}` } : { name: DEFAULT_CONTEXT };
}

/** A stored context's docker endpoint (meta.json's Endpoints.docker). */
export interface DockerContext {
  name: string;
  /** Endpoints.docker.Host; empty means the local socket, as in the docker CLI. */
  host: string;
  skipTLSVerify: boolean;
  /** contexts/tls/<id>/docker: whichever of ca.pem, cert.pem, key.pem the context was given. */
  tlsDir: string;
}

const named = (choice: ContextChoice) => `context "${choice.name}"${choice.from ? ` (from ${choice.from})` : ''}`;

/** The names `docker context ls` shows: default, then the stored ones (unreadable ones skipped). */
export function contextNames(env: NodeJS.ProcessEnv = process.env): string[] {
  const meta = join(dockerConfigDir(env), 'contexts', 'meta');
  const names: string[] = [];
  for (const id of existsSync(meta) ? readdirSync(meta) : []) {
    try {
      const name = (JSON.parse(readFileSync(join(meta, id, 'meta.json'), 'utf8')) as { Name?: unknown }).Name;
      if (typeof name === 'string' && name) names.push(name);
    } catch {
      /* not a context folder, or a broken one: listing is only for the error message */
    }
  }
  return [DEFAULT_CONTEXT, ...names.sort()];
}

/**
 * A named context from the store ($DOCKER_CONFIG/contexts/meta/<sha256 of name>/meta.json). Unknown
 * or malformed: one line naming the context, what chose it and, when unknown, the ones that exist.
 */
export function readContext(choice: ContextChoice, env: NodeJS.ProcessEnv = process.env): DockerContext {
  const store = join(dockerConfigDir(env), 'contexts');
  const id = contextId(choice.name);
  const file = join(store, 'meta', id, 'meta.json');
  if (!existsSync(file)) throw usageError(`${named(choice)} not found in ${store}: allowed ${contextNames(env).join(', ')}`);
  let meta: { Endpoints?: { docker?: { Host?: unknown; SkipTLSVerify?: unknown } } };
  try {
    meta = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw usageError(`${named(choice)}: ${file} is not valid JSON (${jsonError(error)})`);
  }
  const docker = meta?.Endpoints?.docker;
  if (!docker || typeof docker !== 'object') throw usageError(`${named(choice)}: ${file} has no docker endpoint (Endpoints.docker)`);
  if (docker.Host !== undefined && typeof docker.Host !== 'string') throw usageError(`${named(choice)}: ${file} has a non-text Endpoints.docker.Host`);
  return { name: choice.name, host: docker.Host ?? '', skipTLSVerify: docker.SkipTLSVerify === true, tlsDir: join(store, 'tls', id, 'docker') };
}

/** The context's TLS material; undefined when it has none (then tcp:// is plain HTTP, as in the CLI). */
export function contextTls(context: DockerContext): { ca?: Buffer; cert?: Buffer; key?: Buffer } | undefined {
  const read = (name: string) => (existsSync(join(context.tlsDir, name)) ? readFileSync(join(context.tlsDir, name)) : undefined);
  const material = { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') };
  return material.ca || material.cert || material.key ? material : undefined;
}
