/*
 * The glue the secrets commands run on (secrets-file.ts), on temp copies of the sops 3.7.1
 * fixtures: open and save an edit (untouched ciphertext kept), create from a .sops.yaml rule or
 * explicit recipients, add and remove recipients, rotate the data key, and a KMS recipient through
 * the AWS stand-in. Independent readers check what we write: the npm `sops-age` package decrypts
 * the files, the Debian `age` CLI unwraps the data key from the metadata.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, overrideProcessEnv, startEcr, type Ecr } from '@imagewright/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { readEncrypted } from './document';
import { SOPS_VERSION } from './metadata';
import type { Recipient } from './recipients';
import { changeRecipients, createSecrets, openSecrets, plainOf, rotateDataKey, saveEdited, type SecretsFile } from './secrets-file';

const DIR = join(FIXTURES, 'sops');
const KEYS = join(DIR, 'keys.txt');
const KEYS_TEXT = readFileSync(KEYS, 'utf8');
/** The two fixture identities and their public keys, in keys.txt's order (the files list them in that order too). */
const IDENTITIES = KEYS_TEXT.split('\n').filter((l) => l.startsWith('AGE-SECRET-KEY-'));
const PUBLIC = [...KEYS_TEXT.matchAll(/^# public key: (age1\S+)$/gm)].map((m) => m[1]!);
const age = (recipient: string): Recipient => ({ type: 'age', recipient });

let work: string;
/** Identities from keys.txt only: no HOME keys.txt, no SOPS_AGE_KEY from outside. */
let env: NodeJS.ProcessEnv;
/** The environment with only `identity` to open files with. */
const only = (identity: string): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: work, SOPS_AGE_KEY: identity });

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'iw-secrets-file-'));
  env = { PATH: process.env.PATH, HOME: work, SOPS_AGE_KEY_FILE: KEYS };
});
afterEach(() => {
  rmSync(work, { recursive: true, force: true });
});

/** A temp copy of a fixture. */
function copy(fixture: string, name = fixture): string {
  const path = join(work, name);
  copyFileSync(join(DIR, fixture), path);
  return path;
}

/** Every ENC[…] string of a file, in order (values, comments, then the MAC). */
const encs = (text: string) => [...text.matchAll(/ENC\[AES256_GCM,[^\]]*\]/g)].map((m) => m[0]);
/** A YAML file's lines above its sops: block. */
const body = (text: string) => text.slice(0, text.search(/^sops:/m)).split('\n');

async function sopsAge(text: string, fileType: 'yaml' | 'json', secretKey = IDENTITIES[0]!): Promise<Record<string, unknown>> {
  const { decryptSops } = await import('sops-age');
  return decryptSops(text, { secretKey, fileType });
}

/** The data key in an age entry of the metadata, unwrapped by the Debian age CLI with keys.txt. */
function ageCliUnwrap(enc: string, keys = KEYS): Buffer {
  const file = join(work, `enc-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, enc);
  const run = spawnSync('age', ['--decrypt', '-i', keys, file]);
  expect(run.status, `age --decrypt: ${run.stderr}`).toBe(0);
  return run.stdout;
}

const metadataOf = (path: string, format: 'yaml' | 'json' = 'yaml') => readEncrypted(readFileSync(path), format, path).metadata;

async function newIdentity(): Promise<{ identity: string; recipient: string }> {
  const { generateX25519Identity, identityToRecipient } = await import('age-encryption');
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}

describe('openSecrets and saveEdited', () => {
  it('YAML: one value changed → only its ciphertext differs, the MAC and lastmodified are new; sops-age reads the new plaintext', async () => {
    const path = copy('example.yaml', 'prod.yaml');
    const before = readFileSync(path, 'utf8');
    const file = await openSecrets(path, { env });
    expect(file.name).toContain('prod.yaml');
    const plain = plainOf(file).toString('utf8');
    expect(plain).toContain('        user: eve\n');
    const edited = plain.replace('        user: eve\n', '        user: mallory\n');

    expect(saveEdited(file, Buffer.from(edited)).changed).toBe(true);
    const after = readFileSync(path, 'utf8');
    // Above the metadata: the user line alone differs, every other ciphertext byte for byte.
    const [b, a] = [body(before), body(after)];
    expect(a).toHaveLength(b.length);
    const changed = a.flatMap((line, i) => (line === b[i] ? [] : [i]));
    expect(changed.map((i) => b[i]!.replace(/ENC\[.*/, ''))).toEqual(['        user: ']);
    expect(a[changed[0]!]).toMatch(/^        user: ENC\[AES256_GCM,data:[^,]+,iv:[^,]+,tag:[^,]+,type:str\]$/);
    const [now, was] = [metadataOf(path), readEncrypted(before, 'yaml', 'before').metadata];
    expect(now.mac).not.toBe(was.mac);
    expect(now.lastModified).not.toBe(was.lastModified);
    // Written in 3.13.2's layout, so it says so, as sops edit bumps an older file's version.
    expect([was.version, now.version]).toEqual(['3.7.1', SOPS_VERSION]);
    // The wrapped data key is not touched by an edit.
    expect(now.keyGroups[0]!.age.map((k) => k.enc)).toEqual(was.keyGroups[0]!.age.map((k) => k.enc));

    const oracle = await sopsAge(after, 'yaml');
    expect(oracle).toEqual(parseYaml(edited));
    expect((oracle.app2 as { db: { user: string } }).db.user).toBe('mallory');
    // And we read it back (MAC checked) to exactly what the editor saved.
    expect(plainOf(await openSecrets(path, { env })).toString('utf8')).toBe(edited);
  });

  it('JSON: a changed value, sops-age agrees; the other values keep their ciphertext', async () => {
    const path = copy('example.json', 'prod.json');
    const before = readFileSync(path, 'utf8');
    const file = await openSecrets(path, { env });
    const plain = plainOf(file).toString('utf8');
    expect(plain).toContain('"city": "New York"');
    const edited = plain.replace('"city": "New York"', '"city": "Boston"');
    expect(saveEdited(file, Buffer.from(edited)).changed).toBe(true);
    const after = readFileSync(path, 'utf8');
    const [eb, ea] = [encs(before), encs(after)];
    expect(ea).toHaveLength(eb.length);
    // Every ENC string but the city's and the MAC (the last) is the same.
    const differing = ea.flatMap((e, i) => (e === eb[i] ? [] : [i]));
    expect(differing).toEqual([eb.findIndex((e) => before.includes(`"city": "${e}"`)), eb.length - 1]);
    expect(await sopsAge(after, 'json')).toEqual(JSON.parse(edited));
  });

  it('INI: a changed value; the other values keep their ciphertext; read back to the edit', async () => {
    const path = copy('example.ini', 'prod.ini');
    const before = readFileSync(path, 'utf8');
    const file = await openSecrets(path, { env });
    const plain = plainOf(file).toString('utf8');
    expect(plain).toContain('city          = New York\n');
    const edited = plain.replace('city          = New York\n', 'city          = Boston\n');
    expect(saveEdited(file, Buffer.from(edited)).changed).toBe(true);
    const after = readFileSync(path, 'utf8');
    const [eb, ea] = [encs(before), encs(after)];
    const differing = ea.flatMap((e, i) => (e === eb[i] ? [] : [i]));
    expect(differing).toEqual([eb.findIndex((e) => before.includes(`city          = ${e}`)), eb.length - 1]);
    expect(plainOf(await openSecrets(path, { env })).toString('utf8')).toBe(edited);
  });

  it('binary: the new bytes, exactly; sops-age reads them as the data value', async () => {
    const path = copy('example.txt', 'motd.txt');
    const file = await openSecrets(path, { env });
    const edited = Buffer.concat([plainOf(file), Buffer.from('one more line\n')]);
    expect(saveEdited(file, edited).changed).toBe(true);
    const reopened = await openSecrets(path, { env });
    expect(plainOf(reopened).equals(edited)).toBe(true);
    expect(await sopsAge(readFileSync(path, 'utf8'), 'json')).toEqual({ data: edited.toString('utf8') });
  });

  it('nothing changed → nothing written (bytes and mtime); whitespace that parses to the same tree counts as nothing', async () => {
    for (const [fixture, reformat] of [
      ['example.yaml', (t: string) => t],
      ['example.json', (t: string) => JSON.stringify(JSON.parse(t), null, 2)],
    ] as const) {
      const path = copy(fixture);
      const bytes = readFileSync(path);
      const mtime = statSync(path).mtimeMs;
      const file = await openSecrets(path, { env });
      const same = Buffer.from(reformat(plainOf(file).toString('utf8')));
      expect(saveEdited(file, same).changed, fixture).toBe(false);
      expect(readFileSync(path).equals(bytes), fixture).toBe(true);
      expect(statSync(path).mtimeMs, fixture).toBe(mtime);
    }
  });

  it('an edit that does not parse is a usage error naming the file; the file is left as it was', async () => {
    const path = copy('example.json', 'prod.json');
    const bytes = readFileSync(path);
    const file = await openSecrets(path, { env });
    const error = (() => {
      try {
        saveEdited(file, Buffer.from('{"broken": '));
      } catch (e) {
        return e as Error & { exitCode?: number };
      }
    })();
    expect(error?.exitCode).toBe(2);
    expect(error?.message).toContain('prod.json');
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });

  it('a file whose ciphertext was changed without the key: a failure naming it; a missing file: a usage error', async () => {
    const path = copy('example.yaml', 'prod.yaml');
    const text = readFileSync(path, 'utf8');
    // One base64 character of the password's ciphertext.
    const tampered = text.replace(/(password: ENC\[AES256_GCM,data:)(.)/, (_m, head: string, c: string) => head + (c === 'A' ? 'B' : 'A'));
    expect(tampered).not.toBe(text);
    writeFileSync(path, tampered);
    await expect(openSecrets(path, { env })).rejects.toMatchObject({ exitCode: 1, message: expect.stringContaining('prod.yaml') });
    await expect(openSecrets(join(work, 'none.yaml'), { env })).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('none.yaml') });
  });
});

describe('createSecrets', () => {
  it("a .sops.yaml creation rule gives the recipients and the selectors; sops-age opens it with the rule's identity", async () => {
    mkdirSync(join(work, 'secrets'));
    writeFileSync(
      join(work, '.sops.yaml'),
      `creation_rules:\n  - path_regex: ^other/.*\n    age: ${PUBLIC[1]}\n  - path_regex: secrets/.*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: ${PUBLIC[0]}\n`,
    );
    const path = join(work, 'secrets', 'prod.yaml');
    const text = 'kind: Secret\nstringData:\n    token: s3cr3t\n    port: 5432\n';
    const file = await createSecrets(path, Buffer.from(text), { env });
    expect(file.path).toBe(path);
    const written = readFileSync(path, 'utf8');
    expect(written).toMatch(/^kind: Secret\nstringData:\n    token: ENC\[AES256_GCM,data:[^\]]+,type:str\]\n    port: ENC\[AES256_GCM,[^\]]+,type:int\]\n/);
    expect(written).not.toContain('s3cr3t');
    const metadata = metadataOf(path);
    expect(metadata.keyGroups.map((g) => g.age.map((a) => a.recipient))).toEqual([[PUBLIC[0]]]);
    expect(metadata.encryptedRegex).toBe('^(data|stringData)$');
    expect(await sopsAge(written, 'yaml')).toEqual(parseYaml(text));
    expect(ageCliUnwrap(metadata.keyGroups[0]!.age[0]!.enc).equals(file.dataKey)).toBe(true);
    // The other identity is not a recipient.
    await expect(openSecrets(path, { env: only(IDENTITIES[1]!) })).rejects.toMatchObject({ exitCode: 1 });
    expect(plainOf(await openSecrets(path, { env: only(IDENTITIES[0]!) })).toString('utf8')).toBe(text);
  });

  it('explicit groups win over the rule: the second identity alone opens the file', async () => {
    writeFileSync(join(work, '.sops.yaml'), `creation_rules:\n  - age: ${PUBLIC[0]}\n`);
    const path = join(work, 'app.json');
    const file = await createSecrets(path, Buffer.from('{"a": "b", "n": 1}'), { env, groups: [[age(PUBLIC[1]!)]] });
    expect(metadataOf(path, 'json').keyGroups.map((g) => g.age.map((a) => a.recipient))).toEqual([[PUBLIC[1]]]);
    expect(await sopsAge(readFileSync(path, 'utf8'), 'json', IDENTITIES[1])).toEqual({ a: 'b', n: 1 });
    await expect(openSecrets(path, { env: only(IDENTITIES[0]!) })).rejects.toMatchObject({ exitCode: 1 });
    expect(plainOf(await openSecrets(path, { env: only(IDENTITIES[1]!) }))).toEqual(plainOf(file));
  });

  it('no rule and no recipients: a usage error, and no file', async () => {
    const path = join(work, 'orphan.yaml');
    await expect(createSecrets(path, Buffer.from('a: b\n'), { env })).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('no recipients') });
    expect(existsSync(path)).toBe(false);
    await expect(createSecrets(path, Buffer.from('a: b\n'), { env, groups: [[]] })).rejects.toMatchObject({ exitCode: 2 });
    expect(existsSync(path)).toBe(false);
  });
});

describe('changeRecipients', () => {
  it("adding: the kept entries' wrapped keys unchanged, values and MAC untouched; the new identity alone opens the file", async () => {
    const path = copy('example.yaml', 'prod.yaml');
    const before = readFileSync(path, 'utf8');
    const old = metadataOf(path);
    const fresh = await newIdentity();
    const file = await openSecrets(path, { env });
    const plain = plainOf(file);

    const { added, removed } = await changeRecipients(file, { add: [age(fresh.recipient)] }, env);
    expect(added).toEqual([age(fresh.recipient)]);
    expect(removed).toEqual([]);
    const after = readFileSync(path, 'utf8');
    const metadata = metadataOf(path);
    expect(metadata.keyGroups[0]!.age.map((a) => a.recipient)).toEqual([...PUBLIC, fresh.recipient]);
    expect(metadata.keyGroups[0]!.age.slice(0, 2)).toEqual(old.keyGroups[0]!.age);
    expect(encs(after)).toEqual(encs(before));
    expect(metadata.lastModified).toBe(old.lastModified);
    expect(plainOf(await openSecrets(path, { env: only(fresh.identity) })).equals(plain)).toBe(true);
    expect(await sopsAge(after, 'yaml', fresh.identity)).toEqual(await sopsAge(before, 'yaml'));

    // Adding one that is there already changes nothing and writes nothing.
    const bytes = readFileSync(path);
    const again = await changeRecipients(await openSecrets(path, { env }), { add: [age(fresh.recipient)] }, env);
    expect(again).toEqual({ added: [], removed: [] });
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });

  it('removing: the removed identity can no longer open the file, the kept ones still can; removing the last recipient is a usage error', async () => {
    const path = copy('example.yaml', 'prod.yaml');
    const old = metadataOf(path);
    const { removed } = await changeRecipients(await openSecrets(path, { env }), { remove: [age(PUBLIC[0]!)] }, env);
    expect(removed).toEqual([age(PUBLIC[0]!)]);
    const metadata = metadataOf(path);
    expect(metadata.keyGroups[0]!.age).toEqual([old.keyGroups[0]!.age[1]]);
    await expect(openSecrets(path, { env: only(IDENTITIES[0]!) })).rejects.toMatchObject({ exitCode: 1 });
    await openSecrets(path, { env: only(IDENTITIES[1]!) });

    const bytes = readFileSync(path);
    const last = await changeRecipients(await openSecrets(path, { env }), { remove: [age(PUBLIC[1]!)] }, env).catch((e: Error) => e);
    expect(last).toMatchObject({ exitCode: 2, message: expect.stringContaining('no recipient left') });
    // Not a recipient: a usage error too.
    const stranger = (await newIdentity()).recipient;
    const notThere = await changeRecipients(await openSecrets(path, { env }), { remove: [age(stranger)] }, env).catch((e: Error) => e);
    expect(notThere).toMatchObject({ exitCode: 2, message: expect.stringContaining(stranger) });
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });

  it('add and remove at once; a group out of range is a usage error', async () => {
    const path = copy('example.yaml', 'prod.yaml');
    const fresh = await newIdentity();
    const file = await openSecrets(path, { env });
    await expect(changeRecipients(file, { add: [age(fresh.recipient)], group: 1 }, env)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('--group 2') });
    await changeRecipients(file, { add: [age(fresh.recipient)], remove: [age(PUBLIC[0]!), age(PUBLIC[1]!)] }, env);
    expect(metadataOf(path).keyGroups[0]!.age.map((a) => a.recipient)).toEqual([fresh.recipient]);
    for (const identity of IDENTITIES) await expect(openSecrets(path, { env: only(identity) })).rejects.toMatchObject({ exitCode: 1 });
    await openSecrets(path, { env: only(fresh.identity) });
  });

  it('several key groups: the key is split again; the added recipient stands for its group', async () => {
    const path = join(work, 'groups.yaml');
    const text = 'a: one\nb: two\n';
    await createSecrets(path, Buffer.from(text), { env, groups: [[age(PUBLIC[0]!)], [age(PUBLIC[1]!)]] });
    expect(metadataOf(path).shamirThreshold).toBe(2);
    const fresh = await newIdentity();
    await changeRecipients(await openSecrets(path, { env }), { add: [age(fresh.recipient)], group: 0 }, env);
    const metadata = metadataOf(path);
    expect(metadata.keyGroups.map((g) => g.age.map((a) => a.recipient))).toEqual([[PUBLIC[0], fresh.recipient], [PUBLIC[1]]]);
    // One group is not enough; the new identity and the second group's are.
    await expect(openSecrets(path, { env: only(fresh.identity) })).rejects.toMatchObject({ exitCode: 1 });
    expect(plainOf(await openSecrets(path, { env: only(`${fresh.identity}\n${IDENTITIES[1]}`) })).toString('utf8')).toBe(text);
  });
});

describe('rotateDataKey', () => {
  it('every value gets new ciphertext under a new data key (the age CLI unwraps it), for the same recipients; the plaintext is the same', async () => {
    const path = copy('example.yaml', 'prod.yaml');
    const before = readFileSync(path, 'utf8');
    const old = metadataOf(path);
    const oldKey = ageCliUnwrap(old.keyGroups[0]!.age[0]!.enc);
    const file: SecretsFile = await openSecrets(path, { env });
    expect(file.dataKey.equals(oldKey)).toBe(true);
    const plain = plainOf(file);

    await rotateDataKey(file, env);
    const after = readFileSync(path, 'utf8');
    const [eb, ea] = [encs(before), encs(after)];
    expect(ea).toHaveLength(eb.length);
    for (const e of ea) expect(eb).not.toContain(e);
    // Clear values stay clear.
    expect(after).toContain('            all: going to remain in clear text\n');
    const metadata = metadataOf(path);
    expect(metadata.keyGroups[0]!.age.map((a) => a.recipient)).toEqual(PUBLIC);
    const newKeys = metadata.keyGroups[0]!.age.map((a) => ageCliUnwrap(a.enc));
    expect(newKeys[0]!.equals(oldKey)).toBe(false);
    expect(newKeys[1]!.equals(newKeys[0]!)).toBe(true);
    expect(newKeys[0]!.equals(file.dataKey)).toBe(true);

    const reopened = await openSecrets(path, { env });
    expect(plainOf(reopened).equals(plain)).toBe(true);
    expect(await sopsAge(after, 'yaml', IDENTITIES[1])).toEqual(await sopsAge(before, 'yaml'));
  });
});

describe('a KMS recipient, through the AWS stand-in', () => {
  let aws: Ecr;
  let restoreEnv: (() => void) | undefined;
  // What the SDK reads from process.env whatever it is given: the stand-in's, no outer credentials.
  const PROCESS_ENV = ['AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_EC2_METADATA_DISABLED', 'AWS_PROFILE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'];

  beforeAll(async () => {
    aws = await startEcr({});
    if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(aws.env.AWS_ENDPOINT_URL_KMS)) throw new Error('refusing a non-loopback AWS endpoint');
    restoreEnv = overrideProcessEnv({ ...aws.env, AWS_PROFILE: undefined, AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_SESSION_TOKEN: undefined }, PROCESS_ENV);
  });
  afterAll(async () => {
    restoreEnv?.();
    await aws?.stop();
  });

  it('added with the age identity, then the file opens through KMS alone (no age identity); rotated and removed again', async () => {
    const path = copy('example.yaml', 'prod.yaml');
    const arn = aws.createKmsKey();
    const kmsOnly: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: work, ...aws.env };
    const file = await openSecrets(path, { env });
    const plain = plainOf(file);
    const before = aws.calls.length;
    await changeRecipients(file, { add: [{ type: 'kms', arn }] }, { ...env, ...aws.env });
    expect(aws.calls.slice(before).map((c) => `${c.service} ${c.operation} ${c.keyArn}`)).toEqual([`kms Encrypt ${arn}`]);
    const metadata = metadataOf(path);
    expect(metadata.keyGroups[0]!.kms.map((k) => k.arn)).toEqual([arn]);
    expect(metadata.keyGroups[0]!.age.map((a) => a.recipient)).toEqual(PUBLIC);

    const viaKms = await openSecrets(path, { env: kmsOnly });
    expect(plainOf(viaKms).equals(plain)).toBe(true);
    expect(aws.calls.at(-1)).toMatchObject({ service: 'kms', operation: 'Decrypt', keyArn: arn });

    // Rotation wraps the new key for KMS too; KMS alone still opens it.
    await rotateDataKey(viaKms, kmsOnly);
    expect(plainOf(await openSecrets(path, { env: kmsOnly })).equals(plain)).toBe(true);
    expect(ageCliUnwrap(metadataOf(path).keyGroups[0]!.age[0]!.enc).equals(viaKms.dataKey)).toBe(true);

    await changeRecipients(await openSecrets(path, { env }), { remove: [{ type: 'kms', arn }] }, env);
    expect(metadataOf(path).keyGroups[0]!.kms).toEqual([]);
    await expect(openSecrets(path, { env: kmsOnly })).rejects.toMatchObject({ exitCode: 1 });
  });

  it('a .sops.yaml rule with a kms: key makes a file KMS opens', async () => {
    const arn = aws.createKmsKey();
    writeFileSync(join(work, '.sops.yaml'), `creation_rules:\n  - kms: ${arn}\n`);
    const kmsOnly: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: work, ...aws.env };
    const path = join(work, 'svc.yaml');
    await createSecrets(path, Buffer.from('token: abc\n'), { env: kmsOnly });
    expect(metadataOf(path).keyGroups.map((g) => [g.age.length, g.kms.map((k) => k.arn)])).toEqual([[0, [arn]]]);
    expect(plainOf(await openSecrets(path, { env: kmsOnly })).toString('utf8')).toBe('token: abc\n');
  });
});
