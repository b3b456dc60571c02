import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shellQuote } from '@imagewright/core';
import { type CodeCommit, type Ecr, expectOneLine, TRAPPED_GITCONFIG, runBin, startCodeCommit, startEcr, tempDeploymentRoot } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// secrets-push's built bin: clones made by the built secrets-clone (CodeCommit stand-in with STS
// behind it, and a plain bare repository), a commit made with real git, pushed; the bare
// repository behind the stand-in is what is checked. The global git config must not change.

const DEPLOYMENT = 'demo';
const ROLE = 'demo-admin';
const REPO = `${DEPLOYMENT}-secrets`;
const GLOBAL_CONFIG = TRAPPED_GITCONFIG;

let ecr: Ecr;
let cc: CodeCommit;
let root: string;
let work: string;
let home: string;
let env: NodeJS.ProcessEnv;
let setupEnv: string;
let adminArn: string;
let secretsDir: string;

// Asynchronous: the stand-ins answer git from this very process.
async function git(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('git', args, { env: options.env ?? env, encoding: 'utf8' }, (error, stdout, stderr) =>
      error ? reject(new Error(`git ${args.join(' ')}: ${stderr}`)) : resolve(stdout.trim()),
    );
    child.stdin?.end();
  });
}
const bare = (args: string[]) => git(['--git-dir', cc.repositoryPath(REPO), ...args]);
const globalState = async () => ({ list: await git(['config', '--global', '--list']), bytes: readFileSync(join(home, '.gitconfig')) });
const assumed = () => ecr.calls.filter((c) => c.operation === 'AssumeRole' && !c.error);
const push = (args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) => runBin('secrets-push', args, { env: options.env ?? env, cwd: options.cwd ?? work });
const clone = async (args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) => {
  const r = await runBin('secrets-clone', args, { env: options.env ?? env, cwd: options.cwd ?? work });
  expect(r.code, r.stderr).toBe(0);
};
/** A commit of `file` in the clone `dir`, made with plain git as the user; returns its id. */
async function commit(dir: string, file: string, content: string): Promise<string> {
  writeFileSync(join(dir, file), content);
  await git(['-C', dir, 'add', file]);
  await git(['-C', dir, 'commit', '--quiet', '-m', `${file}: ${content.trim()}`]);
  return git(['-C', dir, 'rev-parse', 'HEAD']);
}

beforeAll(async () => {
  ecr = await startEcr({});
  cc = await startCodeCommit({ sts: ecr });
  cc.createRepository(REPO, { 'dev.yaml': 'a: 1\n' });
  root = tempDeploymentRoot(DEPLOYMENT);
  work = mkdtempSync(join(tmpdir(), 'imagewright-secrets-push-'));
  home = join(work, 'home');
  mkdirSync(home);
  writeFileSync(join(home, '.gitconfig'), GLOBAL_CONFIG);
  env = { ...cc.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config'), GIT_CONFIG_NOSYSTEM: '1' };
  adminArn = `arn:aws:iam::${ecr.accountId}:role/${ROLE}`;
  secretsDir = join(root, 'deployments', DEPLOYMENT, 'secrets');
  setupEnv = join(root, 'setup-env');
  const vars = { DEPLOYMENT_NAME: DEPLOYMENT, ECR_ACCOUNT_ID: ecr.accountId, AWS_REGION: ecr.region, ADMIN_ROLENAME: ROLE, SECRETS_REPO: cc.urlOf(REPO) };
  writeFileSync(setupEnv, Object.entries(vars).map(([k, v]) => `export ${k}=${shellQuote(v)}\n`).join(''));
});
afterAll(async () => {
  await cc?.stop();
  await ecr?.stop();
  for (const dir of [root, work]) if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('secrets-push', () => {
  it('DIR from the setup-env: the commit reaches the bare repository, pushed as ADMIN_ARN; the global config is unchanged', async () => {
    await clone(['--setup-env', setupEnv, '--codecommit']);
    const head = await commit(secretsDir, 'dev.yaml', 'a: 2\n');
    const before = await globalState();
    const seen = cc.requests.length;
    const roles = assumed().length;

    const r = await push(['--setup-env', setupEnv]);
    expect(r).toEqual({ code: 0, stdout: '', stderr: `secrets-push: pushed ${secretsDir}\n` });
    expect(await bare(['rev-parse', 'main'])).toBe(head);
    expect(await bare(['show', 'main:dev.yaml'])).toBe('a: 2');
    // The receive-pack went through authenticated, with a key STS issued for ADMIN_ARN.
    const issued = assumed().slice(roles);
    expect(issued.length).toBeGreaterThan(0);
    expect(issued.every((c) => c.roleArn === adminArn)).toBe(true);
    const packs = cc.requests.slice(seen).filter((q) => q.ok && q.path.endsWith('/git-receive-pack'));
    expect(packs.length).toBeGreaterThan(0);
    for (const q of packs) expect(issued.map((c) => c.issuedAccessKeyId)).toContain(q.accessKeyId);

    const after = await globalState();
    expect(after.list).toBe(before.list);
    expect(after.bytes.equals(before.bytes)).toBe(true);
  });

  it('DIR as argument (relative), no config: a clone made without a role pushes with the caller\'s own keys; a plain clone too', async () => {
    await clone(['--codecommit', cc.urlOf(REPO), 'mine/secrets']);
    const dir = join(work, 'mine', 'secrets');
    const head = await commit(dir, 'dev.yaml', 'a: 3\n');
    const before = await globalState();
    const seen = cc.requests.length;
    const roles = assumed().length;
    const r = await push(['mine/secrets']);
    expect(r).toEqual({ code: 0, stdout: '', stderr: 'secrets-push: pushed mine/secrets\n' });
    expect(await bare(['rev-parse', 'main'])).toBe(head);
    expect(assumed().length).toBe(roles);
    const packs = cc.requests.slice(seen).filter((q) => q.ok && q.path.endsWith('/git-receive-pack'));
    expect(packs.map((q) => q.accessKeyId)).toEqual([ecr.env.AWS_ACCESS_KEY_ID]);

    // A clone of a plain path: git's own transport, the stand-in never asked.
    const plain = join(work, 'plain');
    await clone([cc.repositoryPath(REPO), plain]);
    const next = await commit(plain, 'prod.yaml', 'b: 1\n');
    const requests = cc.requests.length;
    expect(await push([plain])).toEqual({ code: 0, stdout: '', stderr: `secrets-push: pushed ${plain}\n` });
    expect(await bare(['rev-parse', 'main'])).toBe(next);
    expect(cc.requests.length).toBe(requests);

    const after = await globalState();
    expect(after.list).toBe(before.list);
    expect(after.bytes.equals(before.bytes)).toBe(true);
  });

  it('wrong credentials: exit 1, one line, no secret; the bare repository unchanged', async () => {
    await clone(['--codecommit', cc.urlOf(REPO), join(work, 'wrong')]);
    await commit(join(work, 'wrong'), 'dev.yaml', 'a: wrong\n');
    const main = await bare(['rev-parse', 'main']);
    const badSecret = `${ecr.env.AWS_SECRET_ACCESS_KEY}x`;
    const r = await push([join(work, 'wrong')], { env: { ...env, AWS_SECRET_ACCESS_KEY: badSecret } });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')).toHaveLength(2);
    expect(r.stderr).toMatch(new RegExp(`^secrets-push: git push in ${join(work, 'wrong')} failed \\(exit 128\\): .*403`));
    for (const secret of [badSecret, ecr.env.AWS_SECRET_ACCESS_KEY!]) expect(r.stderr).not.toContain(secret);
    expect(await bare(['rev-parse', 'main'])).toBe(main);
  });

  it('someone pushed first: exit 1, one line saying git rejected it; their commit stays', async () => {
    await clone(['--codecommit', cc.urlOf(REPO), join(work, 'first')]);
    await clone(['--codecommit', cc.urlOf(REPO), join(work, 'second')]);
    const theirs = await commit(join(work, 'first'), 'dev.yaml', 'a: first\n');
    expect((await push([join(work, 'first')])).code).toBe(0);
    await commit(join(work, 'second'), 'dev.yaml', 'a: second\n');
    const r = await push([join(work, 'second')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')).toHaveLength(2);
    expect(r.stderr).toMatch(new RegExp(`^secrets-push: git push in ${join(work, 'second')} failed \\(exit 1\\): .*\\[rejected\\]`));
    expect(await bare(['rev-parse', 'main'])).toBe(theirs);
  });

  it('DIR not a clone (empty, missing, a folder inside a clone, no clone at SECRETS_DIR): exit 2, one line', async () => {
    const seen = cc.requests.length;
    const empty = join(work, 'empty');
    mkdirSync(empty);
    expectOneLine(await push([empty]), 2, new RegExp(`^secrets-push: ${empty}: not a git clone of the secrets repository \\(run secrets-clone first\\)$`, 'm'));
    expectOneLine(await push([join(work, 'missing')]), 2, /^secrets-push: \S+\/missing: not a git clone/);
    mkdirSync(join(work, 'mine', 'secrets', 'sub'));
    expectOneLine(await push(['mine/secrets/sub']), 2, /^secrets-push: mine\/secrets\/sub: not a git clone/);
    // A deployment whose secrets were never cloned.
    mkdirSync(join(root, 'deployments', 'fresh', 'image', 'environments'), { recursive: true });
    expectOneLine(await push([], { env: { ...env, IMAGEWRIGHT_ROOT: root, DEPLOYMENT_NAME: 'fresh' } }), 2, /^secrets-push: \S+\/deployments\/fresh\/secrets: not a git clone/);
    expect(cc.requests.length).toBe(seen);
  });
});
