import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shellQuote } from '@imagewright/core';
import { AWSCLI, type Ecr, expectOneLine, requireAwscli, runBin, startEcr, tempDeploymentRoot } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// secrets-get-exports' built bin against the STS stand-in: ADMIN_ARN from a setup-env, the export
// lines eval'd by bash, and Debian's aws CLI (the original's tool) calling STS with what they set.

const DEPLOYMENT = 'demo';
const ROLE = 'demo-admin';

let ecr: Ecr;
let root: string;
let adminArn: string;
/** A setup-env with ECR_ACCOUNT_ID and ADMIN_ROLENAME (so ADMIN_ARN), and one without ECR_ACCOUNT_ID. */
let withAdmin: string;
let withoutAdmin: string;

const getExports = (args: string[], env: NodeJS.ProcessEnv = ecr.env, cwd?: string) => runBin('secrets-get-exports', args, { env, cwd: cwd ?? root });
// Debian's aws CLI (v1) does not read AWS_ENDPOINT_URL_STS: the stand-in's endpoint is given explicitly.
const CALLER = `${AWSCLI} sts get-caller-identity --endpoint-url "$AWS_ENDPOINT_URL_STS" --query Arn --output text`;
const assumeCalls = () => ecr.calls.filter((c) => c.operation === 'AssumeRole');

/** bash: eval the export lines, then print the three variables (and run `then`, if given, with them). */
function evaluated(text: string, then = ''): Promise<{ vars: string[]; stdout: string; stderr: string; status: number }> {
  // The aws CLI takes an empty AWS_PROFILE as a profile named "": leave out the stand-in's empty values.
  const base = Object.fromEntries(Object.entries(ecr.env).filter(([k, v]) => v !== '' && !['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'].includes(k)));
  const script = `eval "$EXPORTS"; printf '%s\\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN"; ${then}`;
  // Asynchronous: the STS stand-in answers the aws CLI from this very process.
  return new Promise((resolve) => {
    execFile('bash', ['--norc', '--noprofile', '-c', script], { env: { PATH: process.env.PATH, HOME: root, ...base, EXPORTS: text }, encoding: 'utf8' }, (error, stdout, stderr) => {
      const lines = stdout.split('\n');
      resolve({ vars: lines.slice(0, 3), stdout: lines.slice(3).join('\n'), stderr, status: error ? Number(error.code) : 0 });
    });
  });
}

beforeAll(async () => {
  ecr = await startEcr({});
  root = tempDeploymentRoot(DEPLOYMENT);
  adminArn = `arn:aws:iam::${ecr.accountId}:role/${ROLE}`;
  const write = (name: string, vars: Record<string, string>) => {
    const file = join(root, name);
    writeFileSync(file, Object.entries(vars).map(([k, v]) => `export ${k}=${shellQuote(v)}\n`).join(''));
    return file;
  };
  withAdmin = write('setup-env', { DEPLOYMENT_NAME: DEPLOYMENT, ECR_ACCOUNT_ID: ecr.accountId, AWS_REGION: ecr.region, ADMIN_ROLENAME: ROLE });
  withoutAdmin = write('setup-env-no-account', { DEPLOYMENT_NAME: DEPLOYMENT, AWS_REGION: ecr.region });
});
afterAll(async () => {
  await ecr?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('secrets-get-exports', () => {
  it('ADMIN_ARN from the setup-env: three export lines on stdout that eval to what STS issued (session "clone"); nothing on stderr', async () => {
    requireAwscli();
    const before = assumeCalls().length;
    const r = await getExports(['--setup-env', withAdmin]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe('');
    expect(lines.slice(0, 3).map((l) => /^export (AWS_[A-Z_]+)=\S+$/.exec(l)?.[1])).toEqual(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']);

    const calls = assumeCalls().slice(before);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ roleArn: adminArn, roleSessionName: 'clone', accessKeyId: ecr.env.AWS_ACCESS_KEY_ID });
    expect(calls[0]!.error).toBeUndefined();

    // The original's use: eval, then the aws CLI is the assumed role (the stand-in checks secret and token).
    const shell = await evaluated(r.stdout, `${CALLER}`);
    expect(shell.stderr).toBe('');
    expect(shell.status).toBe(0);
    const [id, secret, token] = shell.vars;
    expect(id).toBe(calls[0]!.issuedAccessKeyId);
    expect(secret).not.toBe('');
    expect(token).not.toBe('');
    expect(shell.stdout.trim()).toBe(`arn:aws:sts::${ecr.accountId}:assumed-role/${ROLE}/clone`);
    // A wrong secret is refused by the same check: the one above proves the pair.
    const wrong = await evaluated(r.stdout.replace(`AWS_SECRET_ACCESS_KEY=${shellQuote(secret!)}`, `AWS_SECRET_ACCESS_KEY=${shellQuote(`${secret}x`)}`), `${CALLER}`);
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toMatch(/SignatureDoesNotMatch/);
  });

  it('IMAGEWRIGHT_SETUP_ENV works the same; --role-arn wins over ADMIN_ARN', async () => {
    const before = assumeCalls().length;
    const viaEnv = await getExports([], { ...ecr.env, IMAGEWRIGHT_SETUP_ENV: withAdmin });
    expect([viaEnv.code, viaEnv.stderr]).toEqual([0, '']);
    const other = `arn:aws:iam::${ecr.accountId}:role/other-role`;
    const given = await getExports(['--setup-env', withAdmin, '--role-arn', other]);
    expect([given.code, given.stderr]).toEqual([0, '']);
    // Without any config, --role-arn alone is enough (run outside any checkout).
    const cwd = mkdtempSync(join(tmpdir(), 'imagewright-exports-noconfig-'));
    try {
      const bare = await getExports(['--role-arn', other], ecr.env, cwd);
      expect([bare.code, bare.stderr]).toEqual([0, '']);
      const calls = assumeCalls().slice(before);
      expect(calls.map((c) => [c.roleArn, c.roleSessionName])).toEqual([
        [adminArn, 'clone'],
        [other, 'clone'],
        [other, 'clone'],
      ]);
      expect((await evaluated(given.stdout)).vars[0]).toBe(calls[1]!.issuedAccessKeyId);
      expect((await evaluated(bare.stdout)).vars[0]).toBe(calls[2]!.issuedAccessKeyId);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('no ADMIN_ARN and no --role-arn, or a bad ARN: exit 2, one line, STS never asked', async () => {
    const before = ecr.calls.length;
    expectOneLine(await getExports(['--setup-env', withoutAdmin]), 2, /^secrets-get-exports: ADMIN_ARN is not set: allowed --role-arn ARN, or ECR_ACCOUNT_ID/);
    const cwd = mkdtempSync(join(tmpdir(), 'imagewright-exports-noconfig-'));
    try {
      expectOneLine(await getExports([], ecr.env, cwd), 2, /^secrets-get-exports: ADMIN_ARN is not set/);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
    expectOneLine(await getExports(['--setup-env', withAdmin, '--role-arn', `arn:aws:iam::${ecr.accountId}:user/someone`]), 2, /^secrets-get-exports: --role-arn=arn:aws:iam::\d+:user\/someone: allowed an IAM role ARN/);
    expectOneLine(await getExports(['--role-arn', 'demo-admin']), 2, /^secrets-get-exports: --role-arn=demo-admin: allowed an IAM role ARN/);
    expectOneLine(await getExports(['--role-arn', '']), 2, /^secrets-get-exports: --role-arn is empty/);
    expect(ecr.calls.length).toBe(before);
  });

  it('STS refuses (a role of another account, a wrong secret) or no credentials at all: one line, exit 1 or 2, no secret', async () => {
    const secrets = [ecr.env.AWS_SECRET_ACCESS_KEY!];
    const denied = await getExports(['--role-arn', 'arn:aws:iam::999999999999:role/elsewhere']);
    expectOneLine(denied, 1, /^secrets-get-exports: STS AssumeRole arn:aws:iam::999999999999:role\/elsewhere: AccessDenied: /);
    expect(ecr.calls.at(-1)).toMatchObject({ operation: 'AssumeRole', roleArn: 'arn:aws:iam::999999999999:role/elsewhere' });

    const badSecret = `${ecr.env.AWS_SECRET_ACCESS_KEY}x`;
    secrets.push(badSecret);
    const signature = await getExports(['--setup-env', withAdmin], { ...ecr.env, AWS_SECRET_ACCESS_KEY: badSecret });
    expectOneLine(signature, 1, /^secrets-get-exports: STS AssumeRole \S+: SignatureDoesNotMatch/);

    // No keys, empty AWS config files (the stand-in's), no instance metadata: nothing to sign with.
    const before = ecr.calls.length;
    const none = await getExports(['--setup-env', withAdmin], {
      ...ecr.env,
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_SESSION_TOKEN: '',
      AWS_PROFILE: '',
      // Nor any other source of the SDK's chain a CI runner might have set.
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '',
      AWS_CONTAINER_CREDENTIALS_FULL_URI: '',
      AWS_WEB_IDENTITY_TOKEN_FILE: '',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    expectOneLine(none, 2, /^secrets-get-exports: .*no AWS credentials/);
    expect(ecr.calls.length).toBe(before);

    for (const r of [denied, signature, none]) for (const secret of secrets) expect(r.stderr).not.toContain(secret);
  });
});
