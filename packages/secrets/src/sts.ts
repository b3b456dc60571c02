/*
 * AWS credentials for the secrets repository: the SDK's default chain, or an STS AssumeRole of
 * ADMIN_ARN (what the originals did with `aws sts assume-role` and `awsudo $ADMIN_ARN`).
 * The SDK is required inside the functions: the credential helper starts once per git operation.
 */
import { awsClientSettings, awsError, envCredentials, failure, quietly, usageError } from '@imagewright/core';
import type { AssumeRoleCommandOutput, STSClientConfig } from '@aws-sdk/client-sts';
import type { AwsCredentials } from './codecommit';

type StsSdk = typeof import('@aws-sdk/client-sts');

/** ADMIN_ARN's shape: a role in an account (any partition). */
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;

/** Throws a usageError naming `name` unless `arn` is a role ARN. */
export function checkRoleArn(arn: string, name = 'ADMIN_ARN'): void {
  if (!ROLE_ARN.test(arn)) throw usageError(`${name}=${arn}: allowed an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)`);
}

/** STS client settings from `env`: region, the endpoint override, static keys or the profile. */
function stsConfig(env: NodeJS.ProcessEnv): STSClientConfig {
  // STS answers in every region; us-east-1 (the originals' region) when none is configured.
  return awsClientSettings(env, 'STS', env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1');
}

/**
 * The credentials the aws CLI would use with `env`: its keys, else the SDK's default chain
 * (profile, SSO, web identity, container and instance metadata; those read process.env).
 */
export async function defaultCredentials(env: NodeJS.ProcessEnv = process.env): Promise<AwsCredentials> {
  const keys = envCredentials(env);
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
