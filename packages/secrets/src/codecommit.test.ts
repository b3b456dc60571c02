import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { awscliCredentialHelper, type CodeCommit, requireAwscli, startCodeCommit } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codecommitPassword, codecommitRegion, codecommitUsername, isCodecommitHost, parseCredentialRequest, type AwsCredentials } from './codecommit';
import { answerGet, parseHelperArgs } from './credential-helper';
import { CREDENTIAL_HELPER_SCRIPT } from './repository';

const keyId = (prefix: string) => prefix + randomBytes(8).toString('hex').toUpperCase();
const longTerm = (): AwsCredentials => ({ accessKeyId: keyId('AKIA'), secretAccessKey: randomBytes(30).toString('base64') });
const temporary = (): AwsCredentials => ({ accessKeyId: keyId('ASIA'), secretAccessKey: randomBytes(30).toString('base64'), sessionToken: randomBytes(96).toString('base64') });
const request = (host: string, path: string, protocol = 'https') => `protocol=${protocol}\nhost=${host}\npath=${path}\n\n`;

let home: string;
/** An environment with only `credentials` for the aws CLI: empty config files, no outer AWS settings. */
const awsEnv = (credentials: AwsCredentials, region = 'us-east-1'): Record<string, string> => ({
  PATH: '/usr/bin:/bin',
  HOME: home,
  AWS_CONFIG_FILE: join(home, 'config'),
  AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_DEFAULT_REGION: region,
  AWS_REGION: region,
  AWS_ACCESS_KEY_ID: credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
  ...(credentials.sessionToken ? { AWS_SESSION_TOKEN: credentials.sessionToken } : {}),
});

beforeAll(() => {
  requireAwscli();
  home = mkdtempSync(join(tmpdir(), 'imagewright-codecommit-oracle-'));
  writeFileSync(join(home, 'config'), '');
  writeFileSync(join(home, 'credentials'), '');
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('CodeCommit credentials against Debian awscli (aws codecommit credential-helper, clock frozen)', () => {
  const cases: { host: string; path: string; credentials: AwsCredentials; at: Date }[] = [
    { host: 'git-codecommit.us-east-1.amazonaws.com', path: 'v1/repos/demo-secrets', credentials: temporary(), at: new Date('2024-01-02T03:04:05Z') },
    { host: 'git-codecommit.us-east-1.amazonaws.com', path: 'v1/repos/demo-secrets', credentials: longTerm(), at: new Date('2031-12-31T23:59:59Z') },
    { host: 'git-codecommit.eu-west-3.amazonaws.com:443', path: 'v1/repos/tike_secrets.v2', credentials: temporary(), at: new Date('2025-06-30T12:00:00Z') },
    { host: 'git-codecommit-fips.us-gov-west-1.amazonaws.com', path: 'v1/repos/roman-secrets', credentials: temporary(), at: new Date('2026-02-28T00:00:01Z') },
    { host: 'vpce-0a1b2c3d-4e5f6a7b.git-codecommit.ap-southeast-2.vpce.amazonaws.com', path: 'v1/repos/jwebbinar-secrets', credentials: longTerm(), at: new Date('2024-02-29T18:30:00Z') },
    { host: 'git-codecommit.cn-north-1.amazonaws.com.cn', path: 'v1/repos/x', credentials: temporary(), at: new Date() },
  ];

  it.each(cases.map((c, i) => [i, c] as const))('case %i: the same username and password', (_i, c) => {
    const at = new Date(Math.floor(c.at.getTime() / 1000) * 1000);
    const expected = awscliCredentialHelper(request(c.host, c.path), awsEnv(c.credentials), { at });
    expect(expected).toMatch(/^username=.+\npassword=\d{8}T\d{6}Z[0-9a-f]{64}\n$/);
    const region = codecommitRegion(c.host);
    expect(region).toBeDefined();
    const ours = `username=${codecommitUsername(c.credentials)}\npassword=${codecommitPassword(c.credentials, { host: c.host, path: c.path, region: region!, now: at })}\n`;
    expect(ours).toBe(expected);
  });

  it('a host that is not CodeCommit, with --ignore-host-check and the region from the environment', () => {
    const credentials = temporary();
    const at = new Date('2024-05-06T07:08:09Z');
    const host = '127.0.0.1:45678';
    const expected = awscliCredentialHelper(request(host, 'v1/repos/demo-secrets', 'http'), awsEnv(credentials, 'eu-central-1'), { at, args: ['get', '--ignore-host-check'] });
    expect(isCodecommitHost(host)).toBe(false);
    expect(codecommitPassword(credentials, { host, path: 'v1/repos/demo-secrets', region: 'eu-central-1', now: at })).toBe(/password=(.*)\n/.exec(expected)![1]);
    // A different secret, path, host or second signs something else.
    const other = [
      codecommitPassword({ secretAccessKey: `${credentials.secretAccessKey}x` }, { host, path: 'v1/repos/demo-secrets', region: 'eu-central-1', now: at }),
      codecommitPassword(credentials, { host, path: 'v1/repos/demo-secretz', region: 'eu-central-1', now: at }),
      codecommitPassword(credentials, { host: '127.0.0.2', path: 'v1/repos/demo-secrets', region: 'eu-central-1', now: at }),
      codecommitPassword(credentials, { host, path: 'v1/repos/demo-secrets', region: 'eu-central-1', now: new Date(at.getTime() + 1000) }),
    ];
    for (const password of other) expect(`password=${password}\n`).not.toBe(/password=.*\n/.exec(expected)![0]);
  });

  it('the helper program (dist/credential-helper.js) answers what awscli answers at the same second', () => {
    const credentials = temporary();
    const host = 'git-codecommit.us-west-2.amazonaws.com';
    const input = `capability[]=authtype\n${request(host, 'v1/repos/demo-secrets')}`;
    const run = spawnSync(process.execPath, [CREDENTIAL_HELPER_SCRIPT, 'get'], { input, encoding: 'utf8', env: awsEnv(credentials) });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const stamp = /password=(\d{8}T\d{6})Z/.exec(run.stdout)?.[1];
    expect(stamp).toBeDefined();
    const at = new Date(`${stamp!.slice(0, 4)}-${stamp!.slice(4, 6)}-${stamp!.slice(6, 8)}T${stamp!.slice(9, 11)}:${stamp!.slice(11, 13)}:${stamp!.slice(13, 15)}Z`);
    expect(Math.abs(Date.now() - at.getTime())).toBeLessThan(60_000);
    expect(run.stdout).toBe(awscliCredentialHelper(request(host, 'v1/repos/demo-secrets'), awsEnv(credentials), { at }));
  });

  it('store and erase answer nothing; a host that is not CodeCommit gets no answer without --ignore-host-check', () => {
    const env = awsEnv(temporary());
    for (const op of ['store', 'erase']) {
      const run = spawnSync(process.execPath, [CREDENTIAL_HELPER_SCRIPT, op], { input: `${request('git-codecommit.us-east-1.amazonaws.com', 'v1/repos/a')}username=u\npassword=p\n`, encoding: 'utf8', env });
      expect([run.status, run.stdout, run.stderr]).toEqual([0, '', '']);
    }
    const github = spawnSync(process.execPath, [CREDENTIAL_HELPER_SCRIPT, 'get'], { input: request('github.com', 'owner/repo.git'), encoding: 'utf8', env });
    expect([github.status, github.stdout, github.stderr]).toEqual([0, '', '']);
  });
});

describe('credential helper arguments and requests', () => {
  it('parses git\'s request and the helper\'s arguments', () => {
    expect(parseCredentialRequest('protocol=https\r\nhost=h\npath=v1/repos/a=b\nwwwauth[]=Basic realm="x"\n\nignored=1\n')).toEqual({ protocol: 'https', host: 'h', path: 'v1/repos/a=b', 'wwwauth[]': 'Basic realm="x"' });
    expect(parseHelperArgs(['--role-arn', 'arn:aws:iam::123456789012:role/admin', '--ignore-host-check', 'get'])).toEqual({ operation: 'get', roleArn: 'arn:aws:iam::123456789012:role/admin', ignoreHostCheck: true });
    expect(parseHelperArgs(['erase'])).toEqual({ operation: 'erase', roleArn: undefined, ignoreHostCheck: false });
    expect(() => parseHelperArgs(['fill'])).toThrow(/allowed get, store, erase/);
    expect(() => parseHelperArgs(['--profile', 'x', 'get'])).toThrow(/--profile: unknown argument/);
  });

  it('refuses a request without the repository path (credential.useHttpPath unset), and a host without a region', async () => {
    const env = awsEnv(temporary());
    await expect(answerGet({ protocol: 'https', host: 'git-codecommit.us-east-1.amazonaws.com' }, { operation: 'get', ignoreHostCheck: false }, env)).rejects.toThrow(/useHttpPath/);
    const noRegion = { ...env, AWS_REGION: '', AWS_DEFAULT_REGION: '' };
    await expect(answerGet({ protocol: 'http', host: '127.0.0.1:1', path: 'v1/repos/a' }, { operation: 'get', ignoreHostCheck: true }, noRegion)).rejects.toThrow(/set AWS_REGION/);
  });
});

describe('the CodeCommit stand-in checks passwords as awscli makes them', () => {
  let cc: CodeCommit;
  const known = temporary();
  beforeAll(async () => {
    cc = await startCodeCommit({ secretFor: (id) => (id === known.accessKeyId ? { secretAccessKey: known.secretAccessKey, sessionToken: known.sessionToken } : undefined) });
    cc.createRepository('demo-secrets', { 'README.md': 'secrets\n' });
  });
  afterAll(() => cc?.stop());

  const get = (path: string, user?: string, password?: string) =>
    fetch(`${cc.endpoint}${path}`, { headers: user === undefined ? {} : { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } });

  it('accepts awscli\'s answer, and refuses it for another path, secret, token or time', async () => {
    const host = new URL(cc.endpoint).host;
    const env = awsEnv(known);
    const answer = (path: string, creds = known, at = new Date()) =>
      parseCredentialRequest(awscliCredentialHelper(request(host, path, 'http'), awsEnv(creds), { at: new Date(Math.floor(at.getTime() / 1000) * 1000), args: ['get', '--ignore-host-check'] }));
    expect(env.AWS_REGION).toBe('us-east-1');

    const good = answer('v1/repos/demo-secrets');
    const ok = await get('/v1/repos/demo-secrets/info/refs?service=git-upload-pack', good.username, good.password);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('application/x-git-upload-pack-advertisement');
    expect(await ok.text()).toMatch(/refs\/heads\/main/);

    const none = await get('/v1/repos/demo-secrets/info/refs?service=git-upload-pack');
    expect([none.status, none.headers.get('www-authenticate')]).toEqual([401, 'Basic realm="CodeCommit stand-in"']);

    const otherPath = answer('v1/repos/other-secrets');
    const stranger = temporary();
    const stale = answer('v1/repos/demo-secrets', known, new Date(Date.now() - 20 * 60_000));
    const strangers = answer('v1/repos/demo-secrets', stranger);
    const refused = [
      await get('/v1/repos/demo-secrets/info/refs?service=git-upload-pack', otherPath.username, otherPath.password),
      await get('/v1/repos/demo-secrets/info/refs?service=git-upload-pack', strangers.username, strangers.password),
      await get('/v1/repos/demo-secrets/info/refs?service=git-upload-pack', known.accessKeyId, good.password),
      await get('/v1/repos/demo-secrets/info/refs?service=git-upload-pack', stale.username, stale.password),
    ];
    expect(refused.map((r) => r.status)).toEqual([403, 403, 403, 403]);
    expect(cc.requests.slice(-4).map((r) => r.reason)).toEqual(['signature does not match', 'unknown access key id', 'session token does not match the key', 'signature time is more than 15 minutes away']);
    const missing = answer('v1/repos/nothing-here');
    expect((await get('/v1/repos/nothing-here/info/refs?service=git-upload-pack', missing.username, missing.password)).status).toBe(404);
  });
});
