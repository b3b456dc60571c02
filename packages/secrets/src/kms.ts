/*
 * The data key (or its Shamir share) wrapped by AWS KMS, as sops' kms/keysource.go does: Encrypt
 * and Decrypt of the raw bytes with the key's ARN and encryption context, in the ARN's region,
 * with the key's aws_profile when it has one, after an STS AssumeRole of its role when it has one.
 */
import { hostname } from 'node:os';
import { awsClientSettings, awsError, failure, quietly, usageError } from '@imagewright/core';
import type { KMSClientConfig } from '@aws-sdk/client-kms';
import type { STSClientConfig } from '@aws-sdk/client-sts';
import type { AwsCredentials } from './codecommit';
import type { KmsKey } from './metadata';
import { KMS_ARN, type KmsRecipient } from './recipients';

type KmsSdk = typeof import('@aws-sdk/client-kms');
type StsSdk = typeof import('@aws-sdk/client-sts');

/** sops' STS session name: sops@<hostname>, stripped with sops' own character class, at most 64 characters. */
export function stsSessionName(host = hostname()): string {
  // The same class as sops' stsSessionRegex, '@-_' range included, so the same names come out.
  return `sops@${host.replace(/[^a-zA-Z0-9=,.@-_]+/g, '')}`.slice(0, 64);
}

/** created_at as sops writes it: RFC 3339 in UTC, whole seconds. */
export function kmsTimestamp(date = new Date()): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

interface KmsTarget {
  arn: string;
  role?: string;
  context?: Record<string, string>;
  awsProfile?: string;
}

/** Client settings as sops gets them: the ARN's region; aws_profile, else the keys or AWS_PROFILE in `env`; the endpoint override. */
function clientConfig(key: KmsTarget, env: NodeJS.ProcessEnv, service: 'KMS' | 'STS'): KMSClientConfig & STSClientConfig {
  const region = KMS_ARN.exec(key.arn)?.[1];
  if (!region) throw usageError(`KMS key ${JSON.stringify(key.arn)}: no valid ARN (allowed arn:aws:kms:<region>:<account>:key/<id> or …:alias/<name>)`);
  const config: KMSClientConfig & STSClientConfig = awsClientSettings(env, service, region);
  // A key's own profile wins over credentials in the environment, as in sops (SharedConfigProfile).
  if (key.awsProfile) {
    delete config.credentials;
    config.profile = key.awsProfile;
  }
  return config;
}

/** A KMS client for `key`: with the role's temporary credentials when it has a role. */
async function kmsClient(key: KmsTarget, env: NodeJS.ProcessEnv) {
  const { KMSClient } = require('@aws-sdk/client-kms') as KmsSdk;
  const config = clientConfig(key, env, 'KMS');
  if (key.role) {
    const { STSClient, AssumeRoleCommand } = require('@aws-sdk/client-sts') as StsSdk;
    const sts = quietly(() => new STSClient(clientConfig(key, env, 'STS')));
    let credentials: AwsCredentials;
    try {
      const out = await sts.send(new AssumeRoleCommand({ RoleArn: key.role, RoleSessionName: stsSessionName() }));
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error('no credentials in the answer');
      credentials = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}), ...(c.Expiration ? { expiration: c.Expiration } : {}) };
    } catch (error) {
      throw awsError(`KMS key ${key.arn}: STS AssumeRole ${key.role}`, error);
    } finally {
      sts.destroy();
    }
    delete config.profile;
    config.credentials = credentials;
  }
  return quietly(() => new KMSClient(config));
}

/** `dataKey` encrypted by KMS key `recipient`: the `kms:` entry sops writes for it. */
export async function kmsWrap(dataKey: Uint8Array, recipient: KmsRecipient, env: NodeJS.ProcessEnv = process.env): Promise<KmsKey> {
  const { EncryptCommand } = require('@aws-sdk/client-kms') as KmsSdk;
  const client = await kmsClient(recipient, env);
  const createdAt = kmsTimestamp();
  try {
    const out = await client.send(new EncryptCommand({ KeyId: recipient.arn, Plaintext: dataKey, EncryptionContext: recipient.context ?? {} }));
    if (!out.CiphertextBlob) throw new Error('no CiphertextBlob in the answer');
    return {
      arn: recipient.arn,
      ...(recipient.role ? { role: recipient.role } : {}),
      ...(recipient.context && Object.keys(recipient.context).length ? { context: { ...recipient.context } } : {}),
      created_at: createdAt,
      enc: Buffer.from(out.CiphertextBlob).toString('base64'),
      aws_profile: recipient.awsProfile ?? '',
    };
  } catch (error) {
    throw awsError(`KMS key ${recipient.arn}: Encrypt`, error);
  } finally {
    client.destroy();
  }
}

/** The bytes a `kms:` entry holds: KMS Decrypt with its ARN and context. */
export async function kmsUnwrap(key: KmsKey, env: NodeJS.ProcessEnv = process.env): Promise<Buffer> {
  const { DecryptCommand } = require('@aws-sdk/client-kms') as KmsSdk;
  const blob = Buffer.from(key.enc, 'base64');
  if (blob.length === 0 || blob.toString('base64') !== key.enc.replace(/\s+/g, '')) throw failure(`KMS key ${key.arn}: its enc is not base64`);
  const target: KmsTarget = { arn: key.arn, ...(key.role ? { role: key.role } : {}), ...(key.aws_profile ? { awsProfile: key.aws_profile } : {}) };
  const client = await kmsClient(target, env);
  try {
    const out = await client.send(new DecryptCommand({ KeyId: key.arn, CiphertextBlob: blob, EncryptionContext: key.context ?? {} }));
    if (!out.Plaintext) throw new Error('no Plaintext in the answer');
    return Buffer.from(out.Plaintext);
  } catch (error) {
    throw awsError(`KMS key ${key.arn}: Decrypt`, error);
  } finally {
    client.destroy();
  }
}
