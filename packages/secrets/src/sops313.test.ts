/*
 * Byte-for-byte agreement with sops 3.13.2's own tree, cipher and store code
 * (packages/testing/fixtures/sops/v3.13, see its README): the plaintext as sops prints it, sops'
 * encrypted files decrypted (MAC checked), and sops' files re-encrypted by us from their plaintext
 * with the same data key: every value keeps its ciphertext, so only the MAC's line may differ.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { FIXTURES } from '@imagewright/testing';
import { Comment, Mapping, decryptDocument, encryptDocument, readEncrypted, readPlain, writeEncrypted, writePlain, type Format, type Value } from './index';

const DIR = join(FIXTURES, 'sops', 'v3.13');
const KEY = Buffer.from(readFileSync(join(DIR, 'key.hex'), 'utf8').trim(), 'hex');
const read = (name: string): string => readFileSync(join(DIR, name), 'utf8');

/** sops forgets that a comment stood at the end of a line when it decrypts it. */
function withoutInline<T extends Value | Comment>(value: T): T {
  if (value instanceof Comment) return new Comment(value.value) as T;
  if (value instanceof Mapping) return new Mapping(value.entries.map((e) => ({ key: e.key instanceof Comment ? withoutInline(e.key) : e.key, value: withoutInline(e.value) }))) as T;
  if (Array.isArray(value)) return value.map((v) => withoutInline(v)) as T;
  return value;
}

const CASES: Array<[string, string, Format]> = [
  ['types', 'yaml', 'yaml'],
  ['comments', 'yaml', 'yaml'],
  ['numbers', 'json', 'json'],
  ['sections', 'ini', 'ini'],
  ['flat', 'env', 'dotenv'],
];

describe.each(CASES)('%s.%s', (name, ext, format) => {
  const input = read(`${name}.${ext}`);
  const sopsFile = read(`${name}.sops.${ext}`);

  test('the plaintext as sops writes it', () => {
    expect(writePlain(readPlain(input, format, name), format)).toBe(read(`${name}.plain.${ext}`));
  });

  test("sops' encrypted file decrypts to what sops prints", () => {
    const tree = decryptDocument(readEncrypted(sopsFile, format, name), KEY, name);
    expect(writePlain(tree.map((d) => withoutInline(d)), format)).toBe(read(`${name}.decrypted.${ext}`));
  });

  test("re-encrypting sops' file gives sops' file (but for the MAC's IV)", () => {
    const previous = readEncrypted(sopsFile, format, name);
    const { mac: _mac, ...metadata } = previous.metadata;
    const ours = writeEncrypted(encryptDocument(readPlain(input, format, name), format, KEY, metadata, previous));
    const macLine = /^.*mac.*ENC\[AES256_GCM.*$/m;
    expect(ours.replace(macLine, 'MAC')).toBe(sopsFile.replace(macLine, 'MAC'));
    expect(ours).not.toBe(sopsFile);
  });
});

describe.each([
  ['yaml', 'yaml'],
  ['json', 'json'],
  ['ini', 'ini'],
  ['env', 'dotenv'],
] as Array<[string, Format]>)('key groups, KMS fields, shamir_threshold and mac_only_encrypted (keygroups.sops.%s)', (ext, format) => {
  const sopsFile = read(`keygroups.sops.${ext}`);

  test('read as sops wrote them', () => {
    const doc = readEncrypted(sopsFile, format, 'keygroups');
    const { metadata } = doc;
    expect(metadata.shamirThreshold).toBe(2);
    expect(metadata.macOnlyEncrypted).toBe(true);
    expect(metadata.keyGroups.map((g) => [g.age.map((a) => a.recipient), g.kms.map((k) => k.arn)])).toEqual([
      [['age1one'], ['arn:aws:kms:us-east-1:111:key/k']],
      [['age1two'], []],
      [[], ['arn:aws:kms:us-east-1:222:key/k']],
    ]);
    expect(metadata.keyGroups[0].kms[0]).toEqual({
      arn: 'arn:aws:kms:us-east-1:111:key/k',
      role: 'arn:aws:iam::111:role/r',
      context: { app: 'tenant-a', tenant: 'tenant-a' },
      created_at: '2024-01-02T03:04:05Z',
      enc: 'QUJD',
      aws_profile: '',
    });
    expect(metadata.keyGroups[2].kms[0].aws_profile).toBe('prof');
    expect(metadata.keyGroups[0].age[0].enc).toBe('ONE\n');
    decryptDocument(doc, KEY, 'keygroups');
  });

  test('written back as sops writes them', () => {
    const previous = readEncrypted(sopsFile, format, 'keygroups');
    const plain = decryptDocument(previous, KEY, 'keygroups');
    const { mac: _mac, ...metadata } = previous.metadata;
    const ours = writeEncrypted(encryptDocument(plain, format, KEY, metadata, previous));
    const macLine = /^.*mac.*ENC\[AES256_GCM.*$/m;
    expect(ours.replace(macLine, 'MAC')).toBe(sopsFile.replace(macLine, 'MAC'));
  });
});
