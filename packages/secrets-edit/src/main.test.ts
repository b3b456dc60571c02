import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runBin, secretsWorkspace, SOPS_FIXTURES, SOPS_KEYS, SOPS_RECIPIENTS, startEcr, type Ecr, type SecretsWorkspace } from '@imagewright/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

// secrets-edit's built bin in a real git repository made here, with editors that are shell scripts
// (sed on the temp file, exit 1, kill -9, sleep while the test signals secrets-edit). TMPDIR is a
// folder of the test's own: after every case no plaintext may be left in it. HOME is a temp folder
// whose .gitconfig (user.name/email) must come out of every case unchanged.

const SOPS = SOPS_FIXTURES;
const KEYS = SOPS_KEYS;
const PUBLIC = SOPS_RECIPIENTS;
const FILE = 'secrets/prod.yaml';
const MARKER = 'EDITOR-READY';

let ws: SecretsWorkspace;
let work: string;
let repo: string;
let tmp: string;
let home: string;
/** Where editor scripts leave their notes: outside TMPDIR. */
let notes: string;
const git = (args: string[], cwd?: string) => ws.git(args, cwd);
const commits = () => ws.commits();

beforeEach(() => {
  ws = secretsWorkspace('secrets-edit', { gitconfig: '[user]\n\tname = Secrets Tester\n\temail = tester@example.org\n', file: FILE });
  ({ work, repo, tmp, home } = ws);
  notes = join(work, 'notes');
  for (const d of [notes, join(work, 'bin')]) mkdirSync(d);
});

afterEach(() => {
  // Whatever happened: no plaintext (nor anything else) left in TMPDIR, the global git config as it was.
  try {
    ws.assertClean();
  } finally {
    ws.remove();
  }
});

/** An editor: a shell script run with the temp file as $1. */
function editor(name: string, body: string): string {
  const path = join(work, 'bin', name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}
/** The editor that changes the user of app2's database (sed on the temp file). */
const SED_USER = `sed -i 's/^        user: eve$/        user: mallory/' "$1"`;

function edit(args: string[], env: NodeJS.ProcessEnv = {}, signalWhen?: { text: string; signal: NodeJS.Signals }) {
  return runBin('secrets-edit', args, {
    cwd: repo,
    signalWhen,
    env: {
      HOME: home,
      TMPDIR: tmp,
      SOPS_AGE_KEY_FILE: KEYS,
      SOPS_AGE_KEY: undefined,
      SOPS_AGE_KEY_CMD: undefined,
      XDG_CONFIG_HOME: undefined,
      VISUAL: undefined,
      EDITOR: undefined,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: undefined,
      ...env,
    },
  });
}

const cat = (args: string[]) => runBin('secrets-cat', args, { cwd: repo, env: { HOME: home, TMPDIR: tmp, SOPS_AGE_KEY_FILE: KEYS, SOPS_AGE_KEY: undefined, SOPS_AGE_KEY_CMD: undefined } });
const bytes = (file = FILE) => readFileSync(join(repo, file));

describe('secrets-edit', () => {
  it('one value changed: re-encrypted, only its line changed (other ciphertext byte for byte), committed naming the file; secrets-cat shows it', async () => {
    const before = commits();
    const r = await edit([FILE], { EDITOR: editor('sed.sh', SED_USER) });
    expect(r.stderr).toContain('re-encrypted');
    expect(r.code).toBe(0);
    expect(commits()).toBe(before + 1);
    expect(git(['log', '-1', '--format=%s'])).toBe(`secrets: edit ${FILE}\n`);
    expect(git(['log', '-1', '--format=%an <%ae>'])).toBe('Secrets Tester <tester@example.org>\n');
    expect(git(['status', '--porcelain'])).toBe('');
    // The commit's diff: above sops:, the user line alone (the rest of the metadata is what an edit renews).
    const [old, now] = [readFileSync(join(SOPS, 'example.yaml'), 'utf8'), bytes().toString('utf8')];
    const bodyLines = new Set(now.slice(0, now.indexOf('\nsops:\n')).split('\n'));
    const diff = git(['diff', '--unified=0', 'HEAD~1', 'HEAD', '--', FILE]).split('\n');
    const added = diff.filter((l) => l.startsWith('+') && !l.startsWith('+++') && bodyLines.has(l.slice(1)));
    expect(added.map((l) => l.replace(/ENC\[AES256_GCM,data:[^\]]+,type:str\]$/, 'ENC'))).toEqual(['+        user: ENC']);
    const removed = diff.filter((l) => l.startsWith('-') && !l.startsWith('---') && old.slice(0, old.indexOf('\nsops:\n')).split('\n').includes(l.slice(1)));
    expect(removed.map((l) => l.replace(/ENC\[AES256_GCM,data:[^\]]+,type:str\]$/, 'ENC'))).toEqual(['-        user: ENC']);
    // Byte for byte: every line above sops: but the user's.
    const untouched = (t: string) => t.slice(0, t.indexOf('\nsops:\n')).split('\n').filter((l) => !l.startsWith('        user: '));
    expect(untouched(now)).toEqual(untouched(old));
    expect(now).not.toContain('mallory');
    const shown = await cat(['--extract', '["app2"]["db"]["user"]', FILE]);
    expect(shown).toEqual({ code: 0, stdout: 'mallory', stderr: '' });
  });

  it('nothing changed: exit 0 with a message, no write, no commit', async () => {
    const [before, was] = [commits(), bytes()];
    const r = await edit([FILE], { EDITOR: editor('noop.sh', 'true') });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/no changes; nothing re-encrypted or committed/);
    expect(commits()).toBe(before);
    expect(bytes().equals(was)).toBe(true);
  });

  it('the editor exits 1, or changes the file and then fails: exit 1, file unchanged, no commit', async () => {
    const [before, was] = [commits(), bytes()];
    const failing = await edit([FILE], { EDITOR: editor('fail.sh', 'exit 1') });
    expect(failing.code).toBe(1);
    expect(failing.stderr).toMatch(/exited with 1/);
    const halfway = await edit([FILE], { EDITOR: editor('half.sh', `${SED_USER}\nexit 3`) });
    expect(halfway.code).toBe(1);
    expect(halfway.stderr).toMatch(/exited with 3/);
    expect(commits()).toBe(before);
    expect(bytes().equals(was)).toBe(true);
  });

  it('the editor killed (kill -9 $$ after changing the file): exit 1, file unchanged', async () => {
    const was = bytes();
    const r = await edit([FILE], { EDITOR: editor('killed.sh', `${SED_USER}\nkill -9 $$`) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/killed \(SIGKILL\)/);
    expect(bytes().equals(was)).toBe(true);
  });

  for (const [signal, number] of [
    ['SIGTERM', 15],
    ['SIGHUP', 1],
  ] as const) {
    it(`${signal} to secrets-edit while the editor runs: both end (exit ${128 + number}), file unchanged, temp dir removed`, async () => {
      const [before, was] = [commits(), bytes()];
      // The editor has changed its file when the signal comes: that must not be saved.
      const waiting = editor('wait.sh', `${SED_USER}\nls "$(dirname "$1")" > ${notes}/listed\necho ${MARKER} >&2\nexec sleep 60`);
      const started = Date.now();
      const r = await edit([FILE], { EDITOR: waiting }, { text: MARKER, signal });
      expect(r.code).toBe(128 + number);
      // The editor was ended with it: nothing kept the pipes open for its minute.
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(readFileSync(join(notes, 'listed'), 'utf8')).toBe('prod.yaml\n');
      expect(bytes().equals(was)).toBe(true);
      expect(commits()).toBe(before);
    });
  }

  it('SIGINT while the editor runs is passed to the editor (a script dies of it): exit 1, file unchanged, no plaintext left', async () => {
    const was = bytes();
    const script = editor('int.sh', `trap 'echo interrupted > ${notes}/int; kill $! 2>/dev/null; exit 130' INT\n${SED_USER}\necho ${MARKER} >&2\nsleep 60 >/dev/null 2>&1 &\nwait`);
    const r = await edit([FILE], { EDITOR: script }, { text: MARKER, signal: 'SIGINT' });
    expect(readFileSync(join(notes, 'int'), 'utf8')).toBe('interrupted\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/exited with 130/);
    expect(bytes().equals(was)).toBe(true);
  });

  it('the temp file is 0600 in a 0700 folder under TMPDIR, named like the file, holding the plaintext', async () => {
    const script = editor('stat.sh', `stat -c '%a' "$1" > ${notes}/file\nstat -c '%a' "$(dirname "$1")" > ${notes}/dir\ndirname "$(dirname "$1")" > ${notes}/parent\nbasename "$1" > ${notes}/name\ngrep -c '^        user: eve$' "$1" > ${notes}/plain`);
    const r = await edit([FILE], { EDITOR: script });
    expect(r.code).toBe(0);
    const note = (n: string) => readFileSync(join(notes, n), 'utf8').trim();
    expect([note('file'), note('dir'), note('parent'), note('name'), note('plain')]).toEqual(['600', '700', tmp, 'prod.yaml', '1']);
  });

  it('VISUAL wins over EDITOR', async () => {
    const r = await edit([FILE], { VISUAL: editor('visual.sh', `echo visual >> ${notes}/ran`), EDITOR: editor('editor.sh', `echo editor >> ${notes}/ran`) });
    expect(r.code).toBe(0);
    expect(readFileSync(join(notes, 'ran'), 'utf8')).toBe('visual\n');
  });

  it('an EDITOR with arguments runs through the shell, as git runs it', async () => {
    const script = editor('args.sh', `echo "$1" > ${notes}/first\n${SED_USER.replace('"$1"', '"$2"')}`);
    const r = await edit([FILE, '--no-commit'], { EDITOR: `${script} --wait` });
    expect(r.code).toBe(0);
    expect(readFileSync(join(notes, 'first'), 'utf8')).toBe('--wait\n');
    expect((await cat(['--extract', '["app2"]["db"]["user"]', FILE])).stdout).toBe('mallory');
    // More than one command: run by the shell as written.
    const prefixed = await edit([FILE, '--no-commit'], { EDITOR: `NOTE=prefixed ${editor('env.sh', `echo "$NOTE" > ${notes}/env`)}` });
    expect(prefixed.code).toBe(0);
    expect(readFileSync(join(notes, 'env'), 'utf8')).toBe('prefixed\n');
  });

  it('a tampered file (one ciphertext character): exit 1 naming the file, the editor never started', async () => {
    const text = bytes().toString('utf8');
    const tampered = text.replace(/(password: ENC\[AES256_GCM,data:)(.)/, (_m, head: string, c: string) => head + (c === 'A' ? 'B' : 'A'));
    expect(tampered).not.toBe(text);
    writeFileSync(join(repo, FILE), tampered);
    const r = await edit([FILE], { EDITOR: editor('never.sh', `touch ${notes}/started`) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('prod.yaml');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(notes, 'started'))).toBe(false);
    expect(bytes().toString('utf8')).toBe(tampered);
  });

  it('a new file matching a .sops.yaml creation rule: made for its recipients and committed', async () => {
    writeFileSync(join(repo, '.sops.yaml'), `creation_rules:\n  - path_regex: secrets/.*\\.yaml$\n    age: ${PUBLIC[1]}\n`);
    const before = commits();
    const r = await edit(['secrets/staging.yaml'], { EDITOR: editor('write.sh', `printf 'token: abc\\nport: 8080\\n' > "$1"`) });
    expect(r.code).toBe(0);
    expect(commits()).toBe(before + 1);
    expect(git(['log', '-1', '--format=%s'])).toBe('secrets: edit secrets/staging.yaml\n');
    expect(git(['show', '--name-only', '--format=', 'HEAD'])).toBe('secrets/staging.yaml\n');
    const made = bytes('secrets/staging.yaml').toString('utf8');
    expect(made).toMatch(/^token: ENC\[AES256_GCM,.*type:str\]\nport: ENC\[AES256_GCM,.*type:int\]\nsops:\n/);
    expect(made).toContain(`recipient: ${PUBLIC[1]}`);
    expect(made).not.toContain(PUBLIC[0]);
    expect((await cat(['secrets/staging.yaml'])).stdout).toBe('token: abc\nport: 8080\n');
  });

  it('a new file with an editor that writes nothing: no file, exit 0', async () => {
    writeFileSync(join(repo, '.sops.yaml'), `creation_rules:\n  - age: ${PUBLIC[0]}\n`);
    const r = await edit(['secrets/empty.yaml'], { EDITOR: editor('noop.sh', 'true') });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/no file made/);
    expect(existsSync(join(repo, 'secrets/empty.yaml'))).toBe(false);
  });

  it('a new file with no rule: exit 2, the editor not started, no file; --recipient makes one', async () => {
    const never = editor('never.sh', `touch ${notes}/started\nprintf 'a: b\\n' > "$1"`);
    const r = await edit(['secrets/new.yaml'], { EDITOR: never });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no recipients/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(notes, 'started'))).toBe(false);
    expect(existsSync(join(repo, 'secrets/new.yaml'))).toBe(false);

    const made = await edit(['secrets/new.yaml', '--recipient', PUBLIC[0]!, '-m', 'secrets: a new one'], { EDITOR: never });
    expect(made.code).toBe(0);
    expect(git(['log', '-1', '--format=%s'])).toBe('secrets: a new one\n');
    expect((await cat(['secrets/new.yaml'])).stdout).toBe('a: b\n');
    // --recipient is for new files only.
    const refused = await edit([FILE, '--recipient', PUBLIC[0]!], { EDITOR: never });
    expect(refused.code).toBe(2);
  });

  it('a new file with --recipient under a .sops.yaml none of whose rules match: exit 2 before the editor opens (as sops, the rule is needed)', async () => {
    writeFileSync(join(repo, '.sops.yaml'), `creation_rules:\n  - path_regex: ^elsewhere/\n    age: ${PUBLIC[0]}\n`);
    const r = await edit(['secrets/new.yaml', '--recipient', PUBLIC[1]!], { EDITOR: editor('never.sh', `touch ${notes}/started\nprintf 'a: b\\n' > "$1"`) });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no creation rule matches secrets\/new\.yaml/);
    expect(existsSync(join(notes, 'started'))).toBe(false);
    expect(existsSync(join(repo, 'secrets/new.yaml'))).toBe(false);
  });

  it('what the editor saved does not parse: exit 2 naming the file, the file as it was', async () => {
    const was = bytes();
    const r = await edit([FILE], { EDITOR: editor('break.sh', `printf 'a: [unclosed\\n' > "$1"`) });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('prod.yaml');
    expect(bytes().equals(was)).toBe(true);
  });

  it('other staged changes stay staged and out of the commit', async () => {
    writeFileSync(join(repo, 'notes.txt'), 'staged by the user\n');
    git(['add', 'notes.txt']);
    const r = await edit([FILE], { EDITOR: editor('sed.sh', SED_USER) });
    expect(r.code).toBe(0);
    expect(git(['show', '--name-only', '--format=', 'HEAD'])).toBe(`${FILE}\n`);
    expect(git(['status', '--porcelain'])).toBe('A  notes.txt\n');
  });

  it('--no-commit: the file is re-encrypted, nothing committed', async () => {
    const [before, was] = [commits(), bytes()];
    const r = await edit([FILE, '--no-commit'], { EDITOR: editor('sed.sh', SED_USER) });
    expect(r.code).toBe(0);
    expect(commits()).toBe(before);
    expect(bytes().equals(was)).toBe(false);
    expect(git(['status', '--porcelain'])).toBe(` M ${FILE}\n`);
  });

  it('outside a git repository: re-encrypted, and told it was not committed', async () => {
    const loose = join(work, 'loose.yaml');
    copyFileSync(join(SOPS, 'example.yaml'), loose);
    const r = await edit([loose], { EDITOR: editor('sed.sh', SED_USER) });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/not in a git repository; not committed/);
    expect((await cat(['--extract', '["app2"]["db"]["user"]', loose])).stdout).toBe('mallory');
  });
});

describe('secrets-edit with a KMS creation rule (the AWS stand-in)', () => {
  let aws: Ecr;
  beforeAll(async () => {
    aws = await startEcr({});
    if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(aws.env.AWS_ENDPOINT_URL_KMS)) throw new Error('refusing a non-loopback AWS endpoint');
  });
  afterAll(async () => {
    await aws?.stop();
  });
  /** The stand-in's endpoints and keys, no age identity, no outer AWS profile. */
  const awsEnv = (): NodeJS.ProcessEnv => ({ ...aws.env, SOPS_AGE_KEY_FILE: undefined, AWS_PROFILE: undefined, AWS_SESSION_TOKEN: undefined });

  it('a new file for a KMS key: made and committed; secrets-cat opens it through KMS alone', async () => {
    const arn = aws.createKmsKey();
    writeFileSync(join(repo, '.sops.yaml'), `creation_rules:\n  - kms: ${arn}\n`);
    const r = await edit(['secrets/kms.yaml'], { ...awsEnv(), EDITOR: editor('write.sh', `printf 'token: via-kms\\n' > "$1"`) });
    expect(r.code, r.stderr).toBe(0);
    expect(git(['log', '-1', '--format=%s'])).toBe('secrets: edit secrets/kms.yaml\n');
    expect(bytes('secrets/kms.yaml').toString('utf8')).toContain(`arn: ${arn}`);
    const shown = await runBin('secrets-cat', ['secrets/kms.yaml'], { cwd: repo, env: { HOME: home, TMPDIR: tmp, SOPS_AGE_KEY: undefined, SOPS_AGE_KEY_CMD: undefined, ...awsEnv() } });
    expect(shown).toEqual({ code: 0, stdout: 'token: via-kms\n', stderr: '' });
  });

  it('KMS refusing (a disabled key): exit 1 before the editor opens, no file', async () => {
    const arn = aws.createKmsKey();
    aws.setKmsKeyEnabled(arn, false);
    writeFileSync(join(repo, '.sops.yaml'), `creation_rules:\n  - kms: ${arn}\n`);
    const r = await edit(['secrets/kms.yaml'], { ...awsEnv(), EDITOR: editor('never.sh', `touch ${notes}/started\nprintf 'a: b\\n' > "$1"`) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/DisabledException/);
    expect(existsSync(join(notes, 'started'))).toBe(false);
    expect(existsSync(join(repo, 'secrets/kms.yaml'))).toBe(false);
  });
});
