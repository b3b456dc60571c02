import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { ImagewrightError } from '@imagewright/core';
import { type Ecr, overrideProcessEnv, type Registry, startEcr, startRegistry } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assumeRoleExports } from './exports';

const ADMIN_ARN = 'arn:aws:iam::123456789012:role/demo-admin';

/** What bash has in the three variables after `eval`ing `text` (quoted, and as the original did: unquoted $(…)). */
function evaluated(text: string, form: 'quoted' | 'original'): string[] {
  const script = form === 'quoted' ? 'eval "$EXPORTS"' : 'eval $(printf "%s" "$EXPORTS")';
  const run = spawnSync('bash', ['--norc', '--noprofile', '-c', `${script}; printf '%s\\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN"`], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, EXPORTS: text },
  });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return run.stdout.split('\n').slice(0, 3);
}

describe('assumeRoleExports (secrets-get-exports) against the ECR/STS stand-in', () => {
  let registry: Registry;
  let ecr: Ecr;
  beforeAll(async () => {
    registry = await startRegistry({ username: 'AWS', password: `Secret_${randomBytes(12).toString('hex')}` });
    ecr = await startEcr({ registry });
  });
  afterAll(async () => {
    await ecr?.stop();
    await registry?.stop();
  });

  it('prints three export lines that eval to the credentials STS issued for ADMIN_ARN (session name clone)', async () => {
    const env = { ...process.env, ...ecr.env };
    const text = await assumeRoleExports(ADMIN_ARN, env);
    const lines = text.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe('');
    expect(lines.slice(0, 3).map((l) => /^export (AWS_[A-Z_]+)=/.exec(l)?.[1])).toEqual(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']);

    const call = ecr.calls.filter((c) => c.operation === 'AssumeRole').at(-1)!;
    expect(call).toMatchObject({ roleArn: ADMIN_ARN, roleSessionName: 'clone', accessKeyId: ecr.env.AWS_ACCESS_KEY_ID });
    const [id, secret, token] = evaluated(text, 'quoted');
    expect(id).toBe(call.issuedAccessKeyId);
    expect(evaluated(text, 'original')).toEqual([id, secret, token]);

    // The secret and token are exactly the issued ones: the stand-in verifies a call signed with them.
    const sts = new STSClient({ region: 'us-east-1', endpoint: ecr.endpoint, credentials: { accessKeyId: id!, secretAccessKey: secret!, sessionToken: token! } });
    try {
      const me = await sts.send(new GetCallerIdentityCommand({}));
      expect(me.Arn).toBe('arn:aws:sts::123456789012:assumed-role/demo-admin/clone');
    } finally {
      sts.destroy();
    }
    const wrong = new STSClient({ region: 'us-east-1', endpoint: ecr.endpoint, credentials: { accessKeyId: id!, secretAccessKey: `${secret}x`, sessionToken: token! } });
    try {
      await expect(wrong.send(new GetCallerIdentityCommand({}))).rejects.toThrow(/signature/i);
    } finally {
      wrong.destroy();
    }
  });

  it('a value with shell characters is one word', async () => {
    // The stand-in's secrets are base64 (+ / =); eval must keep every character of a harder one too.
    const { shellQuote } = await import('@imagewright/core');
    const hard = `a'b"c $HOME \`x\` ;&|*?~ \\ end`;
    expect(evaluated(`export AWS_ACCESS_KEY_ID=${shellQuote(hard)}\nexport AWS_SECRET_ACCESS_KEY=s\nexport AWS_SESSION_TOKEN=t\n`, 'quoted')).toEqual([hard, 's', 't']);
  });

  it('refuses an ADMIN_ARN that is not a role ARN (usage, nothing asked of STS), and reports STS refusals without secrets', async () => {
    const env = { ...process.env, ...ecr.env };
    const before = ecr.calls.length;
    const bad = await assumeRoleExports('arn:aws:iam::123456789012:user/someone', env).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ImagewrightError);
    expect((bad as ImagewrightError).exitCode).toBe(2);
    expect((bad as Error).message).toMatch(/^ADMIN_ARN=arn:aws:iam::123456789012:user\/someone: allowed an IAM role ARN/);
    expect(ecr.calls.length).toBe(before);

    const denied = await assumeRoleExports('arn:aws:iam::999999999999:role/elsewhere', env).catch((e: unknown) => e);
    expect((denied as ImagewrightError).exitCode).toBe(1);
    expect((denied as Error).message).toMatch(/^STS AssumeRole arn:aws:iam::999999999999:role\/elsewhere: AccessDenied: /);
    expect((denied as Error).message).not.toContain(ecr.env.AWS_SECRET_ACCESS_KEY!);

    const wrongKey = await assumeRoleExports(ADMIN_ARN, { ...env, AWS_SECRET_ACCESS_KEY: `${ecr.env.AWS_SECRET_ACCESS_KEY}x` }).catch((e: unknown) => e);
    expect((wrongKey as Error).message).toMatch(/SignatureDoesNotMatch/);
    expect((wrongKey as Error).message).not.toContain(ecr.env.AWS_SECRET_ACCESS_KEY!);
  });

  it('without any credentials: a usage error that says what to set', async () => {
    const env = { ...process.env, ...ecr.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SESSION_TOKEN: '', AWS_PROFILE: '', AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '', AWS_CONTAINER_CREDENTIALS_FULL_URI: '', AWS_WEB_IDENTITY_TOKEN_FILE: '' };
    // The SDK's default chain reads process.env: give it the stand-in's empty files and no metadata service.
    const restore = overrideProcessEnv(env, Object.keys(env).filter((k) => k.startsWith('AWS_')));
    try {
      const error = await assumeRoleExports(ADMIN_ARN, env).catch((e: unknown) => e);
      expect((error as ImagewrightError).exitCode).toBe(2);
      expect((error as Error).message).toMatch(/no AWS credentials .*set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE/);
    } finally {
      restore();
    }
  });
});
