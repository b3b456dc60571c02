import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { overrideProcessEnv, startEcr, type Ecr } from '@imagewright/testing';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unwrapDataKey, wrapDataKey } from './keys';
import { kmsTimestamp, stsSessionName } from './kms';
import { parseRecipient, recipientsOf, type KmsRecipient } from './recipients';

const LOOPBACK = /^http:\/\/127\.0\.0\.1:\d+$/;
// What the SDK reads from process.env whatever client config it is given: the stand-in's
// (empty config files, no instance metadata), and no outer credentials or profile.
const PROCESS_ENV = ['AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_EC2_METADATA_DISABLED', 'AWS_PROFILE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'];

describe('AWS KMS wrapping of the data key (sops kms/keysource.go), through the stand-in with the unmodified SDK', () => {
  let aws: Ecr;
  let restoreEnv: (() => void) | undefined;
  let dir: string;
  /** The environment a command would run with: the stand-in's endpoints and keys. */
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    aws = await startEcr({});
    if (!LOOPBACK.test(aws.env.AWS_ENDPOINT_URL_KMS) || !LOOPBACK.test(aws.env.AWS_ENDPOINT_URL_STS)) throw new Error('refusing a non-loopback AWS endpoint');
    restoreEnv = overrideProcessEnv({ ...aws.env, AWS_PROFILE: undefined, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined }, PROCESS_ENV);
    dir = mkdtempSync(join(tmpdir(), 'imagewright-kms-'));
    env = { PATH: process.env.PATH, HOME: dir, ...aws.env };
  });
  afterAll(async () => {
    restoreEnv?.();
    await aws?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const kms = (text: string, extra: Partial<KmsRecipient> = {}): KmsRecipient => ({ ...(parseRecipient(text, 'test', 'kms') as KmsRecipient), ...extra });
  const callsSince = (n: number) => aws.calls.slice(n).map((c) => ({ ...c }));

  it('Encrypt of the raw key with the key ARN, Decrypt back; the kms: entry as sops writes it', async () => {
    const arn = aws.createKmsKey();
    const dataKey = randomBytes(32);
    const before = aws.calls.length;
    const started = kmsTimestamp();
    const { keyGroups, shamirThreshold } = await wrapDataKey(dataKey, [[kms(arn)]], undefined, { env });
    expect(shamirThreshold).toBeUndefined();
    const entry = keyGroups[0]!.kms[0]!;
    expect(entry).toEqual({ arn, created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/), enc: expect.stringMatching(/^[A-Za-z0-9+/]+=*$/), aws_profile: '' });
    expect(entry.created_at >= started).toBe(true);
    expect(Buffer.from(entry.enc, 'base64').includes(dataKey)).toBe(false);
    expect((await unwrapDataKey({ keyGroups }, 'prod.yaml', { env })).equals(dataKey)).toBe(true);
    expect(callsSince(before).map((c) => `${c.service} ${c.operation} ${c.keyArn} ${c.error ?? ''}`)).toEqual([`kms Encrypt ${arn} `, `kms Decrypt ${arn} `]);
    expect(JSON.stringify(aws.calls)).not.toContain(dataKey.toString('base64'));
  });

  it('an alias ARN works as a recipient and stays the ARN written', async () => {
    aws.createKmsKey({ alias: 'alias/imagewright-secrets' });
    const alias = `arn:aws:kms:${aws.region}:${aws.accountId}:alias/imagewright-secrets`;
    const dataKey = randomBytes(32);
    const { keyGroups } = await wrapDataKey(dataKey, [[kms(alias)]], undefined, { env });
    expect(keyGroups[0]!.kms[0]!.arn).toBe(alias);
    expect((await unwrapDataKey({ keyGroups }, 'f.yaml', { env })).equals(dataKey)).toBe(true);
  });

  it("a key+role recipient: STS AssumeRole (session sops@<host>) first, KMS with the role's keys; without the role KMS refuses", async () => {
    const role = `arn:aws:iam::${aws.accountId}:role/secrets-admin`;
    const arn = aws.createKmsKey({ allow: [role] });
    const recipient = kms(`${arn}+${role}`);
    expect(recipient).toEqual({ type: 'kms', arn, role });
    const dataKey = randomBytes(32);
    const before = aws.calls.length;
    const { keyGroups } = await wrapDataKey(dataKey, [[recipient]], undefined, { env });
    expect(keyGroups[0]!.kms[0]).toMatchObject({ arn, role });
    expect((await unwrapDataKey({ keyGroups }, 'f.yaml', { env })).equals(dataKey)).toBe(true);
    const calls = callsSince(before);
    expect(calls.map((c) => `${c.service} ${c.operation}`)).toEqual(['sts AssumeRole', 'kms Encrypt', 'sts AssumeRole', 'kms Decrypt']);
    expect(calls[0]).toMatchObject({ roleArn: role, roleSessionName: stsSessionName(), accessKeyId: aws.env.AWS_ACCESS_KEY_ID });
    expect(calls[1]!.accessKeyId).toBe(calls[0]!.issuedAccessKeyId);
    expect(calls[3]!.accessKeyId).toBe(calls[2]!.issuedAccessKeyId);

    const { role: _dropped, ...noRole } = keyGroups[0]!.kms[0]!;
    const denied = await unwrapDataKey({ keyGroups: [{ age: [], kms: [noRole], other: {} }] }, 'f.yaml', { env }).catch((e: Error) => e);
    expect(denied).toMatchObject({ exitCode: 1 });
    expect((denied as Error).message).toMatch(new RegExp(`^f\\.yaml: cannot get its data key: KMS key ${arn}: Decrypt: AccessDeniedException: `));
  });

  it('sops session names: sops@ + the host stripped with sops\' character class, 64 characters at most', () => {
    expect(stsSessionName('build-host.example.org')).toBe('sops@buildhost.example.org'); // '-' is outside sops' class ('@-_' is a range)
    expect(stsSessionName('x'.repeat(80))).toBe(`sops@${'x'.repeat(59)}`);
  });

  it('an encryption context is bound: written in the entry, sent again on Decrypt; another context is InvalidCiphertextException', async () => {
    const arn = aws.createKmsKey();
    const context = { deployment: 'tike', environment: 'prod' };
    const dataKey = randomBytes(32);
    const before = aws.calls.length;
    const { keyGroups } = await wrapDataKey(dataKey, [[kms(arn, { context })]], undefined, { env });
    expect(keyGroups[0]!.kms[0]!.context).toEqual(context);
    expect((await unwrapDataKey({ keyGroups }, 'f.yaml', { env })).equals(dataKey)).toBe(true);
    expect(callsSince(before).map((c) => c.encryptionContext)).toEqual([context, context]);
    expect(recipientsOf({ keyGroups })).toEqual([[{ type: 'kms', arn, context }]]);

    const changed = { ...keyGroups[0]!.kms[0]!, context: { ...context, environment: 'dev' } };
    const error = await unwrapDataKey({ keyGroups: [{ age: [], kms: [changed], other: {} }] }, 'f.yaml', { env }).catch((e: Error) => e);
    expect((error as Error).message).toContain(`KMS key ${arn}: Decrypt: InvalidCiphertextException`);
  });

  it('aws_profile is honoured: the profile\'s credentials are used even when the environment has other keys', async () => {
    const arn = aws.createKmsKey();
    const credentials = join(dir, 'credentials');
    writeFileSync(credentials, `[secrets]\naws_access_key_id = ${aws.env.AWS_ACCESS_KEY_ID}\naws_secret_access_key = ${aws.env.AWS_SECRET_ACCESS_KEY}\n`);
    const restore = overrideProcessEnv({ AWS_SHARED_CREDENTIALS_FILE: credentials }, ['AWS_SHARED_CREDENTIALS_FILE']);
    try {
      // Keys the stand-in does not know: used, they would fail (UnrecognizedClientException).
      const otherKeys = { ...env, AWS_ACCESS_KEY_ID: 'AKIAUNKNOWN000000000', AWS_SECRET_ACCESS_KEY: 'nope' };
      const dataKey = randomBytes(32);
      const { keyGroups } = await wrapDataKey(dataKey, [[kms(arn, { awsProfile: 'secrets' })]], undefined, { env: otherKeys });
      expect(keyGroups[0]!.kms[0]!.aws_profile).toBe('secrets');
      expect((await unwrapDataKey({ keyGroups }, 'f.yaml', { env: otherKeys })).equals(dataKey)).toBe(true);
      // Without the profile the environment's keys are used, and refused.
      const plain = { ...keyGroups[0]!.kms[0]!, aws_profile: '' };
      const refused = await unwrapDataKey({ keyGroups: [{ age: [], kms: [plain], other: {} }] }, 'f.yaml', { env: otherKeys }).catch((e: Error) => e);
      expect((refused as Error).message).toContain('UnrecognizedClientException');
    } finally {
      restore();
    }
  });

  it('an unknown key: a failure naming the file, the key and NotFoundException; no credentials at all: a usageError', async () => {
    const missing = `arn:aws:kms:${aws.region}:${aws.accountId}:key/00000000-0000-4000-8000-000000000000`;
    const error = await wrapDataKey(randomBytes(32), [[kms(missing)]], undefined, { env }).catch((e: Error) => e);
    expect(error).toMatchObject({ exitCode: 1 });
    expect((error as Error).message).toBe(`KMS key ${missing}: Encrypt: NotFoundException: Key '${missing}' does not exist`);
    const bare = { PATH: process.env.PATH, HOME: dir, AWS_ENDPOINT_URL_KMS: aws.env.AWS_ENDPOINT_URL_KMS };
    const none = await wrapDataKey(randomBytes(32), [[kms(missing)]], undefined, { env: bare }).catch((e: Error) => e);
    expect(none).toMatchObject({ exitCode: 2 });
    expect((none as Error).message).toMatch(/no AWS credentials/);
  });

  it('key groups mixing age and KMS: Shamir shares, any `threshold` groups open the file; fewer fail naming each group; no KMS call once enough age groups opened', async () => {
    const identities = [await generateX25519Identity(), await generateX25519Identity()];
    const recipients = await Promise.all(identities.map((i) => identityToRecipient(i)));
    const arn = aws.createKmsKey();
    const dataKey = randomBytes(32);
    const groups = [[parseRecipient(recipients[0]!, 'test')], [parseRecipient(recipients[1]!, 'test')], [kms(arn)]];
    const metadata = await wrapDataKey(dataKey, groups, 2, { env });
    expect(metadata.shamirThreshold).toBe(2);
    expect(metadata.keyGroups.map((g) => [g.age.length, g.kms.length])).toEqual([[1, 0], [1, 0], [0, 1]]);
    expect(recipientsOf(metadata)).toEqual(groups);

    let before = aws.calls.length;
    expect((await unwrapDataKey(metadata, 'f.yaml', { env: { ...env, SOPS_AGE_KEY: identities.join('\n') } })).equals(dataKey)).toBe(true);
    expect(callsSince(before)).toEqual([]);
    for (const identity of identities) {
      before = aws.calls.length;
      expect((await unwrapDataKey(metadata, 'f.yaml', { env: { ...env, SOPS_AGE_KEY: identity } })).equals(dataKey)).toBe(true);
      expect(callsSince(before).map((c) => c.operation)).toEqual(['Decrypt']);
    }
    const noKms = { ...env, AWS_ENDPOINT_URL_KMS: 'http://127.0.0.1:1', AWS_ENDPOINT_URL: 'http://127.0.0.1:1' };
    const short = await unwrapDataKey(metadata, 'f.yaml', { env: { ...noKms, SOPS_AGE_KEY: identities[0]! } }).catch((e: Error) => e);
    expect(short).toMatchObject({ exitCode: 1 });
    expect((short as Error).message).toMatch(/^f\.yaml: cannot get its data key: 1 of 3 key groups opened, 2 needed: group 1: none of the 1 identity found fits .* \| group 2: KMS key arn:aws:kms:\S+: Decrypt: /);
    expect((short as Error).message).not.toContain('AGE-SECRET-KEY');

    // Threshold 3 of 3: every group is needed.
    const all = await wrapDataKey(dataKey, groups, undefined, { env });
    expect(all.shamirThreshold).toBe(3);
    const two = await unwrapDataKey(all, 'f.yaml', { env: { ...noKms, SOPS_AGE_KEY: identities.join('\n') } }).catch((e: Error) => e);
    expect((two as Error).message).toMatch(/2 of 3 key groups opened, 3 needed/);
    expect((await unwrapDataKey(all, 'f.yaml', { env: { ...env, SOPS_AGE_KEY: identities.join('\n') } })).equals(dataKey)).toBe(true);
  });
  it('age is tried before KMS in a group (no KMS call when an identity fits); SOPS_DECRYPTION_ORDER=kms,age turns that round', async () => {
    const identity = await generateX25519Identity();
    const arn = aws.createKmsKey();
    const dataKey = randomBytes(32);
    const { keyGroups } = await wrapDataKey(dataKey, [[kms(arn), parseRecipient(await identityToRecipient(identity), 'test')]], undefined, { env });
    let before = aws.calls.length;
    expect((await unwrapDataKey({ keyGroups }, 'f.yaml', { env: { ...env, SOPS_AGE_KEY: identity } })).equals(dataKey)).toBe(true);
    expect(callsSince(before)).toEqual([]);
    before = aws.calls.length;
    expect((await unwrapDataKey({ keyGroups }, 'f.yaml', { env: { ...env, SOPS_AGE_KEY: identity, SOPS_DECRYPTION_ORDER: 'kms,age' } })).equals(dataKey)).toBe(true);
    expect(callsSince(before).map((c) => c.operation)).toEqual(['Decrypt']);
    const twice = await unwrapDataKey({ keyGroups }, 'f.yaml', { env: { ...env, SOPS_DECRYPTION_ORDER: 'age,age' } }).catch((e: Error) => e);
    expect(twice).toMatchObject({ exitCode: 2 });
  });
});
