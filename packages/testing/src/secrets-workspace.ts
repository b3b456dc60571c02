import { deepStrictEqual, strictEqual } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { FIXTURES } from './bin';

/** The sops 3.7.1 fixtures (example.yaml/json/ini/txt), each for the two age identities of keys.txt. */
export const SOPS_FIXTURES = join(FIXTURES, 'sops');
/** The fixtures' keys.txt: both identities, each under its `# public key:` line. */
export const SOPS_KEYS = join(SOPS_FIXTURES, 'keys.txt');
const KEYS_TEXT = readFileSync(SOPS_KEYS, 'utf8');
/** The two fixture identities (AGE-SECRET-KEY-…), in keys.txt's order. */
export const SOPS_IDENTITIES: readonly string[] = KEYS_TEXT.split('\n').filter((l) => l.startsWith('AGE-SECRET-KEY-'));
/** Their public keys (age1…), in the same order: the fixtures list their recipients in that order too. */
export const SOPS_RECIPIENTS: readonly string[] = [...KEYS_TEXT.matchAll(/^# public key: (age1\S+)$/gm)].map((m) => m[1]!);

/** Where TRAPPED_GITCONFIG's global credential helper leaves its trace under HOME when git calls it. */
export const GLOBAL_HELPER_TRACE = 'global-helper-called';

/**
 * A user's global git config for tests that must not touch it: an identity and a global credential
 * helper that leaves a trace (HOME/GLOBAL_HELPER_TRACE) if git ever asks it for the secrets repository.
 */
export const TRAPPED_GITCONFIG = [
  '[user]',
  '\tname = Dana Deployer',
  '\temail = dana@example.org',
  '[credential]',
  `\thelper = "!f() { echo \\"$@\\" >> \\"$HOME/${GLOBAL_HELPER_TRACE}\\"; }; f"`,
  '',
].join('\n');

export interface SecretsWorkspace {
  /** The temp folder holding all below; removed by remove(). */
  work: string;
  /** A git repository whose one commit holds the YAML fixture at `file`. */
  repo: string;
  /** For TMPDIR: must be empty at assertClean() (no plaintext left). */
  tmp: string;
  /** For HOME: its .gitconfig (user.name/email) must be unchanged at assertClean(). */
  home: string;
  /** Where the fixture is, relative to repo. */
  file: string;
  /** git in `cwd` (repo by default) with HOME=home and no system or outer global config; throws unless it exits 0. */
  git(args: string[], cwd?: string): string;
  /** How many commits HEAD has. */
  commits(): number;
  /** TMPDIR empty and home's .gitconfig as written. */
  assertClean(): void;
  remove(): void;
}

/**
 * A temp folder for a secrets-* bin's test: repo (git init; example.yaml copied to `file` and
 * committed), tmp and home with a .gitconfig. The bin's own env (HOME, TMPDIR, identities) is the test's.
 */
export function secretsWorkspace(name: string, options: { gitconfig?: string; file?: string } = {}): SecretsWorkspace {
  const gitconfig = options.gitconfig ?? '[user]\n\tname = Secrets Tester\n\temail = tester@example.org\n';
  const file = options.file ?? 'secrets/prod.yaml';
  const work = mkdtempSync(join(tmpdir(), `iw-${name}-`));
  const [repo, tmp, home] = ['repo', 'tmp', 'home'].map((d) => join(work, d)) as [string, string, string];
  for (const d of [repo, tmp, home, dirname(join(repo, file))]) mkdirSync(d, { recursive: true });
  writeFileSync(join(home, '.gitconfig'), gitconfig);

  const git = (args: string[], cwd = repo): string => {
    // GIT_CONFIG_GLOBAL from outside would hide home's .gitconfig.
    const run = spawnSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, HOME: home, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: undefined } });
    if (run.status !== 0) throw new Error(`git ${args.join(' ')}: ${run.stderr}`);
    return run.stdout;
  };
  copyFileSync(join(SOPS_FIXTURES, 'example.yaml'), join(repo, file));
  git(['init', '--quiet']);
  git(['add', '.']);
  git(['commit', '--quiet', '-m', 'secrets: the fixture']);

  return {
    work,
    repo,
    tmp,
    home,
    file,
    git,
    commits: () => Number(git(['rev-list', '--count', 'HEAD']).trim()),
    // node:assert: vitest cannot be required from this CommonJS package.
    assertClean: () => {
      deepStrictEqual(readdirSync(tmp), [], `TMPDIR ${tmp} is not empty`);
      strictEqual(readFileSync(join(home, '.gitconfig'), 'utf8'), gitconfig, `${join(home, '.gitconfig')} was changed`);
    },
    remove: () => rmSync(work, { recursive: true, force: true }),
  };
}
