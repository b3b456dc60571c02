import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { awsClientSettings, awsEndpoint, awsError, envCredentials, isCredentialsError, quietly } from './aws';
import { EXIT } from './errors';

describe('quietly', () => {
  // What reaches process.emitWarning as it was before quietly (recorded, not printed).
  const seen: string[] = [];
  const original = process.emitWarning;
  beforeEach(() => {
    seen.length = 0;
    process.emitWarning = ((warning: string | Error) => void seen.push(typeof warning === 'string' ? warning : warning.message)) as typeof process.emitWarning;
  });
  afterEach(() => {
    process.emitWarning = original;
  });

  it("drops only the SDK's NodeVersionSupportWarning, only while the client is made", () => {
    const recorder = process.emitWarning;
    const made = quietly(() => {
      process.emitWarning('NodeVersionSupportWarning: The AWS SDK for JavaScript (v3) will require node >=22.');
      process.emitWarning(new Error('NodeVersionSupportWarning: as an Error'));
      process.emitWarning('another warning');
      return 'client';
    });
    expect(made).toBe('client');
    expect(process.emitWarning).toBe(recorder);
    process.emitWarning('NodeVersionSupportWarning: after the constructor');
    expect(seen).toEqual(['another warning', 'NodeVersionSupportWarning: after the constructor']);
  });

  it('puts process.emitWarning back when making the client throws', () => {
    const recorder = process.emitWarning;
    expect(() =>
      quietly(() => {
        throw new Error('no client');
      }),
    ).toThrow('no client');
    expect(process.emitWarning).toBe(recorder);
  });
});

describe('client settings from the environment', () => {
  it("awsEndpoint: the service's variable, else AWS_ENDPOINT_URL, none when configured endpoints are ignored", () => {
    const env = { AWS_ENDPOINT_URL: 'http://all', AWS_ENDPOINT_URL_STS: 'http://sts' };
    expect(awsEndpoint(env, 'STS')).toBe('http://sts');
    expect(awsEndpoint(env, 'kms')).toBe('http://all');
    expect(awsEndpoint({ AWS_ENDPOINT_URL_KMS: '' }, 'KMS')).toBeUndefined();
    expect(awsEndpoint({ ...env, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'True' }, 'STS')).toBeUndefined();
    expect(awsEndpoint({ ...env, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'false' }, 'STS')).toBe('http://sts');
  });

  it('envCredentials: both keys or none; the session token when set', () => {
    expect(envCredentials({ AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE' })).toBeUndefined();
    expect(envCredentials({ AWS_SECRET_ACCESS_KEY: 'secret' })).toBeUndefined();
    expect(envCredentials({ AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_SESSION_TOKEN: '' })).toEqual({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' });
    expect(envCredentials({ AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_SESSION_TOKEN: 'token' })).toEqual({
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'secret',
      sessionToken: 'token',
    });
  });

  it('awsClientSettings: region, endpoint, and the keys in env before AWS_PROFILE', () => {
    const keys = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' };
    expect(awsClientSettings({ AWS_PROFILE: 'prod', AWS_ENDPOINT_URL_ECR: 'http://ecr' }, 'ECR', 'eu-west-3')).toEqual({ region: 'eu-west-3', endpoint: 'http://ecr', profile: 'prod' });
    expect(awsClientSettings({ ...keys, AWS_PROFILE: 'prod' }, 'ECR', 'us-east-1')).toEqual({ region: 'us-east-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } });
    expect(awsClientSettings({}, 'STS', 'us-east-1')).toEqual({ region: 'us-east-1' });
  });
});

describe('awsError', () => {
  const named = (name: string, message: string, extra: object = {}) => Object.assign(new Error(message), { name }, extra);

  it('missing credentials are a usage error saying how to give them', () => {
    for (const name of ['CredentialsProviderError', 'TokenProviderError']) {
      const error = named(name, 'Could not load credentials\n  from any providers');
      expect(isCredentialsError(error)).toBe(true);
      const mapped = awsError('STS AssumeRole arn:aws:iam::123456789012:role/admin', error);
      expect(mapped.exitCode).toBe(EXIT.usage);
      expect(mapped.message).toBe(
        'STS AssumeRole arn:aws:iam::123456789012:role/admin: no AWS credentials (Could not load credentials from any providers): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, as for the aws CLI',
      );
    }
  });

  it("anything else is a failure on one line: what, AWS's code, its message", () => {
    const denied = named('AccessDeniedException', 'User: arn:aws:iam::123456789012:user/bob\nis not authorized');
    expect(isCredentialsError(denied)).toBe(false);
    const mapped = awsError('KMS key k: Decrypt', denied);
    expect(mapped.exitCode).toBe(EXIT.failed);
    expect(mapped.message).toBe('KMS key k: Decrypt: AccessDeniedException: User: arn:aws:iam::123456789012:user/bob is not authorized');
    // A plain Error names its code in `code`, or has none; a thrown non-Error is its text.
    expect(awsError('w', Object.assign(new Error('reset'), { code: 'ECONNRESET' })).message).toBe('w: ECONNRESET: reset');
    expect(awsError('w', new Error('')).message).toBe('w: Error');
    expect(awsError('w', 'odd').message).toBe('w: Error: odd');
  });

  it('scrub sees the whole line last', () => {
    const leaked = named('UnrecognizedClientException', 'token s3cr3t is invalid');
    expect(awsError('ECR h', leaked, (line) => line.split('s3cr3t').join('***')).message).toBe('ECR h: UnrecognizedClientException: token *** is invalid');
    expect(awsError('ECR h', named('CredentialsProviderError', 's3cr3t'), (line) => line.split('s3cr3t').join('***')).message).toMatch(/^ECR h: no AWS credentials \(\*\*\*\)/);
  });
});
