import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES } from '@imagewright/testing';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ageUnwrap, ageWrap, findAgeIdentities, parseAgeIdentities, splitCommand } from './age';
import { unwrapDataKey, wrapDataKey } from './keys';
import type { AgeKey, Metadata } from './metadata';

const SOPS = join(FIXTURES, 'sops');
const AGE_CLI = spawnSync('age', ['--version'], { encoding: 'utf8' }).status === 0;
// The fixture's two identities (public test keys from sops' repository), each alone.
const KEYS_TXT = readFileSync(join(SOPS, 'keys.txt'), 'utf8');
const IDENTITIES = KEYS_TXT.split('\n').filter((l) => l.startsWith('AGE-SECRET-KEY-1'));
const FIXTURE_RECIPIENTS = ['age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw', 'age1tmaae3ld5vpevmsh5yacsauzx8jetg300mpvc4ugp5zr5l6ssq9sla97ep'];

/** The `sops:` block of a fixture, as far as the key code needs it (H1's stores read the whole). */
function fixtureMetadata(file: string): Pick<Metadata, 'keyGroups'> {
  const text = readFileSync(join(SOPS, file), 'utf8');
  const doc = (file.endsWith('.json') ? JSON.parse(text) : parseYaml(text)) as { sops: { age: AgeKey[] } };
  return { keyGroups: [{ age: doc.sops.age.map((k) => ({ recipient: k.recipient, enc: k.enc })), kms: [], other: {} }] };
}

/** A clean environment for identity lookup: only what the test sets, HOME and XDG in a temp dir. */
function envWith(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: home, ...extra };
}

function ageCli(args: string[], input: Buffer | string): Buffer {
  const run = spawnSync('age', args, { input });
  if (run.status !== 0) throw new Error(`age ${args.join(' ')}: ${run.stderr.toString()}`);
  return run.stdout;
}

describe('age wrapping of the data key (sops age/keysource.go)', () => {
  let dir: string;
  let identity: string;
  let recipient: string;

  beforeAll(async () => {
    if (!AGE_CLI && process.env.CI === 'true') throw new Error('the Debian age CLI is needed in CI (apt-get install age)');
    dir = mkdtempSync(join(tmpdir(), 'imagewright-age-'));
    identity = await generateX25519Identity();
    recipient = await identityToRecipient(identity);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.skipIf(!AGE_CLI && process.env.CI !== 'true')('wraps the raw key bytes as an armored age file the age CLI decrypts to the same 32 bytes', async () => {
    const dataKey = randomBytes(32);
    const wrapped = await ageWrap(dataKey, recipient);
    expect(wrapped.recipient).toBe(recipient);
    const lines = wrapped.enc.split('\n');
    expect(lines[0]).toBe('-----BEGIN AGE ENCRYPTED FILE-----');
    expect(lines.at(-2)).toBe('-----END AGE ENCRYPTED FILE-----');
    expect(lines.at(-1)).toBe(''); // a final newline, as sops' armor writer ends it
    expect(lines.slice(1, -2).every((l) => l.length <= 64)).toBe(true);
    const keys = join(dir, 'keys.txt');
    writeFileSync(keys, `# test identity\n${identity}\n`, { mode: 0o600 });
    expect(ageCli(['-d', '-i', keys], wrapped.enc).equals(dataKey)).toBe(true);
  });

  it.skipIf(!AGE_CLI && process.env.CI !== 'true')('unwraps what the age CLI armored, for a fresh key and for the fixture recipients with their identities', async () => {
    const dataKey = randomBytes(32);
    const armored = ageCli(['-e', '-a', '-r', recipient], dataKey).toString('utf8');
    expect((await ageUnwrap(armored, [identity]))?.equals(dataKey)).toBe(true);
    const both = ageCli(['-e', '-a', '-r', FIXTURE_RECIPIENTS[0]!, '-r', FIXTURE_RECIPIENTS[1]!], dataKey).toString('utf8');
    for (const id of IDENTITIES) expect((await ageUnwrap(both, [id]))?.equals(dataKey)).toBe(true);
    expect(await ageUnwrap(armored, IDENTITIES)).toBeUndefined(); // not for them
    expect(await ageUnwrap(armored, [])).toBeUndefined();
  });

  it('the sops 3.7.1 fixtures unwrap to one 32-byte key with each identity alone', async () => {
    expect(IDENTITIES).toHaveLength(2);
    for (const file of ['example.yaml', 'example.json']) {
      const metadata = fixtureMetadata(file);
      expect(metadata.keyGroups[0]!.age.map((k) => k.recipient)).toEqual(FIXTURE_RECIPIENTS);
      const keys = new Set<string>();
      for (const id of IDENTITIES) {
        const key = await unwrapDataKey(metadata, file, { env: envWith(dir, { SOPS_AGE_KEY: id }) });
        expect(key).toHaveLength(32);
        keys.add(key.toString('hex'));
      }
      // Both recipients hold the same data key.
      expect(keys.size).toBe(1);
    }
  });

  it('a fixture re-wrapped for a new recipient is read by sops-age (an independent sops implementation)', async () => {
    const { decryptSops } = (await import('sops-age')) as typeof import('sops-age');
    const text = readFileSync(join(SOPS, 'example.yaml'), 'utf8');
    const expected = await decryptSops(text, { fileType: 'yaml', secretKey: IDENTITIES[0]! });
    const dataKey = await unwrapDataKey(fixtureMetadata('example.yaml'), 'example.yaml', { env: envWith(dir, { SOPS_AGE_KEY: IDENTITIES[1]! }) });
    const { keyGroups } = await wrapDataKey(dataKey, [[{ type: 'age', recipient }]]);
    const doc = parseYaml(text) as { sops: { age: AgeKey[] } };
    doc.sops.age = keyGroups[0]!.age;
    const rewrapped = stringifyYaml(doc);
    expect(await decryptSops(rewrapped, { fileType: 'yaml', secretKey: identity })).toEqual(expected);
    // And the old identities no longer open it.
    await expect(decryptSops(rewrapped, { fileType: 'yaml', secretKey: IDENTITIES[0]! })).rejects.toThrow();
  });

  it('finds identities in SOPS_AGE_KEY (several a line, comments), SOPS_AGE_KEY_FILE and $XDG_CONFIG_HOME/sops/age/keys.txt, in that order', async () => {
    const home = join(dir, 'home-order');
    const xdg = join(dir, 'xdg');
    mkdirSync(join(xdg, 'sops', 'age'), { recursive: true });
    const extra = await generateX25519Identity();
    writeFileSync(join(xdg, 'sops', 'age', 'keys.txt'), `# from the user config dir\n${extra}\n`);
    const file = join(dir, 'file-keys.txt');
    writeFileSync(file, KEYS_TXT); // sops' own: comments, no final newline
    const found = await findAgeIdentities(envWith(home, { SOPS_AGE_KEY: `# two on a line\n${identity} ${IDENTITIES[0]}\n\n`, SOPS_AGE_KEY_FILE: file, XDG_CONFIG_HOME: xdg }));
    expect(found.identities).toEqual([identity, IDENTITIES[0], ...IDENTITIES, extra]);
    expect(found.problems).toEqual([]);
    expect(found.looked).toEqual([
      'SOPS_AGE_KEY (2 identities)',
      `SOPS_AGE_KEY_FILE=${file} (2 identities)`,
      'SOPS_AGE_KEY_CMD (not set)',
      `${join(xdg, 'sops', 'age', 'keys.txt')} (1 identity)`,
    ]);
  });

  it('without XDG_CONFIG_HOME, ~/.config/sops/age/keys.txt (HOME); a relative XDG_CONFIG_HOME is not used, as in Go', async () => {
    const home = join(dir, 'home-default');
    mkdirSync(join(home, '.config', 'sops', 'age'), { recursive: true });
    writeFileSync(join(home, '.config', 'sops', 'age', 'keys.txt'), `${identity}\n`);
    const metadata = { keyGroups: [{ age: [await ageWrap(randomBytes(32), recipient)], kms: [], other: {} }] };
    expect(await unwrapDataKey(metadata, 'f.yaml', { env: envWith(home) })).toHaveLength(32);
    const relative = await findAgeIdentities(envWith(home, { XDG_CONFIG_HOME: 'relative/dir' }));
    expect(relative.identities).toEqual([]);
    expect(relative.looked.at(-1)).toMatch(/user config directory/);
  });

  it('SOPS_AGE_KEY_CMD: its output, run with SOPS_AGE_RECIPIENT set to the key being opened; a failing command is reported by status only', async () => {
    const script = join(dir, 'key-cmd.sh');
    const log = join(dir, 'key-cmd.log');
    // Prints the identity only when asked for our recipient; notes each recipient it was asked for.
    writeFileSync(script, `#!/bin/sh\necho "$SOPS_AGE_RECIPIENT" >> '${log}'\n[ "$SOPS_AGE_RECIPIENT" = "$1" ] && cat "$2"\nexit 0\n`);
    chmodSync(script, 0o755);
    const idFile = join(dir, 'cmd-identity.txt');
    writeFileSync(idFile, `${identity}\n`);
    const dataKey = randomBytes(32);
    const { keyGroups } = await wrapDataKey(dataKey, [[{ type: 'age', recipient: FIXTURE_RECIPIENTS[0]! }, { type: 'age', recipient }]]);
    const env = envWith(join(dir, 'home-cmd'), { SOPS_AGE_KEY_CMD: `'${script}' ${recipient} "${idFile}"` });
    expect((await unwrapDataKey({ keyGroups }, 'cmd.yaml', { env })).equals(dataKey)).toBe(true);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([FIXTURE_RECIPIENTS[0], recipient]);

    const failing = join(dir, 'failing.sh');
    writeFileSync(failing, `#!/bin/sh\necho ${identity}\necho oops >&2\nexit 3\n`);
    chmodSync(failing, 0o755);
    const error = await unwrapDataKey({ keyGroups }, 'cmd.yaml', { env: envWith(join(dir, 'home-cmd'), { SOPS_AGE_KEY_CMD: failing }) }).catch((e: Error) => e);
    expect(error).toMatchObject({ exitCode: 1 });
    expect((error as Error).message).toContain('SOPS_AGE_KEY_CMD: failing.sh exited with status 3'.replace('failing.sh', failing));
    expect((error as Error).message).not.toContain('AGE-SECRET-KEY');
  });

  it('no identity fits: a failure (exit 1) naming the file, its recipients and every place looked, and never a key', async () => {
    const home = join(dir, 'home-none');
    const metadata = fixtureMetadata('example.yaml');
    const none = await unwrapDataKey(metadata, 'secrets/tike.yaml', { env: envWith(home) }).catch((e: Error) => e);
    expect(none).toMatchObject({ exitCode: 1 });
    const message = (none as Error).message;
    expect(message).toMatch(/^secrets\/tike\.yaml: cannot get its data key: no age identity found for its age recipients \(age1yt3tf\S+, age1tmaae\S+\)/);
    for (const place of ['SOPS_AGE_KEY (not set)', 'SOPS_AGE_KEY_FILE (not set)', 'SOPS_AGE_KEY_CMD (not set)', `${join(home, '.config', 'sops', 'age', 'keys.txt')} (not found)`]) expect(message).toContain(place);

    const wrong = await unwrapDataKey(metadata, 'tike.yaml', { env: envWith(home, { SOPS_AGE_KEY: identity }) }).catch((e: Error) => e);
    expect((wrong as Error).message).toContain('none of the 1 identity found fits for its age recipients');
    expect((wrong as Error).message).not.toContain(identity);
    expect((wrong as Error).message).not.toContain('AGE-SECRET-KEY');
  });

  it('a bad identity line is named by its number, never shown; the other sources still count', async () => {
    const file = join(dir, 'bad-keys.txt');
    writeFileSync(file, `# ok\n${identity}\nAGE-SECRET-KEY-1NOTAKEY\n`);
    const found = await findAgeIdentities(envWith(join(dir, 'home-bad'), { SOPS_AGE_KEY_FILE: file, SOPS_AGE_KEY: IDENTITIES[0]! }));
    expect(found.identities).toEqual([IDENTITIES[0]]);
    expect(found.problems).toEqual([`SOPS_AGE_KEY_FILE=${file}: line 3 is not an age identity (AGE-SECRET-KEY-1…)`]);
    expect(() => parseAgeIdentities(`${identity} ${identity}`, 'keys.txt')).toThrow(/^keys\.txt: line 1 is not an age identity/);
    const missing = await findAgeIdentities(envWith(join(dir, 'home-bad'), { SOPS_AGE_KEY_FILE: join(dir, 'nope.txt') }));
    expect(missing.problems).toEqual([`SOPS_AGE_KEY_FILE=${join(dir, 'nope.txt')}: no such file`]);
    const armoredFile = join(dir, 'protected.txt');
    writeFileSync(armoredFile, '-----BEGIN AGE ENCRYPTED FILE-----\n');
    expect((await findAgeIdentities(envWith(dir, { SOPS_AGE_KEY_FILE: armoredFile }))).problems[0]).toMatch(/passphrase-protected identity files are not supported/);
  });

  it('splits SOPS_AGE_KEY_CMD as shlex does', () => {
    expect(splitCommand(`op read "op://vault/age key/private" --no-newline`)).toEqual(['op', 'read', 'op://vault/age key/private', '--no-newline']);
    expect(splitCommand(`a 'b c'd e\\ f "g\\"h" # comment`)).toEqual(['a', 'b cd', 'e f', 'g"h']);
    expect(splitCommand('  ')).toEqual([]);
    expect(() => splitCommand(`a 'b`)).toThrow(/unclosed/);
  });
});
