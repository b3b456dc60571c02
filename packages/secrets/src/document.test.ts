/*
 * The sops file format end to end with our own code: round trips for every format and value type,
 * MAC failures on tampering, ciphertext kept for unchanged values, and sops' encryption selectors.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { ImagewrightError } from '@imagewright/core';
import {
  Comment,
  Mapping,
  Timestamp,
  convertPlain,
  decryptDocument,
  encryptDocument,
  extract,
  readEncrypted,
  readPlain,
  writeEncrypted,
  writeExtracted,
  writePlain,
  type EncryptedDocument,
  type Format,
  type NewMetadata,
  type Tree,
} from './index';

const KEY = randomBytes(32);
const META: NewMetadata = {
  keyGroups: [{ age: [{ recipient: 'age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw', enc: '-----BEGIN AGE ENCRYPTED FILE-----\nnot a real one\n-----END AGE ENCRYPTED FILE-----\n' }], kms: [], other: {} }],
};

/** Encrypts, writes, reads back and decrypts: what a later run would see. */
function roundTrip(plain: Tree, format: Format, meta: NewMetadata = META): { text: string; doc: EncryptedDocument; back: Tree } {
  const text = writeEncrypted(encryptDocument(plain, format, KEY, meta));
  const doc = readEncrypted(text, format, `secrets.${format}`);
  return { text, doc, back: decryptDocument(doc, KEY, `secrets.${format}`) };
}

function failureOf(run: () => unknown): ImagewrightError {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(ImagewrightError);
    return e as ImagewrightError;
  }
  throw new Error('expected a failure');
}

const YAML = `# the deployment's secrets
name: demo
port: 8080
ratio: 0.5
big: 9007199254740993
enabled: true
nothing: null
when: 2022-01-02T03:04:05Z
hex: 0x10
empty: ""
nested:
    # inside nested
    a: 1 # inline
    list:
        - one
        - 2
        # end of the list
    deeper:
        b: "true"
multi: |
    line one
    line two
secret_unencrypted: visible
`;

describe('round trips', () => {
  test('YAML: every type, comments and order survive, types are tagged as sops tags them', () => {
    const plain = readPlain(YAML, 'yaml', 'secrets.yaml');
    const { text, back } = roundTrip(plain, 'yaml');
    expect(writePlain(back, 'yaml')).toBe(writePlain(plain, 'yaml'));
    // Our plaintext form is stable under another read and write.
    expect(writePlain(readPlain(writePlain(plain, 'yaml'), 'yaml', 'x.yaml'), 'yaml')).toBe(writePlain(plain, 'yaml'));
    const doc = back[0];
    expect(doc.get('port')).toBe(8080n);
    expect(doc.get('ratio')).toBe(0.5);
    expect(doc.get('big')).toBe(9007199254740993n);
    expect(doc.get('enabled')).toBe(true);
    expect(doc.get('nothing')).toBe(null);
    expect(doc.get('when')).toEqual(new Timestamp('2022-01-02T03:04:05Z'));
    expect(doc.get('hex')).toBe(16n);
    expect(doc.get('empty')).toBe('');
    expect(extract(back, '["nested"]["deeper"]["b"]')).toBe('true');
    expect(extract(back, '["nested"]["list"][1]')).toBe(2n);
    expect(doc.get('multi')).toBe('line one\nline two\n');
    expect(doc.keys()).toEqual(['name', 'port', 'ratio', 'big', 'enabled', 'nothing', 'when', 'hex', 'empty', 'nested', 'multi', 'secret_unencrypted']);
    const nested = doc.get('nested') as Mapping;
    expect(nested.entries[0].key).toEqual(new Comment(' inside nested'));
    expect(nested.entries[1].key).toEqual(new Comment(' inline', true));
    expect((nested.get('list') as unknown[]).at(-1)).toEqual(new Comment(' end of the list'));

    for (const type of ['str', 'int', 'float', 'bool', 'time', 'comment']) expect(text).toContain(`,type:${type}]`);
    expect(text).toContain('\nsecret_unencrypted: visible\n');
    expect(text).toContain('\nnothing: null\n');
    expect(text).toContain('\nempty: ""\n');
    expect(text).not.toContain('demo');
    expect(text).not.toContain('line one');
    // The metadata block as sops 3.13 writes it: keys sorted, lastmodified quoted.
    expect(text).toMatch(/\nsops:\n {4}age:\n {8}- enc: \|\n {12}-----BEGIN AGE ENCRYPTED FILE-----\n {12}not a real one\n {12}-----END AGE ENCRYPTED FILE-----\n {10}recipient: age1yt3t\S+\n {4}lastmodified: "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"\n {4}mac: ENC\[AES256_GCM,data:[^\]]+,type:str\]\n {4}unencrypted_suffix: _unencrypted\n {4}version: 3\.\d+\.\d+\n$/);
  });

  test('JSON: integer-like keys keep their order, numbers keep int or float', () => {
    const json = '{"10": "ten", "2": "two", "1": {"z": 1, "a": [1, 2.5, true, null, "x", 1e3]}, "esc": "<&>\\u2028"}';
    const plain = readPlain(json, 'json', 'secrets.json');
    const { back } = roundTrip(plain, 'json');
    expect(back[0].keys()).toEqual(['10', '2', '1', 'esc']);
    expect((back[0].get('1') as Mapping).keys()).toEqual(['z', 'a']);
    expect(extract(back, '["1"]["a"]')).toEqual([1n, 2.5, true, null, 'x', 1000]);
    expect(writePlain(back, 'json')).toBe(
      '{\n\t"10": "ten",\n\t"2": "two",\n\t"1": {\n\t\t"z": 1,\n\t\t"a": [\n\t\t\t1,\n\t\t\t2.5,\n\t\t\ttrue,\n\t\t\tnull,\n\t\t\t"x",\n\t\t\t1000\n\t\t]\n\t},\n\t"esc": "\\u003c\\u0026\\u003e\\u2028"\n}\n',
    );
  });

  test('INI: sections, comments and the [sops] section', () => {
    const ini = '; first section\n[db]\nuser = admin\n# the password\npassword = s3cr3t # not part of it\n\n[web]\nurl = https://example.org/x?a=b\nspaced = "  padded  "\n';
    const plain = readPlain(ini, 'ini', 'secrets.ini');
    const { text, back } = roundTrip(plain, 'ini');
    expect(writePlain(back, 'ini')).toBe(writePlain(plain, 'ini'));
    expect(extract(back, '["db"]["password"]')).toBe('s3cr3t');
    expect(extract(back, '["web"]["spaced"]')).toBe('  padded  ');
    expect(text).toMatch(/\n\[sops\]\nage__list_0__map_enc\s+= -----BEGIN AGE ENCRYPTED FILE-----\\nnot a real one\\n-----END AGE ENCRYPTED FILE-----\\n\n/);
    expect(text).not.toContain('s3cr3t');
    expect(text).not.toContain('the password');
  });

  test('dotenv: flat keys, comments, newlines in values', () => {
    const env = '# database\nDB_USER=admin\nDB_PASS=p=ss\nCERT=line1\\nline2\nPUBLIC_unencrypted=yes\n';
    const plain = readPlain(env, 'dotenv', 'secrets.env');
    const { text, back } = roundTrip(plain, 'dotenv');
    expect(writePlain(back, 'dotenv')).toBe(env);
    expect(back[0].get('CERT')).toBe('line1\nline2');
    expect(back[0].get('DB_PASS')).toBe('p=ss');
    expect(text).toContain('\nPUBLIC_unencrypted=yes\n');
    expect(text).toMatch(/\nsops_age__list_0__map_enc=-----BEGIN AGE ENCRYPTED FILE-----\\nnot a real one\\n/);
    expect(() => convertPlain(readPlain(YAML, 'yaml', 'x.yaml'), 'dotenv')).toThrow(/dotenv holds only flat/);
  });

  test('binary: the raw bytes, UTF-8 or not', () => {
    for (const bytes of [Buffer.from('plain text\n\nwith lines\n'), Buffer.from([0, 255, 254, 10, 200, 65])]) {
      const plain = readPlain(bytes, 'binary', 'secret.bin');
      const { text, back } = roundTrip(plain, 'binary');
      expect(writePlain(back, 'binary')).toEqual(bytes);
      expect(JSON.parse(text).data).toMatch(/^ENC\[AES256_GCM,.*,type:str\]$/);
    }
  });

  test('conversions and --extract output', () => {
    const plain = readPlain(YAML, 'yaml', 'secrets.yaml');
    expect(JSON.parse(convertPlain(plain, 'json'))).toMatchObject({ name: 'demo', port: 8080, nested: { a: 1, list: ['one', 2] } });
    expect(writeExtracted(extract(plain, '["name"]'), 'yaml')).toBe('demo');
    expect(writeExtracted(extract(plain, '["nested"]["list"]'), 'yaml')).toBe('- one\n- 2\n# end of the list\n');
    expect(writeExtracted(extract(plain, '["nested"]["deeper"]'), 'json')).toBe('{\n\t"b": "true"\n}\n');
    expect(() => extract(plain, '["nested"]["missing"]')).toThrow(/--extract \["nested"\]\["missing"\]: no key "missing"/);
    expect(() => extract(plain, 'nested.a')).toThrow(/--extract nested.a/);
  });
});

describe('the MAC and the ciphertexts guard the file', () => {
  const plain = readPlain(YAML, 'yaml', 'secrets.yaml');
  const text = writeEncrypted(encryptDocument(plain, 'yaml', KEY, META));
  const open = (changed: string): Tree => decryptDocument(readEncrypted(changed, 'yaml', 'prod.yaml'), KEY, 'prod.yaml');

  function expectRefused(changed: string, why: RegExp): void {
    expect(changed).not.toBe(text);
    const e = failureOf(() => open(changed));
    expect(e.exitCode).toBe(1);
    expect(e.message).toContain('prod.yaml');
    expect(e.message).toMatch(why);
    for (const secret of ['demo', '8080', 'line one', 'visible']) expect(e.message).not.toContain(secret);
  }

  test('the untouched file decrypts', () => {
    expect(open(text)[0].get('name')).toBe('demo');
  });

  test('one changed ciphertext byte', () => {
    const changed = text.replace(/(\nname: ENC\[AES256_GCM,data:)(.)/, (_, head: string, c: string) => head + (c === 'A' ? 'B' : 'A'));
    expectRefused(changed, /name/);
  });

  test('a dropped key', () => {
    expectRefused(text.replace(/\nport: ENC\[[^\n]*/, ''), /MAC mismatch/);
  });

  test('an added key, in clear or with a ciphertext moved from elsewhere', () => {
    expectRefused(text.replace('\nsecret_unencrypted:', '\nadded_unencrypted: x\nsecret_unencrypted:'), /MAC mismatch/);
    const port = /\nport: (ENC\[[^\n]*)/.exec(text)![1];
    expectRefused(text.replace('\nsecret_unencrypted:', `\nport2: ${port}\nsecret_unencrypted:`), /port2/);
  });

  test('a changed value in clear, and a changed lastmodified', () => {
    expectRefused(text.replace('secret_unencrypted: visible', 'secret_unencrypted: changed'), /MAC mismatch/);
    expectRefused(text.replace(/lastmodified: "(\d{4})/, (_, y: string) => `lastmodified: "${Number(y) + 1}`), /MAC/);
  });

  test('a file without sops metadata', () => {
    const e = failureOf(() => readEncrypted('a: 1\n', 'yaml', 'plain.yaml'));
    expect(e.message).toMatch(/plain\.yaml has no sops metadata/);
    expect(failureOf(() => readEncrypted('A=1\n', 'dotenv', 'plain.env')).message).toMatch(/plain\.env has no sops metadata/);
  });

  test('plaintext parse errors name the file and line', () => {
    const e = failureOf(() => readPlain('a: 1\nb: [unclosed\nc: 3\n', 'yaml', 'edited.yaml'));
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(/^edited\.yaml: line \d/);
    expect(failureOf(() => readPlain('{"a": 1,\n "b": }', 'json', 'edited.json')).message).toMatch(/^edited\.json: .* at line 2/);
    expect(failureOf(() => readPlain('A=1\nnot a pair\n', 'dotenv', 'edited.env')).message).toBe('edited.env: line 2 is not KEY=value');
  });
});

describe('re-encryption keeps what did not change', () => {
  test('unchanged values and comments keep their ciphertext; the changed one and the MAC do not', () => {
    const plain = readPlain(YAML, 'yaml', 'secrets.yaml');
    const first = encryptDocument(plain, 'yaml', KEY, { ...META, lastModified: '2024-01-01T00:00:00Z' });
    const before = writeEncrypted(first);
    const edited = readPlain(YAML.replace('port: 8080', 'port: 8081'), 'yaml', 'secrets.yaml');
    const second = encryptDocument(edited, 'yaml', KEY, META, readEncrypted(before, 'yaml', 'secrets.yaml'));
    const after = writeEncrypted(second);
    const lines = (t: string): string[] => t.split('\n');
    const changed = lines(after).filter((l, i) => l !== lines(before)[i]);
    expect(changed).toHaveLength(3);
    expect(changed[0]).toMatch(/^port: ENC\[.*type:int\]$/);
    expect(changed[1]).toMatch(/^ {4}lastmodified: /);
    expect(changed[2]).toMatch(/^ {4}mac: ENC/);
    expect(second.metadata.mac).not.toBe(first.metadata.mac);
    expect(decryptDocument(readEncrypted(after, 'yaml', 'secrets.yaml'), KEY, 'secrets.yaml')[0].get('port')).toBe(8081n);
    // Without the earlier file every value gets a fresh IV.
    const fresh = writeEncrypted(encryptDocument(edited, 'yaml', KEY, META));
    expect(lines(fresh).filter((l, i) => l === lines(after)[i] && l.includes('ENC['))).toHaveLength(0);
    // A value that moved to another key is encrypted anew (its associated data changed).
    const moved = readPlain(YAML.replace('name: demo', 'title: demo'), 'yaml', 'secrets.yaml');
    const movedText = writeEncrypted(encryptDocument(moved, 'yaml', KEY, META, readEncrypted(before, 'yaml', 'secrets.yaml')));
    expect(/\ntitle: (ENC\[[^\n]*)/.exec(movedText)![1]).not.toBe(/\nname: (ENC\[[^\n]*)/.exec(before)![1]);
  });
});

describe("sops' encryption selectors", () => {
  const plain = readPlain(
    'apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\ndata:\n    password: c2VjcmV0\nstringData:\n    token: t0k3n\nnote_unencrypted: hi\n',
    'yaml',
    'secret.yaml',
  );
  const clear = (text: string, key: string): boolean => new RegExp(`(^|\\n)\\s*${key}: (?!ENC\\[)`).test(text);

  test('the default _unencrypted suffix covers whole subtrees', () => {
    const tree = readPlain('a_unencrypted:\n    b: 1\n    c: [x, y]\nd: 2\n', 'yaml', 's.yaml');
    const { text, doc } = roundTrip(tree, 'yaml');
    expect(doc.metadata.unencryptedSuffix).toBe('_unencrypted');
    // "y" is quoted: YAML 1.1 would read it as a boolean (go-yaml quotes it for that reason).
    expect(text).toContain('a_unencrypted:\n    b: 1\n    c:\n        - x\n        - "y"\nd: ENC[');
  });

  test('encrypted_regex encrypts only matching keys (and what is under them)', () => {
    const { text, back, doc } = roundTrip(plain, 'yaml', { ...META, encryptedRegex: '^(data|stringData)$' });
    expect(doc.metadata.encryptedRegex).toBe('^(data|stringData)$');
    expect(doc.metadata.unencryptedSuffix).toBeUndefined();
    for (const key of ['apiVersion', 'kind', 'name', 'note_unencrypted']) expect(clear(text, key)).toBe(true);
    for (const key of ['password', 'token']) expect(clear(text, key)).toBe(false);
    expect(text).toContain('\n    encrypted_regex: ^(data|stringData)$\n');
    expect(extract(back, '["stringData"]["token"]')).toBe('t0k3n');
    // Values in clear are still under the MAC.
    const e = failureOf(() => decryptDocument(readEncrypted(text.replace('kind: Secret', 'kind: Other'), 'yaml', 's.yaml'), KEY, 's.yaml'));
    expect(e.message).toMatch(/MAC mismatch/);
  });

  test('mac_only_encrypted leaves values in clear outside the MAC', () => {
    const { text, doc } = roundTrip(plain, 'yaml', { ...META, encryptedRegex: '^data$', macOnlyEncrypted: true });
    expect(doc.metadata.macOnlyEncrypted).toBe(true);
    expect(text).toContain('\n    mac_only_encrypted: true\n');
    const changed = text.replace('kind: Secret', 'kind: Other');
    expect(decryptDocument(readEncrypted(changed, 'yaml', 's.yaml'), KEY, 's.yaml')[0].get('kind')).toBe('Other');
  });

  test('encrypted_suffix, unencrypted_regex, and only one selector at a time', () => {
    const tree = readPlain('user: bob\npass_secret: pw\nnested_secret:\n    x: 1\n', 'yaml', 's.yaml');
    const { text } = roundTrip(tree, 'yaml', { ...META, encryptedSuffix: '_secret' });
    expect(clear(text, 'user')).toBe(true);
    expect(clear(text, 'pass_secret')).toBe(false);
    expect(clear(text, 'x')).toBe(false);
    const { text: byRegex } = roundTrip(tree, 'yaml', { ...META, unencryptedRegex: '^user$' });
    expect(clear(byRegex, 'user')).toBe(true);
    expect(clear(byRegex, 'pass_secret')).toBe(false);
    expect(() => encryptDocument(tree, 'yaml', KEY, { ...META, encryptedSuffix: '_s', encryptedRegex: 'x' })).toThrow(/only one of/);
    expect(failureOf(() => encryptDocument(tree, 'yaml', KEY, { ...META, encryptedRegex: '(' })).exitCode).toBe(2);
    // Go's inline flags work as in sops.
    expect(clear(roundTrip(tree, 'yaml', { ...META, encryptedRegex: '(?i)^PASS' }).text, 'pass_secret')).toBe(false);
  });

  test('encrypted_comment_regex: a marked comment encrypts the value after it, not itself', () => {
    const tree = readPlain('# sops:enc\npassword: pw\nuser: bob\n', 'yaml', 's.yaml');
    const { text, back } = roundTrip(tree, 'yaml', { ...META, encryptedCommentRegex: 'sops:enc' });
    expect(text.startsWith('# sops:enc\npassword: ENC[')).toBe(true);
    expect(clear(text, 'user')).toBe(true);
    expect(back[0].get('password')).toBe('pw');
  });

  test('a "sops" key in the data is refused', () => {
    expect(() => encryptDocument(readPlain('sops: 1\n', 'yaml', 's.yaml'), 'yaml', KEY, META)).toThrow(/reserved/);
    expect(() => encryptDocument(readPlain('sops_x=1\n', 'dotenv', 's.env'), 'dotenv', KEY, META)).toThrow(/reserves/);
  });
});
