/*
 * What every AWS SDK caller here does the same way: client settings from the environment as the
 * SDK and the aws CLI read it, the SDK's Node-version notice kept out of our output, and SDK errors
 * as one line. No SDK import: core does not depend on it; callers require their client lazily.
 */
import { failure, usageError, type ImagewrightError } from './errors';

/** Long-term or temporary keys, as the SDK's `credentials` setting takes them. */
export interface AwsKeys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** The settings a client of any service takes from `env` (a subset of every SDK client config). */
export interface AwsClientSettings {
  region: string;
  endpoint?: string;
  credentials?: AwsKeys;
  profile?: string;
}

/**
 * Builds an SDK client without its Node-version notice: on Node < 22 the SDK's client constructor
 * calls process.emitWarning('NodeVersionSupportWarning: …') once per process, which would land in
 * our output (and in git's, for the credential helper). Only that warning is dropped, and only
 * while `make` runs; every other warning goes through.
 */
export function quietly<T>(make: () => T): T {
  const emit = process.emitWarning;
  process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]) {
    const text = typeof warning === 'string' ? warning : warning?.message;
    if (typeof text === 'string' && text.startsWith('NodeVersionSupportWarning')) return;
    return (emit as (...args: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    return make();
  } finally {
    process.emitWarning = emit;
  }
}

/**
 * The endpoint the SDK would take from `env` for `service` (its documented variables):
 * AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL; none when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true.
 */
export function awsEndpoint(env: NodeJS.ProcessEnv, service: string): string | undefined {
  if (env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === 'true') return undefined;
  return env[`AWS_ENDPOINT_URL_${service.toUpperCase()}`] || env.AWS_ENDPOINT_URL || undefined;
}

/** AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) from `env`, when both keys are set. */
export function envCredentials(env: NodeJS.ProcessEnv): AwsKeys | undefined {
  if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY) return undefined;
  return { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) };
}

/**
 * A client's settings for `service` in `region` from `env`: the endpoint override, the keys in
 * `env`, else AWS_PROFILE (without either, the SDK's default chain reads process.env).
 */
export function awsClientSettings(env: NodeJS.ProcessEnv, service: string, region: string): AwsClientSettings {
  const settings: AwsClientSettings = { region };
  const endpoint = awsEndpoint(env, service);
  if (endpoint) settings.endpoint = endpoint;
  const keys = envCredentials(env);
  if (keys) settings.credentials = keys;
  else if (env.AWS_PROFILE) settings.profile = env.AWS_PROFILE;
  return settings;
}

/** Whether an SDK error says no credentials were found (the caller's to fix, not AWS's answer). */
export function isCredentialsError(error: unknown): boolean {
  const name = (error as { name?: unknown } | null | undefined)?.name;
  return name === 'CredentialsProviderError' || name === 'TokenProviderError';
}

/**
 * An SDK error as one line after `what`: missing credentials are a usage error saying how to give
 * them; anything else a failure with AWS's error code and message. `scrub` sees the whole line
 * last (to mask secrets AWS may echo).
 */
export function awsError(what: string, error: unknown, scrub: (line: string) => string = (line) => line): ImagewrightError {
  const e = error as { name?: string; code?: string; message?: string } | null | undefined;
  const text = oneLine(e?.message ?? String(error));
  if (isCredentialsError(error)) {
    return usageError(scrub(`${what}: no AWS credentials (${text}): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, as for the aws CLI`));
  }
  const code = e?.name && e.name !== 'Error' ? e.name : (e?.code ?? 'Error');
  return failure(scrub(`${what}: ${code}${text ? `: ${text}` : ''}`));
}

const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();
