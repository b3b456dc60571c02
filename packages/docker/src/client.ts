import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { usageError } from '@imagewright/core';
import type Dockerode from 'dockerode';
import { chooseContext, contextTls, DEFAULT_CONTEXT, readContext } from './context';
import { sshAgent } from './ssh';

export type Engine = Dockerode;

/** Where the engine is, chosen the way the docker CLI chooses it (DOCKER_HOST, then contexts). */
export interface EngineAddress {
  /** What was tried, for error messages. */
  url: string;
  /** What chose it, for error messages: `DOCKER_HOST`, `context "remote", from DOCKER_CONTEXT`, … */
  source: string;
  modem: Dockerode.DockerOptions;
}

const DEFAULT_SOCKET = '/var/run/docker.sock';

type TlsMaterial = { ca?: Buffer; cert?: Buffer; key?: Buffer; skipVerify?: boolean };

/** One endpoint, from DOCKER_HOST or a context: both go through `endpointAddress`. */
interface Endpoint {
  host: string;
  source: string;
  /** How to name the host when it is invalid: `DOCKER_HOST=…`, `context "x" (…) host …`. */
  input: string;
  /** TLS for tcp:// (read only then); undefined means plain HTTP. `https` says the scheme demands it. */
  tls(https: boolean): TlsMaterial | undefined;
}

/**
 * Synchronous and cheap (a few small files at most, no dockerode): commands call it before any
 * engine work, and its errors are config errors (exit 2).
 */
export function engineAddress(env: NodeJS.ProcessEnv = process.env): EngineAddress {
  const choice = chooseContext(env);
  if (choice.name === DEFAULT_CONTEXT) {
    const host = env.DOCKER_HOST || `unix://${DEFAULT_SOCKET}`;
    const source = env.DOCKER_HOST ? 'DOCKER_HOST' : choice.from ? `context "${DEFAULT_CONTEXT}", from ${choice.from}` : 'default, DOCKER_HOST unset';
    return endpointAddress({ host, source, input: `DOCKER_HOST=${host}`, tls: (https) => (https || env.DOCKER_TLS_VERIFY ? certPathTls(env) : undefined) }, env);
  }
  const context = readContext(choice, env);
  const host = context.host || `unix://${DEFAULT_SOCKET}`;
  const source = `context "${context.name}", from ${choice.from}`;
  return endpointAddress(
    {
      host,
      source,
      input: `context "${context.name}" (from ${choice.from}) host ${host}`,
      // As the CLI: TLS when the context holds any TLS material or skips verification.
      tls: (https) => {
        const material = contextTls(context);
        return material || context.skipTLSVerify || https ? { ...material, skipVerify: context.skipTLSVerify } : undefined;
      },
    },
    env,
  );
}

/** As the docker CLI: DOCKER_TLS_VERIFY (any non-empty value, even "0") wants all three of DOCKER_CERT_PATH's files. */
function certPathTls(env: NodeJS.ProcessEnv): TlsMaterial {
  const certPath = env.DOCKER_CERT_PATH || join(homedir(), '.docker');
  const read = (name: string) => {
    const file = join(certPath, name);
    if (!existsSync(file)) throw usageError(`DOCKER_CERT_PATH=${certPath} has no ${name}: allowed a folder with ca.pem, cert.pem, key.pem`);
    return readFileSync(file);
  };
  return { ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') };
}

function endpointAddress(endpoint: Endpoint, env: NodeJS.ProcessEnv): EngineAddress {
  const { host, source } = endpoint;
  const invalid = () => usageError(`${endpoint.input} is invalid: allowed unix:///PATH, tcp://HOST:PORT, ssh://[USER@]HOST[:PORT]`);
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    throw invalid();
  }
  switch (url.protocol) {
    case 'unix:':
      return { url: host, source, modem: { socketPath: url.pathname || DEFAULT_SOCKET } };
    case 'tcp:':
    case 'http:':
    case 'https:': {
      const tls = endpoint.tls(url.protocol === 'https:');
      const port = url.port || (tls ? '2376' : '2375');
      if (!tls) return { url: host, source, modem: { protocol: 'http', host: url.hostname, port } };
      const { ca, cert, key, skipVerify } = tls;
      // A client certificate needs both halves (the CLI ignores one without the other); no CA
      // means the system's roots.
      const pair = cert && key ? { cert, key } : {};
      const modem: Dockerode.DockerOptions = { protocol: 'https', host: url.hostname, port, ...(ca ? { ca } : {}), ...pair };
      if (skipVerify) {
        // docker-modem has no option for it: an agent of our own (its options win over the request's).
        const { Agent } = require('node:https') as typeof import('node:https');
        (modem as { agent?: unknown }).agent = new Agent({ rejectUnauthorized: false, ...(ca ? { ca } : {}), ...pair });
      }
      return { url: host, source, modem };
    }
    case 'ssh:':
      // The system ssh, as the docker CLI does (not an in-process SSH client that would skip
      // known_hosts and ~/.ssh/config).
      return {
        url: host,
        source,
        modem: {
          protocol: 'http',
          host: url.hostname,
          agent: sshAgent({ host: url.hostname, port: url.port || undefined, user: decodeURIComponent(url.username) || undefined }, env),
        } as Dockerode.DockerOptions,
      };
    default:
      throw invalid();
  }
}

/** The Engine's own words for a failed API call (its JSON `message`), else the error's message. */
export function engineMessage(error: unknown): string {
  return String((error as { json?: { message?: string } }).json?.message ?? (error as Error).message ?? error).trim();
}

/**
 * The one Docker Engine client factory. dockerode is loaded here, on first use, so commands'
 * --help and config errors never pay for it. The engine is pinged once: an unreachable daemon
 * is one line naming the address tried and what chose it (DOCKER_HOST or a context), exit 2.
 */
export async function connectEngine(env: NodeJS.ProcessEnv = process.env): Promise<Engine> {
  const address = engineAddress(env);
  const Docker = require('dockerode') as typeof Dockerode;
  const engine = new Docker(address.modem);
  try {
    await engine.ping();
  } catch (error) {
    // An errno code says it all for sockets; ssh's failures carry ssh's own words as the message.
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw usageError(`cannot reach the Docker Engine at ${address.url} (${address.source}): ${reason}`);
  }
  return engine;
}
