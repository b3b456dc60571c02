/*
 * Independent readers of the files we write: the npm `sops-age` package decrypts our YAML, JSON,
 * dotenv and binary files (its own parser, AES-GCM and path handling), and the Debian `age` CLI
 * unwraps the data key from our metadata. The data key is wrapped here with age-encryption's
 * Encrypter to a fixture recipient (the real key code is keys*.ts).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { FIXTURES } from '@imagewright/testing';
import { encryptDocument, readEncrypted, readPlain, toJs, writeEncrypted, type Format, type NewMetadata, type Tree } from './index';

const DIR = join(FIXTURES, 'sops');
const KEYS = join(DIR, 'keys.txt');
const IDENTITY = readFileSync(KEYS, 'utf8')
  .split('\n')
  .find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
const RECIPIENT = 'age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw';

async function metadataFor(dataKey: Buffer): Promise<NewMetadata> {
  const { Encrypter, armor } = await import('age-encryption');
  const encrypter = new Encrypter();
  encrypter.addRecipient(RECIPIENT);
  const enc = armor.encode(await encrypter.encrypt(dataKey));
  return { keyGroups: [{ age: [{ recipient: RECIPIENT, enc }], kms: [], other: {} }] };
}

async function sopsAge(text: string, fileType: 'yaml' | 'json' | 'env'): Promise<unknown> {
  const { decryptSops } = await import('sops-age');
  return decryptSops(text, { secretKey: IDENTITY, fileType });
}

async function encrypted(plain: Tree, format: Format): Promise<{ text: string; dataKey: Buffer }> {
  const dataKey = randomBytes(32);
  return { text: writeEncrypted(encryptDocument(plain, format, dataKey, await metadataFor(dataKey))), dataKey };
}

const YAML = `# database access
db:
    user: admin
    password: "p@ss: word #1"
    port: 5432
    ratio: 0.25
    tls: true
    hosts:
        - a.example.org
        - b.example.org
    # the replica
    replica:
        url: postgres://r.example.org/x
cert: |
    -----BEGIN CERTIFICATE-----
    MIIB
    -----END CERTIFICATE-----
note_unencrypted: in clear
empty: ""
`;

describe('sops-age reads what we write', () => {
  test('YAML', async () => {
    const plain = readPlain(YAML, 'yaml', 'secrets.yaml');
    const { text } = await encrypted(plain, 'yaml');
    expect(await sopsAge(text, 'yaml')).toEqual(toJs(plain[0], { numbers: true }));
  });

  test('JSON', async () => {
    const json = '{"service": {"token": "t0k3n", "retries": 3, "backoff": 1.5, "enabled": false, "tags": ["a", "b"]}, "list_of_maps": [{"k": "v1"}, {"k": "v2"}], "plain_unencrypted": "x"}';
    const plain = readPlain(json, 'json', 'secrets.json');
    const { text } = await encrypted(plain, 'json');
    expect(await sopsAge(text, 'json')).toEqual(JSON.parse(json));
  });

  test('dotenv', async () => {
    const plain = readPlain('# keys\nAPI_KEY=abc123\nMULTI=one\\ntwo\n', 'dotenv', 'secrets.env');
    const { text } = await encrypted(plain, 'dotenv');
    expect(await sopsAge(text, 'env')).toEqual({ API_KEY: 'abc123', MULTI: 'one\ntwo' });
  });

  test('binary', async () => {
    const bytes = Buffer.from('#!/bin/sh\necho "not really secret"\n');
    const { text } = await encrypted(readPlain(bytes, 'binary', 'run.sh'), 'binary');
    expect(await sopsAge(text, 'json')).toEqual({ data: bytes.toString('utf8') });
  });
});

describe('the age CLI unwraps our data key', () => {
  const ageCli = spawnSync('age', ['--version'], { encoding: 'utf8' }).status === 0;
  // Under CI the CLI must be there: a missing one fails instead of skipping.
  test.skipIf(!ageCli && process.env.CI !== 'true')('age --decrypt with the fixture identities gives the data key', async () => {
    expect(ageCli, 'the Debian age package is not installed (apt-get install -y age)').toBe(true);
    for (const format of ['yaml', 'ini'] as const) {
      const plain = readPlain(format === 'yaml' ? 'a: 1\n' : '[s]\na = 1\n', format, `x.${format}`);
      const { text, dataKey } = await encrypted(plain, format);
      const enc = readEncrypted(text, format, `x.${format}`).metadata.keyGroups[0].age[0].enc;
      const dir = mkdtempSync(join(tmpdir(), 'sops-age-'));
      writeFileSync(join(dir, 'enc'), enc);
      const run = spawnSync('age', ['--decrypt', '-i', KEYS, join(dir, 'enc')]);
      expect(run.status, run.stderr.toString()).toBe(0);
      expect(run.stdout).toEqual(dataKey);
    }
  });
});
