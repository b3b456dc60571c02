import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shellQuote } from '@imagewright/core';
import { CREDENTIAL_HELPER_SCRIPT } from '@imagewright/secrets';
import { type BinResult, type CodeCommit, type Ecr, expectOneLine, GLOBAL_HELPER_TRACE, TRAPPED_GITCONFIG, runBin, startCodeCommit, startEcr, tempDeploymentRoot } from '@imagewright/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

// secrets-clone's built bin against the CodeCommit stand-in (git http-backend behind CodeCommit's
// Basic auth) and the STS stand-in behind it; real git, a HOME of our own whose global config must
// come out byte for byte as it went in.

const DEPLOYMENT = 'demo';
const ROLE = 'demo-admin';
const FILES = { 'dev.yaml': 'secret: ENC[AES256_GCM,data:x,type:str]\n', '.sops.yaml': 'creation_rules: []\n' };
const GLOBAL_CONFIG = TRAPPED_GITCONFIG;

let ecr: Ecr;
let cc: CodeCommit;
let root: string;
let work: string;
let home: string;
/** The stand-ins' AWS settings (keys, STS endpoint, empty ~/.aws files), our HOME, no system git config. */
let env: NodeJS.ProcessEnv;
let adminArn: string;
let secretsDir: string;

// Asynchronous: the stand-ins answer git from this very process.
function git(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile('git', args, { env: options.env ?? env, encoding: 'utf8' }, (error, stdout, stderr) =>
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
    child.stdin?.end();
  });
}
const gitOut = async (args: string[]) => {
  const run = await git(args);
  if (run.status !== 0) throw new Error(`git ${args.join(' ')}: ${run.stderr}`);
  return run.stdout.trim();
};
const globalState = async () => ({ list: await gitOut(['config', '--global', '--list']), bytes: readFileSync(join(home, '.gitconfig')) });
const assumed = () => ecr.calls.filter((c) => c.operation === 'AssumeRole' && !c.error);

let setupEnvs = 0;
/** A setup-env file in the temp checkout (its folder makes it the root) setting `vars`. */
function setupEnv(vars: Record<string, string>): string {
  const file = join(root, `setup-env-${++setupEnvs}`);
  writeFileSync(file, Object.entries(vars).map(([k, v]) => `export ${k}=${shellQuote(v)}\n`).join(''));
  return file;
}
/** A deployment folder in the temp checkout (config needs deployments/<name>/image). */
function deployment(name: string): void {
  mkdirSync(join(root, 'deployments', name, 'image', 'environments'), { recursive: true });
}
const clone = (args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) => runBin('secrets-clone', args, { env: options.env ?? env, cwd: options.cwd ?? work });

beforeAll(async () => {
  ecr = await startEcr({});
  cc = await startCodeCommit({ sts: ecr });
  cc.createRepository(`${DEPLOYMENT}-secrets`, FILES);
  cc.createRepository('other-secrets', { 'prod.yaml': 'x: 1\n' });
  root = tempDeploymentRoot(DEPLOYMENT);
  work = mkdtempSync(join(tmpdir(), 'imagewright-secrets-clone-'));
  home = join(work, 'home');
  mkdirSync(home);
  writeFileSync(join(home, '.gitconfig'), GLOBAL_CONFIG);
  env = { ...cc.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), GIT_CONFIG_NOSYSTEM: '1' };
  adminArn = `arn:aws:iam::${ecr.accountId}:role/${ROLE}`;
  secretsDir = join(root, 'deployments', DEPLOYMENT, 'secrets');
});
afterAll(async () => {
  await cc?.stop();
  await ecr?.stop();
  for (const dir of [root, work]) if (dir) rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  rmSync(join(home, GLOBAL_HELPER_TRACE), { force: true });
});

describe('secrets-clone with a setup-env (SECRETS_REPO, ADMIN_ARN from ECR_ACCOUNT_ID and ADMIN_ROLENAME)', () => {
  it('clones into deployments/<name>/secrets assuming ADMIN_ARN; the helper is in the clone for that URL only; global config untouched', async () => {
    const file = setupEnv({ DEPLOYMENT_NAME: DEPLOYMENT, ECR_ACCOUNT_ID: ecr.accountId, AWS_REGION: ecr.region, ADMIN_ROLENAME: ROLE, SECRETS_REPO: cc.urlOf(`${DEPLOYMENT}-secrets`) });
    const before = await globalState();
    const seen = cc.requests.length;
    const roles = assumed().length;

    const r = await clone(['--setup-env', file, '--codecommit']);
    expect(r).toEqual({ code: 0, stdout: '', stderr: `secrets-clone: cloned into ${secretsDir} (CodeCommit credentials for this repository only)\n` });
    expect(readFileSync(join(secretsDir, 'dev.yaml'), 'utf8')).toBe(FILES['dev.yaml']);
    expect(readFileSync(join(secretsDir, '.sops.yaml'), 'utf8')).toBe(FILES['.sops.yaml']);

    // Every authenticated request was signed by a key STS issued for ADMIN_ARN.
    const issued = assumed().slice(roles);
    expect(issued.length).toBeGreaterThan(0);
    expect(issued.every((c) => c.roleArn === adminArn && c.accessKeyId === ecr.env.AWS_ACCESS_KEY_ID)).toBe(true);
    const signedBy = new Set(cc.requests.slice(seen).filter((q) => q.ok).map((q) => q.accessKeyId));
    expect(signedBy.size).toBeGreaterThan(0);
    for (const id of signedBy) expect(issued.map((c) => c.issuedAccessKeyId)).toContain(id);

    const after = await globalState();
    expect(after.list).toBe(before.list);
    expect(after.bytes.equals(before.bytes)).toBe(true);
    expect(existsSync(join(home, GLOBAL_HELPER_TRACE))).toBe(false);

    // The clone's own config: our helper (after an empty one that drops the global helpers) for the stand-in's origin alone.
    const origin = new URL(cc.endpoint).origin;
    const local = (await git(['-C', secretsDir, 'config', '--local', '--get-regexp', '^credential\\.'])).stdout.trim().split('\n');
    expect(local.map((l) => l.split(' ')[0])).toEqual([`credential.${origin}.helper`, `credential.${origin}.helper`, `credential.${origin}.usehttppath`]);
    const helper = await gitOut(['-C', secretsDir, 'config', '--get-urlmatch', 'credential.helper', cc.urlOf(`${DEPLOYMENT}-secrets`)]);
    expect(helper).toMatch(/^!\S*node\S* /);
    expect(helper.endsWith(` ${[CREDENTIAL_HELPER_SCRIPT, '--role-arn', adminArn, '--ignore-host-check'].map(shellQuote).join(' ')}`)).toBe(true);
    // Any other host still gets the user's own helper.
    expect(await gitOut(['-C', secretsDir, 'config', '--get-urlmatch', 'credential.helper', 'https://git.example.org/x'])).toContain(GLOBAL_HELPER_TRACE);

    // Plain git later on: a fetch assumes the role again through the clone's config.
    const fetched = assumed().length;
    await gitOut(['-C', secretsDir, 'fetch', '--quiet']);
    expect(assumed().slice(fetched).some((c) => c.roleArn === adminArn)).toBe(true);
    expect((await globalState()).bytes.equals(before.bytes)).toBe(true);
  });

  it('a target that is not empty: exit 2, one line, nothing touched and nothing asked', async () => {
    deployment('taken');
    const taken = join(root, 'deployments', 'taken', 'secrets');
    mkdirSync(taken);
    writeFileSync(join(taken, 'keep.txt'), 'mine\n');
    const file = setupEnv({ DEPLOYMENT_NAME: 'taken', ECR_ACCOUNT_ID: ecr.accountId, AWS_REGION: ecr.region, ADMIN_ROLENAME: ROLE, SECRETS_REPO: cc.urlOf(`${DEPLOYMENT}-secrets`) });
    const seen = { requests: cc.requests.length, calls: ecr.calls.length };

    expectOneLine(await clone(['--setup-env', file, '--codecommit']), 2, new RegExp(`^secrets-clone: ${taken}: exists and is not empty; allowed a new or empty directory`));
    // The same with URL and DIR given (relative to the working directory); and a file as DIR.
    expectOneLine(await clone(['--codecommit', cc.urlOf(`${DEPLOYMENT}-secrets`), 'secrets'], { cwd: join(root, 'deployments', 'taken') }), 2, /^secrets-clone: \S+\/taken\/secrets: exists and is not empty/);
    expectOneLine(await clone([cc.repositoryPath('other-secrets'), join(taken, 'keep.txt')]), 2, /: exists and is not a directory; allowed a new or empty directory/);

    expect(readdirSync(taken)).toEqual(['keep.txt']);
    expect(readFileSync(join(taken, 'keep.txt'), 'utf8')).toBe('mine\n');
    expect({ requests: cc.requests.length, calls: ecr.calls.length }).toEqual(seen);
  });

  it('wrong credentials: exit 1, one line naming the URL, no secret in the output, no directory left', async () => {
    const url = cc.urlOf(`${DEPLOYMENT}-secrets`);
    const badSecret = `${ecr.env.AWS_SECRET_ACCESS_KEY}x`;
    const token = `FwoGZXIvYXdzE${randomBytes(24).toString('base64')}`;
    const secrets = [ecr.env.AWS_SECRET_ACCESS_KEY!, badSecret, token];
    const clean = (r: BinResult) => {
      for (const secret of secrets) expect(r.stdout + r.stderr).not.toContain(secret);
    };
    deployment('wrong');
    const target = join(root, 'deployments', 'wrong', 'secrets');
    const file = setupEnv({ DEPLOYMENT_NAME: 'wrong', ECR_ACCOUNT_ID: ecr.accountId, AWS_REGION: ecr.region, ADMIN_ROLENAME: ROLE, SECRETS_REPO: url });

    // ADMIN_ARN from the setup-env: STS refuses the signature; the helper's reason reaches the line.
    const viaRole = await clone(['--setup-env', file, '--codecommit'], { env: { ...env, AWS_SECRET_ACCESS_KEY: badSecret } });
    expect(viaRole.code).toBe(1);
    expect(viaRole.stdout).toBe('');
    expect(viaRole.stderr.split('\n')).toHaveLength(2);
    expect(viaRole.stderr).toMatch(new RegExp(`^secrets-clone: git clone ${url} into ${target} failed \\(exit 128\\): .*STS AssumeRole ${adminArn}: SignatureDoesNotMatch`));
    clean(viaRole);
    expect(existsSync(target)).toBe(false);

    // No role: CodeCommit itself refuses the signed password (403).
    const seen = cc.requests.length;
    const direct = join(work, 'wrong-direct');
    const refused = await clone(['--codecommit', url, direct], { env: { ...env, AWS_SECRET_ACCESS_KEY: badSecret, AWS_SESSION_TOKEN: token } });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr.split('\n')).toHaveLength(2);
    expect(refused.stderr).toMatch(new RegExp(`^secrets-clone: git clone ${url} into ${direct} failed \\(exit 128\\): .*${cc.endpoint}`));
    clean(refused);
    expect(existsSync(direct)).toBe(false);
    expect(cc.requests.slice(seen).some((q) => q.status === 403 && !q.ok)).toBe(true);
    expect(existsSync(join(home, GLOBAL_HELPER_TRACE))).toBe(false);
  });
});

describe('secrets-clone URL DIR without config', () => {
  it('a path or file:// URL: cloned plainly (no helper), DIR relative to the working directory', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'imagewright-secrets-noconfig-'));
    const seen = cc.requests.length;
    try {
      for (const [name, url] of [
        ['path', cc.repositoryPath('other-secrets')],
        ['file', `file://${cc.repositoryPath('other-secrets')}`],
      ] as const) {
        const r = await clone([url, `${name}/secrets`], { cwd });
        expect(r).toEqual({ code: 0, stdout: '', stderr: `secrets-clone: cloned into ${join(cwd, name, 'secrets')}\n` });
        expect(readFileSync(join(cwd, name, 'secrets', 'prod.yaml'), 'utf8')).toBe('x: 1\n');
        expect((await git(['-C', join(cwd, name, 'secrets'), 'config', '--local', '--get-regexp', '^credential\\.'])).stdout).toBe('');
      }
      expect(cc.requests.length).toBe(seen);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('--role-arn URL DIR needs no config even when one is half there (DEPLOYMENT_NAME set, no checkout around)', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'imagewright-secrets-noconfig-'));
    const roles = assumed().length;
    const other = `arn:aws:iam::${ecr.accountId}:role/other-role`;
    try {
      const r = await clone(['--codecommit', '--role-arn', other, cc.urlOf('other-secrets'), 'secrets'], { cwd, env: { ...env, DEPLOYMENT_NAME: DEPLOYMENT } });
      expect(r).toEqual({ code: 0, stdout: '', stderr: `secrets-clone: cloned into ${join(cwd, 'secrets')} (CodeCommit credentials for this repository only)\n` });
      expect(assumed().slice(roles).map((c) => c.roleArn)).toContain(other);
      expect(assumed().slice(roles).every((c) => c.roleArn === other)).toBe(true);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('--codecommit with a path: exit 2; bad --role-arn: exit 2 naming --role-arn; nothing made', async () => {
    const seen = { requests: cc.requests.length, calls: ecr.calls.length };
    expectOneLine(await clone(['--codecommit', cc.repositoryPath('other-secrets'), 'p1']), 2, /^secrets-clone: .*CodeCommit credentials need an https URL/);
    expectOneLine(await clone(['--codecommit', '--role-arn', 'demo-admin', cc.urlOf('other-secrets'), 'p2']), 2, /^secrets-clone: --role-arn=demo-admin: allowed an IAM role ARN/);
    expectOneLine(await clone(['--codecommit', '--role-arn', '', cc.urlOf('other-secrets'), 'p3']), 2, /^secrets-clone: --role-arn is empty/);
    expectOneLine(await clone([cc.repositoryPath('other-secrets'), 'p4', 'extra']), 2, /^secrets-clone: /);
    expectOneLine(await clone(['', 'p5']), 2, /^secrets-clone: secrets repository URL is empty: allowed a git URL or path$/m);
    for (const dir of ['p1', 'p2', 'p3', 'p4', 'p5']) expect(existsSync(join(work, dir))).toBe(false);
    expect({ requests: cc.requests.length, calls: ecr.calls.length }).toEqual(seen);
  });

  it('no SECRETS_REPO and no AWS_REGION: exit 2 naming SECRETS_REPO', async () => {
    deployment('noregion');
    const file = setupEnv({ DEPLOYMENT_NAME: 'noregion' });
    const { AWS_REGION: _r, AWS_DEFAULT_REGION: _d, ...noRegion } = env;
    expectOneLine(await clone(['--setup-env', file], { env: noRegion }), 2, /^secrets-clone: SECRETS_REPO is not set: allowed a URL argument, SECRETS_REPO, or AWS_REGION/);
    // The same with the config in the environment.
    expectOneLine(await clone([], { env: { ...noRegion, IMAGEWRIGHT_SETUP_ENV: file } }), 2, /^secrets-clone: SECRETS_REPO is not set/);
    // A URL but no DIR, and no config to take it from: a usage error about the config.
    expectOneLine(await clone([cc.repositoryPath('other-secrets')], { env: noRegion }), 2, /^secrets-clone: /);
    expect(existsSync(join(root, 'deployments', 'noregion', 'secrets'))).toBe(false);
  });
});
