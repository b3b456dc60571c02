import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImagewrightError } from '@imagewright/core';
import { shellQuote } from '@imagewright/core';
import { AWSCLI, type CodeCommit, type Ecr, GLOBAL_HELPER_TRACE, type Registry, requireAwscli, startCodeCommit, startEcr, startRegistry, TRAPPED_GITCONFIG } from '@imagewright/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assumeRoleExports } from './exports';
import { CREDENTIAL_HELPER_SCRIPT, cloneSecrets, commitFile, pushSecrets } from './repository';

const ADMIN_ARN = 'arn:aws:iam::123456789012:role/demo-admin';
const FILES = { 'dev.yaml': 'secret: ENC[AES256_GCM,data:x,type:str]\n', '.sops.yaml': 'creation_rules: []\n' };

let registry: Registry;
let ecr: Ecr;
let cc: CodeCommit;
let work: string;
let home: string;
/** git and the helper run with this: the stand-ins' AWS settings, a HOME of our own, no prompts. */
let env: NodeJS.ProcessEnv;

const GLOBAL_CONFIG = [
  TRAPPED_GITCONFIG.trimEnd(),
  '[alias]',
  '\tst = status --short',
  '[core]',
  '\tautocrlf = false',
  '',
].join('\n');

// Asynchronous: the stand-ins answer git from this very process, so a synchronous spawn would deadlock.
function git(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile('git', args, { cwd: options.cwd, env: options.env ?? env, encoding: 'utf8' }, (error, stdout, stderr) =>
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
    child.stdin?.end();
  });
}
const gitOut = async (args: string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv }) => {
  const run = await git(args, options);
  if (run.status !== 0) throw new Error(`git ${args.join(' ')}: ${run.stderr}`);
  return run.stdout.trim();
};
const globalList = () => gitOut(['config', '--global', '--list']);
const globalBytes = () => readFileSync(join(home, '.gitconfig'));
const localCredentialConfig = async (dir: string) => (await git(['-C', dir, 'config', '--local', '--get-regexp', '^credential\\.'])).stdout;
const assumed = (session: string) => ecr.calls.filter((c) => c.operation === 'AssumeRole' && c.roleSessionName === session && !c.error);

async function rejection(promise: Promise<unknown>): Promise<ImagewrightError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImagewrightError);
  return error as ImagewrightError;
}

beforeAll(async () => {
  registry = await startRegistry({ username: 'AWS', password: `Secret_${randomBytes(12).toString('hex')}` });
  ecr = await startEcr({ registry });
  cc = await startCodeCommit({ sts: ecr });
  cc.createRepository('demo-secrets', FILES);
  cc.createRepository('other-secrets', { 'prod.yaml': 'x: 1\n' });
  work = mkdtempSync(join(tmpdir(), 'imagewright-secrets-repo-'));
  home = join(work, 'home');
  mkdirSync(home);
  writeFileSync(join(home, '.gitconfig'), GLOBAL_CONFIG);
  const outer = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GIT_') && !k.startsWith('AWS_')));
  env = { ...outer, ...cc.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' };
});
afterAll(async () => {
  await cc?.stop();
  await ecr?.stop();
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});
beforeEach(() => {
  rmSync(join(home, GLOBAL_HELPER_TRACE), { force: true });
});

describe('cloneSecrets, commitFile, pushSecrets through the CodeCommit stand-in', () => {
  it('clones with credentials from an AssumeRole of ADMIN_ARN; the helper is in the clone\'s config only', async () => {
    const before = { list: await globalList(), bytes: globalBytes() };
    const dir = join(work, 'deployments', 'demo', 'secrets');
    const seen = cc.requests.length;
    const roles = assumed('imagewright-secrets').length;
    const cloned = await cloneSecrets({ url: cc.urlOf('demo-secrets'), dir, adminArn: ADMIN_ARN, codecommit: true, env });

    expect(cloned.codecommit).toBe(true);
    expect(readFileSync(join(dir, 'dev.yaml'), 'utf8')).toBe(FILES['dev.yaml']);
    expect(readFileSync(join(dir, '.sops.yaml'), 'utf8')).toBe(FILES['.sops.yaml']);
    // git asked without credentials first (401), then with the helper's answer, signed by the assumed role's key.
    const requests = cc.requests.slice(seen);
    expect(requests[0]).toMatchObject({ status: 401, ok: false, accessKeyId: '' });
    const issued = assumed('imagewright-secrets').slice(roles);
    expect(issued.length).toBeGreaterThanOrEqual(1);
    expect(issued.every((c) => c.roleArn === ADMIN_ARN)).toBe(true);
    const signedBy = new Set(requests.filter((r) => r.ok).map((r) => r.accessKeyId));
    expect(signedBy.size).toBeGreaterThan(0);
    for (const id of signedBy) expect(issued.map((c) => c.issuedAccessKeyId)).toContain(id);
    expect(requests.every((r) => r.ok || r.status === 401)).toBe(true);

    // The global config is byte for byte what it was, and its helper was never run.
    expect(await globalList()).toBe(before.list);
    expect(globalBytes().equals(before.bytes)).toBe(true);
    expect(existsSync(join(home, GLOBAL_HELPER_TRACE))).toBe(false);

    const origin = new URL(cc.endpoint).origin;
    const helper = `!${[process.execPath, CREDENTIAL_HELPER_SCRIPT, '--role-arn', ADMIN_ARN, '--ignore-host-check'].map(shellQuote).join(' ')}`;
    expect(await localCredentialConfig(dir)).toBe(`credential.${origin}.helper \ncredential.${origin}.helper ${helper}\ncredential.${origin}.usehttppath true\n`);
    expect(cloned.config).toEqual([
      [`credential.${origin}.helper`, ''],
      [`credential.${origin}.helper`, helper],
      [`credential.${origin}.useHttpPath`, 'true'],
    ]);
    // git reads the clone's config as the helper list for that origin: ours alone.
    expect(await gitOut(['-C', dir, 'config', '--get-urlmatch', 'credential.helper', cc.urlOf('demo-secrets')])).toBe(helper);

    // A later fetch (plain git, no imagewright) assumes the role again through the local config.
    const fetches = assumed('imagewright-secrets').length;
    await gitOut(['-C', dir, 'fetch', '--quiet']);
    expect(assumed('imagewright-secrets').length).toBeGreaterThan(fetches);
    expect(globalBytes().equals(before.bytes)).toBe(true);
  });

  it('commits a changed file as the user and pushes it to the bare repository; the global config stays as it was', async () => {
    const before = { list: await globalList(), bytes: globalBytes() };
    const dir = join(work, 'push', 'secrets');
    await cloneSecrets({ url: cc.urlOf('demo-secrets'), dir, adminArn: ADMIN_ARN, codecommit: true, env });

    expect(await commitFile(dir, 'dev.yaml', 'nothing changed', { env })).toBe(false);
    writeFileSync(join(dir, 'dev.yaml'), 'secret: ENC[AES256_GCM,data:y,type:str]\n');
    // Something else the user staged is not swept into our commit.
    writeFileSync(join(dir, 'notes.txt'), 'draft\n');
    await gitOut(['-C', dir, 'add', 'notes.txt']);
    expect(await commitFile(dir, join(dir, 'dev.yaml'), 'dev: rotate the proxy token', { env })).toBe(true);
    expect(await gitOut(['-C', dir, 'show', '--name-only', '--format=%an <%ae>%n%s', 'HEAD'])).toBe('Dana Deployer <dana@example.org>\ndev: rotate the proxy token\n\ndev.yaml');
    expect(await gitOut(['-C', dir, 'diff', '--cached', '--name-only'])).toBe('notes.txt');

    const roles = assumed('imagewright-secrets').length;
    const pushes = cc.requests.length;
    await pushSecrets(dir, { env });
    const head = await gitOut(['-C', dir, 'rev-parse', 'HEAD']);
    expect(await gitOut(['--git-dir', cc.repositoryPath('demo-secrets'), 'rev-parse', 'main'])).toBe(head);
    expect(await gitOut(['--git-dir', cc.repositoryPath('demo-secrets'), 'show', 'main:dev.yaml'])).toBe('secret: ENC[AES256_GCM,data:y,type:str]');
    expect(cc.requests.slice(pushes).some((r) => r.ok && r.path.endsWith('/git-receive-pack'))).toBe(true);
    expect(assumed('imagewright-secrets').length).toBeGreaterThan(roles);

    expect(await globalList()).toBe(before.list);
    expect(globalBytes().equals(before.bytes)).toBe(true);
    expect(existsSync(join(home, GLOBAL_HELPER_TRACE))).toBe(false);
  });

  it('the original flow: eval $(secrets-get-exports), then a clone with those credentials (no role in the config)', async () => {
    const exports = await assumeRoleExports(ADMIN_ARN, env);
    const run = spawnSync('bash', ['--norc', '--noprofile', '-c', `eval "$EXPORTS"; printf '%s\\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN"`], { env: { PATH: process.env.PATH, EXPORTS: exports }, encoding: 'utf8' });
    const [id, secret, token] = run.stdout.split('\n');
    const dir = join(work, 'exports', 'secrets');
    const seen = cc.requests.length;
    const roles = ecr.calls.filter((c) => c.operation === 'AssumeRole').length;
    await cloneSecrets({ url: cc.urlOf('demo-secrets'), dir, codecommit: true, env: { ...env, AWS_ACCESS_KEY_ID: id, AWS_SECRET_ACCESS_KEY: secret, AWS_SESSION_TOKEN: token } });
    expect(existsSync(join(dir, 'dev.yaml'))).toBe(true);
    expect(new Set(cc.requests.slice(seen).filter((r) => r.ok).map((r) => r.accessKeyId))).toEqual(new Set([id]));
    // The helper used the exported credentials as they were: no role assumed during the clone.
    expect(ecr.calls.filter((c) => c.operation === 'AssumeRole').length).toBe(roles);
    expect(await localCredentialConfig(dir)).not.toContain('--role-arn');
  });

  it('wrong credentials: the clone fails naming the URL, no secret in the message, no directory left', async () => {
    const badSecret = `${env.AWS_SECRET_ACCESS_KEY}x`;
    const dir = join(work, 'wrong', 'secrets');
    const error = await rejection(cloneSecrets({ url: cc.urlOf('demo-secrets'), dir, codecommit: true, env: { ...env, AWS_SECRET_ACCESS_KEY: badSecret } }));
    expect(error.exitCode).toBe(1);
    expect(error.message).toMatch(new RegExp(`^git clone ${cc.urlOf('demo-secrets')} into ${dir} failed \\(exit 128\\): .*${cc.endpoint}`));
    expect(error.message).not.toContain(badSecret);
    expect(error.message).not.toContain(env.AWS_SECRET_ACCESS_KEY!);
    expect(existsSync(dir)).toBe(false);
    expect(cc.requests.at(-1)).toMatchObject({ ok: false, status: 403, reason: 'signature does not match', accessKeyId: env.AWS_ACCESS_KEY_ID });

    // A role the caller may not assume: the helper's STS error reaches the message; nothing is left.
    const denied = await rejection(cloneSecrets({ url: cc.urlOf('demo-secrets'), dir, adminArn: 'arn:aws:iam::999999999999:role/elsewhere', codecommit: true, env }));
    expect(denied.message).toMatch(/imagewright credential helper: STS AssumeRole arn:aws:iam::999999999999:role\/elsewhere: AccessDenied/);
    expect(existsSync(dir)).toBe(false);

    // An empty directory that was there stays, empty.
    mkdirSync(dir, { recursive: true });
    await rejection(cloneSecrets({ url: cc.urlOf('no-such-secrets'), dir, codecommit: true, env }));
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync(join(home, GLOBAL_HELPER_TRACE))).toBe(false);
  });

  it('refuses a target that exists and is not empty (usage; nothing touched) and a bad ADMIN_ARN', async () => {
    const dir = join(work, 'taken');
    mkdirSync(dir);
    writeFileSync(join(dir, 'keep.txt'), 'mine\n');
    const seen = cc.requests.length;
    const error = await rejection(cloneSecrets({ url: cc.urlOf('demo-secrets'), dir, codecommit: true, env }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(`${dir}: exists and is not empty; allowed a new or empty directory for the secrets clone`);
    expect(readdirSync(dir)).toEqual(['keep.txt']);
    expect(cc.requests.length).toBe(seen);

    const arn = await rejection(cloneSecrets({ url: cc.urlOf('demo-secrets'), dir: join(work, 'arn'), adminArn: 'demo-admin', codecommit: true, env }));
    expect([arn.exitCode, arn.message]).toEqual([2, 'ADMIN_ARN=demo-admin: allowed an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)']);
    const scheme = await rejection(cloneSecrets({ url: cc.repositoryPath('demo-secrets'), dir: join(work, 'scheme'), codecommit: true, env }));
    expect(scheme.exitCode).toBe(2);
    expect(existsSync(join(work, 'arn')) || existsSync(join(work, 'scheme'))).toBe(false);
  });

  it('a path or file:// URL is cloned plainly: no helper written, the stand-in never asked', async () => {
    const seen = cc.requests.length;
    for (const [name, url] of [
      ['path', cc.repositoryPath('other-secrets')],
      ['file', `file://${cc.repositoryPath('other-secrets')}`],
    ] as const) {
      const dir = join(work, 'plain', name);
      const cloned = await cloneSecrets({ url, dir, adminArn: ADMIN_ARN, env });
      expect(cloned).toEqual({ dir, codecommit: false, config: [] });
      expect(readFileSync(join(dir, 'prod.yaml'), 'utf8')).toBe('x: 1\n');
      expect(await localCredentialConfig(dir)).toBe('');
    }
    expect(cc.requests.length).toBe(seen);
  });

  it('commits with a stand-in identity only when git has none (user.useConfigOnly, no user.*)', async () => {
    const bare = join(work, 'identity.git');
    await gitOut(['init', '--quiet', '--bare', '--initial-branch=main', bare]);
    const noIdentityHome = join(work, 'home-without-identity');
    mkdirSync(noIdentityHome);
    writeFileSync(join(noIdentityHome, '.gitconfig'), '[user]\n\tuseConfigOnly = true\n');
    const { EMAIL: _email, ...rest } = env;
    const bareEnv = { ...rest, HOME: noIdentityHome, XDG_CONFIG_HOME: join(noIdentityHome, '.config') };
    const dir = join(work, 'identity');
    await cloneSecrets({ url: bare, dir, env: bareEnv });
    expect((await git(['-C', dir, 'var', 'GIT_AUTHOR_IDENT'], { env: bareEnv })).status).not.toBe(0);
    writeFileSync(join(dir, 'dev.yaml'), 'a: 1\n');
    expect(await commitFile(dir, 'dev.yaml', 'first', { env: bareEnv })).toBe(true);
    const author = await gitOut(['-C', dir, 'log', '-1', '--format=%an <%ae>'], { env: bareEnv });
    const { hostname, userInfo } = await import('node:os');
    expect(author).toBe(`${userInfo().username} <${userInfo().username}@${hostname()}>`);
    // Nothing was written to the clone's or the user's config.
    expect((await git(['-C', dir, 'config', '--local', '--get', 'user.name'], { env: bareEnv })).stdout).toBe('');
    expect(readFileSync(join(noIdentityHome, '.gitconfig'), 'utf8')).toBe('[user]\n\tuseConfigOnly = true\n');
    await pushSecrets(dir, { env: bareEnv });
    expect(await gitOut(['--git-dir', bare, 'log', '-1', '--format=%s', 'main'])).toBe('first');
  });

  it('the helper with --role-arn answers as the assumed role, and says nothing else (no SDK notice on stderr)', async () => {
    const roles = assumed('imagewright-secrets').length;
    const answer = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, [CREDENTIAL_HELPER_SCRIPT, '--role-arn', ADMIN_ARN, 'get'], { env, encoding: 'utf8' }, (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
      );
      child.stdin!.end('protocol=https\nhost=git-codecommit.us-east-1.amazonaws.com\npath=v1/repos/demo-secrets\n\n');
    });
    expect(answer.stderr).toBe('');
    expect(answer.code).toBe(0);
    const issued = assumed('imagewright-secrets').slice(roles);
    expect(issued).toHaveLength(1);
    expect(answer.stdout).toMatch(new RegExp(`^username=${issued[0]!.issuedAccessKeyId}%[A-Za-z0-9+/=]+\npassword=\\d{8}T\\d{6}Z[0-9a-f]{64}\n$`));
  });

  it('a repository with many refs: git gzips its fetch request, the stand-in passes it to http-backend', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 5; i++) files[`env-${i}.yaml`] = `n: ${i}\n`;
    const bare = cc.createRepository('many-refs-secrets', files);
    // Enough refs that the want lines pass git's 1 KiB gzip threshold.
    const head = await gitOut(['--git-dir', bare, 'rev-parse', 'main']);
    for (let i = 0; i < 120; i++) await gitOut(['--git-dir', bare, 'tag', `release-with-a-long-name-${String(i).padStart(3, '0')}`, head]);
    const seen = cc.requests.length;
    const dir = join(work, 'many-refs', 'secrets');
    await cloneSecrets({ url: cc.urlOf('many-refs-secrets'), dir, adminArn: ADMIN_ARN, codecommit: true, env });
    expect(readFileSync(join(dir, 'env-4.yaml'), 'utf8')).toBe('n: 4\n');
    expect((await gitOut(['-C', dir, 'tag', '--list'])).split('\n')).toHaveLength(120);
    const gzipped = cc.requests.slice(seen).filter((r) => r.contentEncoding === 'gzip');
    expect(gzipped.length).toBeGreaterThan(0);
    expect(gzipped.every((r) => r.ok && r.status === 200 && r.path.endsWith('/git-upload-pack'))).toBe(true);
  });

  it('the stand-in accepts the real aws CLI as the credential helper (oracle for the stand-in)', async () => {
    requireAwscli();
    const dir = join(work, 'awscli', 'secrets');
    const seen = cc.requests.length;
    const origin = new URL(cc.endpoint).origin;
    // The aws CLI takes an empty AWS_PROFILE (the stand-in's way to unset it) as a profile named "".
    const awscliEnv = Object.fromEntries(Object.entries(env).filter(([k, v]) => !(k.startsWith('AWS_') && v === '')));
    const run = await git([
      '-c', `credential.${origin}.helper=`,
      // awscli takes --ignore-host-check after the operation git appends, and only for get.
      '-c', `credential.${origin}.helper=!f() { if [ "$1" = get ]; then set -- get --ignore-host-check; fi; ${AWSCLI} codecommit credential-helper "$@"; }; f`,
      '-c', `credential.${origin}.useHttpPath=true`,
      'clone', '--quiet', cc.urlOf('demo-secrets'), dir,
    ], { env: awscliEnv });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(existsSync(join(dir, 'dev.yaml'))).toBe(true);
    expect(cc.requests.slice(seen).some((r) => r.ok && r.accessKeyId === env.AWS_ACCESS_KEY_ID)).toBe(true);
  });
});
