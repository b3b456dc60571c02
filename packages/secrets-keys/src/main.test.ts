import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSecrets } from '@imagewright/secrets';
import { runBin, secretsWorkspace, SOPS_IDENTITIES, SOPS_KEYS, SOPS_RECIPIENTS, startEcr, type Ecr, type SecretsWorkspace } from '@imagewright/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

// secrets-keys' built bin on a copy of the sops 3.7.1 YAML fixture in a real git repository made
// here: listing needs no identity; --add/--remove/--rotate are checked by who can open the file
// afterwards (secrets-cat with one identity alone, Debian age-keygen for new ones) and by the
// ciphertext (kept on --add/--remove, all new on --rotate), and each change is committed.

const KEYS = SOPS_KEYS;
const IDENTITIES = SOPS_IDENTITIES;
const PUBLIC = SOPS_RECIPIENTS;
const FILE = 'secrets/prod.yaml';

let ws: SecretsWorkspace;
let repo: string;
let tmp: string;
let home: string;
const git = (args: string[]) => ws.git(args);
const commits = () => ws.commits();

beforeEach(() => {
  ws = secretsWorkspace('secrets-keys', { gitconfig: '[user]\n\tname = Keys Tester\n\temail = keys@example.org\n', file: FILE });
  ({ repo, tmp, home } = ws);
});
afterEach(() => {
  try {
    ws.assertClean();
  } finally {
    ws.remove();
  }
});

/** No identity at all unless given: nothing from the outer environment or HOME. */
const bare = (env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ HOME: home, TMPDIR: tmp, SOPS_AGE_KEY: undefined, SOPS_AGE_KEY_FILE: undefined, SOPS_AGE_KEY_CMD: undefined, XDG_CONFIG_HOME: undefined, GIT_CONFIG_NOSYSTEM: '1', ...env });
const keys = (args: string[], env: NodeJS.ProcessEnv = { SOPS_AGE_KEY_FILE: KEYS }) => runBin('secrets-keys', args, { cwd: repo, env: bare(env) });
/** secrets-cat with `identity` as the only one. */
const catWith = (identity: string, args: string[] = [FILE]) => runBin('secrets-cat', args, { cwd: repo, env: bare({ SOPS_AGE_KEY: identity }) });
const text = () => readFileSync(join(repo, FILE), 'utf8');
const encs = (t: string) => [...t.matchAll(/ENC\[AES256_GCM,[^\]]*\]/g)].map((m) => m[0]);

function ageKeygen(): { identity: string; recipient: string } {
  const run = spawnSync('age-keygen', { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  return { identity: run.stdout.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!, recipient: /^# public key: (age1\S+)$/m.exec(run.stdout)![1]! };
}

describe('secrets-keys', () => {
  it('lists the recipients (table and --json) with no identity at all', async () => {
    const table = await keys([FILE], {});
    expect(table.code, table.stderr).toBe(0);
    const rows = table.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/));
    expect(rows).toEqual([
      ['GROUP', 'TYPE', 'RECIPIENT', 'ROLE', 'CONTEXT'],
      ['1', 'age', PUBLIC[0], '-', '-'],
      ['1', 'age', PUBLIC[1], '-', '-'],
    ]);
    const json = await keys([FILE, '--json'], {});
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ file: join(repo, FILE), groups: [PUBLIC.map((recipient) => ({ type: 'age', recipient }))] });
  });

  it('--add: the new identity alone can cat; ciphertext untouched; committed', async () => {
    const fresh = ageKeygen();
    const before = text();
    const plaintext = (await catWith(IDENTITIES[0]!)).stdout;
    expect((await catWith(fresh.identity)).code).toBe(1);
    const n = commits();

    const r = await keys([FILE, '--add', fresh.recipient]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`+${fresh.recipient}`);
    expect(encs(text())).toEqual(encs(before));
    expect(await catWith(fresh.identity)).toEqual({ code: 0, stdout: plaintext, stderr: '' });
    expect(commits()).toBe(n + 1);
    expect(git(['log', '-1', '--format=%s'])).toBe(`secrets: keys of ${FILE}: +${fresh.recipient}\n`);
    expect(git(['show', '--name-only', '--format=', 'HEAD'])).toBe(`${FILE}\n`);
    expect(JSON.parse((await keys([FILE, '--json'], {})).stdout).groups[0].map((r: { recipient: string }) => r.recipient)).toEqual([...PUBLIC, fresh.recipient]);

    // Once more: nothing to do, nothing written or committed; --json still answers.
    const written = text();
    const again = await keys([FILE, '--add', fresh.recipient]);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/no change/);
    const json = await keys([FILE, '--add', fresh.recipient, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ file: join(repo, FILE), groups: [[...PUBLIC, fresh.recipient].map((recipient) => ({ type: 'age', recipient }))], changes: [] });
    expect(commits()).toBe(n + 1);
    expect(text()).toBe(written);
  });

  it('--remove: that identity can no longer cat, the other still can', async () => {
    const r = await keys([FILE, '--remove', PUBLIC[0]!]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`-${PUBLIC[0]}`);
    const refused = await catWith(IDENTITIES[0]!);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(PUBLIC[1]);
    expect((await catWith(IDENTITIES[1]!)).code).toBe(0);
    expect(git(['log', '-1', '--format=%s'])).toBe(`secrets: keys of ${FILE}: -${PUBLIC[0]}\n`);
    // The last one cannot go.
    const was = text();
    const last = await keys([FILE, '--remove', PUBLIC[1]!]);
    expect(last.code).toBe(2);
    expect(last.stderr.trim().split('\n')).toHaveLength(1);
    expect(text()).toBe(was);
  });

  it('--rotate: every ciphertext new, the plaintext the same for both identities; committed', async () => {
    const before = text();
    const plaintext = (await catWith(IDENTITIES[0]!)).stdout;
    const r = await keys([FILE, '--rotate']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('rotated the data key');
    const [eb, ea] = [encs(before), encs(text())];
    expect(ea).toHaveLength(eb.length);
    for (const e of ea) expect(eb).not.toContain(e);
    for (const identity of IDENTITIES) expect((await catWith(identity)).stdout).toBe(plaintext);
    expect(git(['log', '-1', '--format=%s'])).toBe(`secrets: keys of ${FILE}: rotated the data key\n`);
  });

  it('--remove and --rotate at once (what to do after someone leaves)', async () => {
    const r = await keys([FILE, '--remove', PUBLIC[1]!, '--rotate', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ file: join(repo, FILE), groups: [[{ type: 'age', recipient: PUBLIC[0] }]], changes: [`-${PUBLIC[1]}`, 'rotated the data key'] });
    expect((await catWith(IDENTITIES[1]!)).code).toBe(1);
    expect((await catWith(IDENTITIES[0]!)).code).toBe(0);
  });

  it('a bad recipient: exit 2, one line, file and history unchanged; a private key is not echoed', async () => {
    const [was, n] = [text(), commits()];
    for (const bad of ['age1notakey', 'arn:aws:kms:us-east-1:123:nope', 'someone@example.org']) {
      const r = await keys([FILE, '--add', bad]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr.trim().split('\n'), bad).toHaveLength(1);
      expect(r.stderr, bad).toContain('--add');
    }
    const secret = ageKeygen().identity;
    const pasted = await keys([FILE, '--add', secret]);
    expect(pasted.code).toBe(2);
    expect(pasted.stderr).not.toContain(secret.slice(15));
    expect(text()).toBe(was);
    expect(commits()).toBe(n);
  });

  it('--group out of range, or not a number: exit 2', async () => {
    const fresh = ageKeygen();
    const was = text();
    const out = await keys([FILE, '--add', fresh.recipient, '--group', '2']);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/--group 2: allowed 1 to 1/);
    for (const bad of ['0', 'one']) {
      const r = await keys([FILE, '--add', fresh.recipient, '--group', bad]);
      expect(r.code, bad).toBe(2);
    }
    expect((await keys([FILE, '--group', '1'])).code).toBe(2);
    expect(text()).toBe(was);
  });

  it('--no-commit: the file changes, nothing is committed', async () => {
    const n = commits();
    const r = await keys([FILE, '--rotate', '--no-commit']);
    expect(r.code, r.stderr).toBe(0);
    expect(commits()).toBe(n);
    expect(git(['status', '--porcelain'])).toBe(` M ${FILE}\n`);
  });

  it('a change needs the data key: without an identity, exit 1 and nothing written', async () => {
    const was = text();
    const r = await keys([FILE, '--add', ageKeygen().recipient], {});
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot get its data key/);
    expect(text()).toBe(was);
  });
});

describe('secrets-keys with KMS recipients (the AWS stand-in) and key groups', () => {
  let aws: Ecr;
  beforeAll(async () => {
    aws = await startEcr({});
    if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(aws.env.AWS_ENDPOINT_URL_KMS)) throw new Error('refusing a non-loopback AWS endpoint');
  });
  afterAll(async () => {
    await aws?.stop();
  });
  const awsEnv = (): NodeJS.ProcessEnv => ({ ...aws.env, AWS_PROFILE: undefined, AWS_SESSION_TOKEN: undefined });

  it('--add KEY+ROLE: listed with its role; secrets-cat opens the file through KMS alone (the role assumed); --remove KEY drops it', async () => {
    const role = `arn:aws:iam::${aws.accountId}:role/secrets-admin`;
    const arn = aws.createKmsKey({ allow: [role] });
    const plaintext = (await catWith(IDENTITIES[0]!)).stdout;
    const added = await keys([FILE, '--add', `${arn}+${role}`], { SOPS_AGE_KEY_FILE: KEYS, ...awsEnv() });
    expect(added.code, added.stderr).toBe(0);
    expect(added.stderr).toContain(`+${arn}+${role}`);

    const table = await keys([FILE], {});
    expect(table.stdout.trim().split('\n').at(-1)!.split(/\s+/)).toEqual(['1', 'kms', arn, role, '-']);
    const calls = aws.calls.length;
    const viaKms = await runBin('secrets-cat', [FILE], { cwd: repo, env: bare(awsEnv()) });
    expect(viaKms).toEqual({ code: 0, stdout: plaintext, stderr: '' });
    expect(aws.calls.slice(calls).map((c) => `${c.service} ${c.operation}`)).toEqual(['sts AssumeRole', 'kms Decrypt']);

    const removed = await keys([FILE, '--remove', arn], { SOPS_AGE_KEY_FILE: KEYS });
    expect(removed.code, removed.stderr).toBe(0);
    expect((await runBin('secrets-cat', [FILE], { cwd: repo, env: bare(awsEnv()) })).code).toBe(1);
    expect(git(['log', '--format=%s', '-2'])).toBe(`secrets: keys of ${FILE}: -${arn}\nsecrets: keys of ${FILE}: +${arn}+${role}\n`);
  });

  it('a file of two key groups (age | KMS): listed per group with the threshold; --group 2 adds there; --rotate keeps both groups needed', async () => {
    const arn = aws.createKmsKey();
    const path = join(repo, 'secrets', 'split.yaml');
    await createSecrets(path, Buffer.from('a: one\n'), { env: { ...process.env, ...awsEnv() }, groups: [[{ type: 'age', recipient: PUBLIC[0]! }], [{ type: 'kms', arn }]] });
    const listed = await keys(['secrets/split.yaml'], {});
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/).slice(0, 3))).toEqual([['1', 'age', PUBLIC[0]], ['2', 'kms', arn]]);
    expect(listed.stderr).toBe('secrets-keys: 2 of 2 key groups open the file\n');

    const fresh = ageKeygen();
    const both = { SOPS_AGE_KEY_FILE: KEYS, ...awsEnv() };
    const added = await keys(['secrets/split.yaml', '--add', fresh.recipient, '--group', '2', '--rotate', '--no-commit', '--json'], both);
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ groups: [[{ recipient: PUBLIC[0] }], [{ recipient: fresh.recipient }, { arn }]], shamirThreshold: 2, changes: [`+${fresh.recipient}`, 'rotated the data key'] });
    // Group 2 through the new identity with group 1's: opens; one group alone does not.
    expect((await catWith(`${IDENTITIES[0]}\n${fresh.identity}`, ['secrets/split.yaml'])).stdout).toBe('a: one\n');
    expect((await catWith(fresh.identity, ['secrets/split.yaml'])).code).toBe(1);
    expect((await runBin('secrets-cat', ['secrets/split.yaml'], { cwd: repo, env: bare({ SOPS_AGE_KEY: IDENTITIES[0], ...awsEnv() }) })).stdout).toBe('a: one\n');
  });
});
