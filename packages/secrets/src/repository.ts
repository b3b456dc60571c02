/*
 * The deployment's secrets repository (`<DEPLOYMENT_NAME>-secrets`, cloned into
 * deployments/<name>/secrets): clone, commit, push. The original secrets-clone pointed the user's
 * GLOBAL git config at `aws codecommit credential-helper`; here the credential helper is written
 * into the clone's own .git/config, for that repository's origin only, and nothing else changes.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { failure, shellQuote, usageError } from '@imagewright/core';
import { isCodecommitHost } from './codecommit';
import { checkRoleArn } from './sts';

/** The helper program git runs (built next to this file's compiled form). */
export const CREDENTIAL_HELPER_SCRIPT = join(__dirname, '..', 'dist', 'credential-helper.js');

export interface CloneSecretsOptions {
  /** The repository: https://git-codecommit.<region>.amazonaws.com/v1/repos/<name>, or any git URL or path. */
  url: string;
  /** Where the work tree goes: a new or empty directory. */
  dir: string;
  /** A role to assume for every fetch and push (ADMIN_ARN); CodeCommit mode only. */
  adminArn?: string;
  /**
   * CodeCommit credentials from our helper: on by default for git-codecommit.*.amazonaws.com
   * URLs, off for others; true forces it for any http(s) URL (a stand-in, a VPC endpoint alias).
   */
  codecommit?: boolean;
  /** The environment git and the helper run with (AWS_* credentials, AWS_REGION, HOME). */
  env?: NodeJS.ProcessEnv;
}

export interface ClonedSecrets {
  dir: string;
  codecommit: boolean;
  /** The settings written into the clone's .git/config (key, value), in order; none for a plain clone. */
  config: [string, string][];
}

/** A URL for messages: no user or password in it. */
function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}

/** Whether `url` is an https URL of CodeCommit's git endpoints. */
export function isCodecommitUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' && isCodecommitHost(u.host);
  } catch {
    return false;
  }
}

/** A word for sh (the credential helper's `!` command runs through the shell). */

/**
 * The local config that makes git ask our helper, and only our helper, for `url`'s origin:
 *   credential.<origin>.helper =            (empty: forget helpers from global/system config)
 *   credential.<origin>.helper = !<node> <credential-helper.js> [--role-arn ARN] [--ignore-host-check]
 *   credential.<origin>.useHttpPath = true  (the password signs the repository path)
 */
export function credentialHelperConfig(url: string, options: { adminArn?: string; ignoreHostCheck?: boolean } = {}): [string, string][] {
  const u = new URL(url);
  const section = `credential.${u.protocol}//${u.host}`;
  const words = [process.execPath, CREDENTIAL_HELPER_SCRIPT];
  if (options.adminArn) words.push('--role-arn', options.adminArn);
  if (options.ignoreHostCheck) words.push('--ignore-host-check');
  return [
    [`${section}.helper`, ''],
    [`${section}.helper`, `!${words.map(shellQuote).join(' ')}`],
    [`${section}.useHttpPath`, 'true'],
  ];
}

/** git's stderr as one line for an error message: its non-empty lines, hints dropped. */
function gitSaid(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('hint:'));
  return lines.join('; ').slice(0, 600) || 'no message';
}

async function git(args: string[], env: NodeJS.ProcessEnv): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const { $ } = require('zx') as typeof import('zx');
  const run = await $({ env, quiet: true, nothrow: true, stdio: ['ignore', 'pipe', 'pipe'] })`git ${args}`;
  return { exitCode: run.exitCode ?? 1, stdout: run.stdout, stderr: run.stderr };
}

/**
 * secrets-clone: `git clone url dir`. CodeCommit mode writes credentialHelperConfig into the new
 * repository only (git clone -c), so the clone and every later fetch and push get AWS credentials
 * from our helper; the user's global config is left as it was. Other URLs are cloned plainly with
 * the user's own git credentials. A failed clone leaves no directory behind (an empty one that was
 * there before stays, empty).
 */
export async function cloneSecrets(options: CloneSecretsOptions): Promise<ClonedSecrets> {
  const env = options.env ?? process.env;
  const { url } = options;
  if (!url) throw usageError('secrets repository URL is empty: allowed a git URL or path');
  const dir = resolve(options.dir);
  const codecommit = options.codecommit ?? isCodecommitUrl(url);
  let config: [string, string][] = [];
  if (codecommit) {
    let protocol = '';
    try {
      protocol = new URL(url).protocol;
    } catch {
      /* below */
    }
    if (protocol !== 'https:' && protocol !== 'http:') throw usageError(`secrets repository ${shownUrl(url)}: CodeCommit credentials need an https URL (https://git-codecommit.<region>.amazonaws.com/v1/repos/<name>)`);
    if (options.adminArn) checkRoleArn(options.adminArn);
    if (!existsSync(CREDENTIAL_HELPER_SCRIPT)) throw failure(`the credential helper ${CREDENTIAL_HELPER_SCRIPT} is missing: build @imagewright/secrets`);
    config = credentialHelperConfig(url, { adminArn: options.adminArn, ignoreHostCheck: !isCodecommitUrl(url) });
  }
  const existed = existsSync(dir);
  if (existed) {
    if (!statSync(dir).isDirectory()) throw usageError(`${dir}: exists and is not a directory; allowed a new or empty directory for the secrets clone`);
    if (readdirSync(dir).length) throw usageError(`${dir}: exists and is not empty; allowed a new or empty directory for the secrets clone`);
  }

  // Without prompts: when CodeCommit refuses our credentials there is nothing a user could type.
  const runEnv = codecommit ? { ...env, GIT_TERMINAL_PROMPT: '0' } : env;
  const run = await git(['clone', '--quiet', ...config.flatMap(([k, v]) => ['-c', `${k}=${v}`]), '--', url, dir], runEnv);
  if (run.exitCode !== 0) {
    // git removes what it made; this makes sure of it, whatever stopped it.
    if (!existed) rmSync(dir, { recursive: true, force: true });
    else for (const entry of readdirSync(dir)) rmSync(join(dir, entry), { recursive: true, force: true });
    throw failure(`git clone ${shownUrl(url)} into ${dir} failed (exit ${run.exitCode}): ${gitSaid(run.stderr)}`);
  }
  return { dir, codecommit, config };
}

/** A usageError unless `dir` is the top of a git work tree. */
async function checkWorkTree(dir: string, env: NodeJS.ProcessEnv): Promise<void> {
  const top = await git(['-C', dir, 'rev-parse', '--show-toplevel'], env);
  if (top.exitCode !== 0 || resolve(top.stdout.trim()) !== resolve(dir)) throw usageError(`${dir}: not a git clone of the secrets repository (run secrets-clone first)`);
}

/** secrets-push: `git push` in the clone; its local config supplies the credentials. */
export async function pushSecrets(dir: string, options: { env?: NodeJS.ProcessEnv } = {}): Promise<void> {
  const env = options.env ?? process.env;
  await checkWorkTree(dir, env);
  const run = await git(['-C', dir, 'push', '--quiet'], env);
  if (run.exitCode !== 0) throw failure(`git push in ${dir} failed (exit ${run.exitCode}): ${gitSaid(run.stderr)}`);
}

/**
 * `git add FILE` + `git commit -m MESSAGE -- FILE` in the clone (only that file: anything else the
 * user staged stays staged). Returns false when the file did not change (nothing committed).
 * The user's git identity is used; only when git has none (it would refuse to commit) are
 * user.name and user.email given for this one commit: the login name, and login@host.
 */
export async function commitFile(dir: string, file: string, message: string, options: { env?: NodeJS.ProcessEnv } = {}): Promise<boolean> {
  const env = options.env ?? process.env;
  if (!message.trim()) throw usageError('commit message is empty: allowed a non-empty message');
  await checkWorkTree(dir, env);
  const path = relative(resolve(dir), resolve(dir, file));
  if (!path || path.startsWith('..') || isAbsolute(path)) throw usageError(`${file}: not a file inside ${dir}`);
  const add = await git(['-C', dir, 'add', '--', path], env);
  if (add.exitCode !== 0) throw failure(`git add ${path} in ${dir} failed (exit ${add.exitCode}): ${gitSaid(add.stderr)}`);
  const staged = await git(['-C', dir, 'diff', '--cached', '--quiet', '--', path], env);
  if (staged.exitCode === 0) return false;
  if (staged.exitCode !== 1) throw failure(`git diff --cached ${path} in ${dir} failed (exit ${staged.exitCode}): ${gitSaid(staged.stderr)}`);

  const identity: string[] = [];
  const author = await git(['-C', dir, 'var', 'GIT_AUTHOR_IDENT'], env);
  const committer = await git(['-C', dir, 'var', 'GIT_COMMITTER_IDENT'], env);
  if (author.exitCode !== 0 || committer.exitCode !== 0) {
    const login = safeLogin();
    if ((await git(['-C', dir, 'config', 'user.name'], env)).stdout.trim() === '') identity.push('-c', `user.name=${login}`);
    if ((await git(['-C', dir, 'config', 'user.email'], env)).stdout.trim() === '') identity.push('-c', `user.email=${login}@${hostname() || 'localhost'}`);
  }
  const commit = await git([...identity, '-C', dir, 'commit', '--quiet', '-m', message, '--', path], env);
  if (commit.exitCode !== 0) throw failure(`git commit ${path} in ${dir} failed (exit ${commit.exitCode}): ${gitSaid(commit.stderr)}`);
  return true;
}

function safeLogin(): string {
  try {
    return userInfo().username || 'imagewright';
  } catch {
    return 'imagewright';
  }
}
