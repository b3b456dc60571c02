import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { usageError } from '@imagewright/core';
import type Dockerode from 'dockerode';
import { sshAgent } from './ssh';

export type Engine = Dockerode;

/** Where the engine is, as derived from DOCKER_HOST the way the docker CLI reads it. */
export interface EngineAddress {
  /** What was tried, for error messages. */
  url: string;
  modem: Dockerode.DockerOptions;
}

const DEFAULT_SOCKET = '/var/run/docker.sock';

export function engineAddress(env: NodeJS.ProcessEnv = process.env): EngineAddress {
  const host = env.DOCKER_HOST || `unix://${DEFAULT_SOCKET}`;
  const allowed = 'allowed unix:///PATH, tcp://HOST:PORT, ssh://[USER@]HOST[:PORT]';
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    throw usageError(`DOCKER_HOST=${host} is invalid: ${allowed}`);
  }
  switch (url.protocol) {
    case 'unix:':
      return { url: host, modem: { socketPath: url.pathname || DEFAULT_SOCKET } };
    case 'tcp:':
    case 'http:':
    case 'https:': {
      // As the docker CLI: TLS when DOCKER_TLS_VERIFY has any non-empty value (even "0"), certs
      // from DOCKER_CERT_PATH (default ~/.docker).
      const tls = url.protocol === 'https:' || Boolean(env.DOCKER_TLS_VERIFY);
      const port = url.port || (tls ? '2376' : '2375');
      if (!tls) return { url: host, modem: { protocol: 'http', host: url.hostname, port } };
      const certPath = env.DOCKER_CERT_PATH || join(homedir(), '.docker');
      const read = (name: string) => {
        const file = join(certPath, name);
        if (!existsSync(file)) throw usageError(`DOCKER_CERT_PATH=${certPath} has no ${name}: allowed a folder with ca.pem, cert.pem, key.pem`);
        return readFileSync(file);
      };
      return { url: host, modem: { protocol: 'https', host: url.hostname, port, ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') } };
    }
    case 'ssh:':
      // The system ssh, as the docker CLI does (not an in-process SSH client that would skip
      // known_hosts and ~/.ssh/config).
      return {
        url: host,
        modem: {
          protocol: 'http',
          host: url.hostname,
          agent: sshAgent({ host: url.hostname, port: url.port || undefined, user: decodeURIComponent(url.username) || undefined }, env),
        } as Dockerode.DockerOptions,
      };
    default:
      throw usageError(`DOCKER_HOST=${host} is invalid: ${allowed}`);
  }
}

/** The Engine's own words for a failed API call (its JSON `message`), else the error's message. */
export function engineMessage(error: unknown): string {
  return String((error as { json?: { message?: string } }).json?.message ?? (error as Error).message ?? error).trim();
}

/**
 * The one Docker Engine client factory. dockerode is loaded here, on first use, so commands'
 * --help and config errors never pay for it. The engine is pinged once: an unreachable daemon
 * is one line naming the DOCKER_HOST tried, exit 2.
 */
export async function connectEngine(env: NodeJS.ProcessEnv = process.env): Promise<Engine> {
  const address = engineAddress(env);
  const Docker = require('dockerode') as typeof Dockerode;
  const engine = new Docker(address.modem);
  try {
    await engine.ping();
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    const source = env.DOCKER_HOST ? 'DOCKER_HOST' : 'default, DOCKER_HOST unset';
    throw usageError(`cannot reach the Docker Engine at ${address.url} (${source}): ${reason}`);
  }
  return engine;
}
