/*
 * AWS credentials for the secrets repository: the SDK's default chain, or an STS AssumeRole of
 * ADMIN_ARN (what the originals did with `aws sts assume-role` and `awsudo $ADMIN_ARN`).
 * The SDK is required inside the functions: the credential helper starts once per git operation.
 */
import { failure, usageError, type ImagewrightError } from '@imagewright/core';
import type { AssumeRoleCommandOutput, STSClientConfig } from '@aws-sdk/client-sts';
import type { AwsCredentials } from './codecommit';

type StsSdk = typeof import('@aws-sdk/client-sts');

/** ADMIN_ARN's shape: a role in an account (any partition). */
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;

/** Throws a usageError naming `name` unless `arn` is a role ARN. */
export function checkRoleArn(arn: string, name = 'ADMIN_ARN'): void {
  if (!ROLE_ARN.test(arn)) throw usageError(`${name}=${arn}: allowed an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)`);
}

/**
 * Builds an SDK client without its Node-version notice (the same guard as @imagewright/registry's
 * ecr.ts, which does not export it): on Node < 22 the SDK's client constructor emits
 * 'NodeVersionSupportWarning: …' once per process, which would land in git's output here.
 */
function quietly<T>(make: () => T): T {
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

/** STS client settings from `env`: region, the endpoint override, static keys or the profile. */
function stsConfig(env: NodeJS.ProcessEnv): STSClientConfig {
  // STS answers in every region; us-east-1 (the originals' region) when none is configured.
  const config: STSClientConfig = { region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1' };
  if (env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() !== 'true') {
    const endpoint = env.AWS_ENDPOINT_URL_STS || env.AWS_ENDPOINT_URL;
    if (endpoint) config.endpoint = endpoint;
  }
  const keys = staticCredentials(env);
  if (keys) config.credentials = keys;
  else if (env.AWS_PROFILE) config.profile = env.AWS_PROFILE;
  return config;
}

/** AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) from `env`, when both keys are set. */
function staticCredentials(env: NodeJS.ProcessEnv): AwsCredentials | undefined {
  if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY) return undefined;
  return { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) };
}

/** An SDK error as one line; missing credentials are the caller's to fix (usage). */
function awsError(what: string, error: unknown): ImagewrightError {
  const e = error as { name?: string; code?: string; message?: string };
  if (e?.name === 'CredentialsProviderError' || e?.name === 'TokenProviderError') {
    return usageError(`${what}: no AWS credentials (${oneLine(e.message)}): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, as for the aws CLI`);
  }
  const code = e?.name && e.name !== 'Error' ? e.name : (e?.code ?? 'Error');
  return failure(`${what}: ${code}: ${oneLine(e?.message ?? String(error))}`);
}

const oneLine = (text = '') => text.replace(/\s+/g, ' ').trim();

/**
 * The credentials the aws CLI would use with `env`: its keys, else the SDK's default chain
 * (profile, SSO, web identity, container and instance metadata; those read process.env).
 */
export async function defaultCredentials(env: NodeJS.ProcessEnv = process.env): Promise<AwsCredentials> {
  const keys = staticCredentials(env);
  if (keys) return keys;
  const { STSClient } = require('@aws-sdk/client-sts') as StsSdk;
  const client = quietly(() => new STSClient(stsConfig(env)));
  try {
    const c = await client.config.credentials();
    return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, ...(c.sessionToken ? { sessionToken: c.sessionToken } : {}), ...(c.expiration ? { expiration: c.expiration } : {}) };
  } catch (error) {
    throw awsError('AWS credentials', error);
  } finally {
    client.destroy();
  }
}

/** STS AssumeRole of `roleArn` with the credentials `env` gives: the role's temporary credentials. */
export async function assumeRole(roleArn: string, env: NodeJS.ProcessEnv = process.env, sessionName = 'clone'): Promise<AwsCredentials> {
  checkRoleArn(roleArn);
  const { STSClient, AssumeRoleCommand } = require('@aws-sdk/client-sts') as StsSdk;
  const client = quietly(() => new STSClient(stsConfig(env)));
  let out: AssumeRoleCommandOutput;
  try {
    out = await client.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: sessionName }));
  } catch (error) {
    throw awsError(`STS AssumeRole ${roleArn}`, error);
  } finally {
    client.destroy();
  }
  const c = out.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) throw failure(`STS AssumeRole ${roleArn}: no credentials in the answer`);
  return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, ...(c.Expiration ? { expiration: c.Expiration } : {}) };
}
