import { type Config, failure, usageError } from '@imagewright/core';
import { credentialKey, storeCredential, type StoredIn } from './credentials';
import { openRegistry, type EcrLogin } from './open';
import type { Credentials, Registry } from './registry';

export interface LoginResult {
  /** The host the credential is stored for (ECR: the token's proxy endpoint). */
  registry: string;
  /** Who we are to the registry: the username, or the AWS identity for ECR. Never a secret. */
  identity: string;
  storedIn: StoredIn;
}

type LoginConfig = Pick<Config, 'REGISTRY' | 'REGISTRY_HOST' | 'ECR_ACCOUNT_ID' | 'AWS_REGION' | 'ADMIN_ARN'>;

/** The ECR side of a registry (EcrRegistry): a fresh token, as `aws ecr get-login-password`. */
export function ecrLogin(registry: Registry): Promise<EcrLogin> {
  return (registry as Registry & { login(): Promise<EcrLogin> }).login();
}

/**
 * Checks basic credentials against a registry before they are stored, as `docker login` does:
 * GET /v2/ with them and, where the registry answers with a bearer challenge (Docker Hub,
 * ghcr.io, ...), the token request at its realm. Scheme and challenges as DistributionRegistry
 * reads them (plain HTTP for loopback and IMAGEWRIGHT_INSECURE_REGISTRIES). Refused credentials
 * or another answer are one line naming the registry and the HTTP status (exit 1).
 */
export async function checkCredentials(registry: string, credentials: Credentials, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { chooseChallenge, parseChallenges, schemeFor } = require('./distribution-auth') as typeof import('./distribution-auth');
  const host = registry.replace(/^https?:\/\//, '').split('/')[0];
  const authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
  const get = async (url: URL) => {
    try {
      const res = await fetch(url, { headers: { authorization, 'user-agent': 'imagewright' } });
      await res.arrayBuffer();
      return res;
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw failure(`cannot reach registry ${host} (${url.origin}): ${cause?.code ?? cause?.message ?? (error as Error).message}`);
    }
  };
  const base = new URL(`${schemeFor(host, env)}//${host}/v2/`);
  let res = await get(base);
  const challenge = res.status === 401 ? chooseChallenge(parseChallenges(res.headers.get('www-authenticate') ?? undefined)) : undefined;
  if (challenge?.scheme === 'bearer') {
    const realm = new URL(challenge.params.realm);
    // Credentials go to a token service only over https (or where the registry itself is plain HTTP).
    if (realm.protocol !== 'https:' && schemeFor(realm.host, env) !== 'http:') throw failure(`registry ${host}: the token realm ${realm.origin} is not https`);
    if (challenge.params.service) realm.searchParams.set('service', challenge.params.service);
    realm.searchParams.set('account', credentials.username);
    res = await get(realm);
  }
  if (res.ok) return;
  const status = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
  if (res.status === 401 || res.status === 403) throw failure(`registry ${host} refused the credentials of ${JSON.stringify(credentials.username)}: ${status}`);
  throw failure(`registry ${host} answered the login check (GET /v2/) with ${status}`);
}

/**
 * `docker login` for the configured registry, storing the credential where the docker CLI and
 * the Engine-facing commands find it. ECR: an authorization token (the SDK's credential chain,
 * ADMIN_ARN assumed when set) stored as AWS/<token> for the token's host; any other registry:
 * the given username and password, checked against it first.
 */
export async function login(config: LoginConfig, options: { username?: string; password?: string; env?: NodeJS.ProcessEnv }): Promise<LoginResult> {
  const env = options.env ?? process.env;
  if (!config.REGISTRY) {
    const registry = openRegistry(config, env); // ECR, or the usage error naming what to set
    if (options.username !== undefined || options.password !== undefined) {
      throw usageError(`--username/--password-stdin are for REGISTRY logins: ECR (ECR_ACCOUNT_ID=${config.ECR_ACCOUNT_ID}) logs in with the AWS credentials of the SDK's default chain`);
    }
    const token = await ecrLogin(registry);
    return { registry: token.host, identity: token.identity, storedIn: storeCredential(token.host, token.credentials, env) };
  }
  const host = config.REGISTRY;
  if (options.username === undefined) throw usageError(`--username is missing: REGISTRY=${host} logs in with --username USER --password-stdin`);
  if (options.username === '' || options.username.includes(':')) throw usageError(`--username ${JSON.stringify(options.username)}: allowed a non-empty name without ":"`);
  if (options.password === undefined) throw usageError('--password-stdin is missing: give the password on standard input (never on the command line)');
  const credentials = { username: options.username, password: options.password };
  await checkCredentials(host, credentials, env);
  const key = credentialKey(host);
  return { registry: key === 'https://index.docker.io/v1/' ? 'docker.io' : key, identity: options.username, storedIn: storeCredential(host, credentials, env) };
}

/**
 * The password of --password-stdin, as `docker login` reads it: all of stdin, one trailing
 * newline (\n or \r\n) dropped. More than one line or an empty one is a usage error.
 */
export function passwordFromStdin(text: string): string {
  const password = text.replace(/\r?\n$/, '');
  if (password === '') throw usageError('--password-stdin: standard input is empty: allowed the password on one line');
  if (/[\r\n]/.test(password)) throw usageError('--password-stdin: standard input has more than one line: allowed the password on one line');
  return password;
}
