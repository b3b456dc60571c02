/*
 * Files written by sops 3.7.1 (packages/testing/fixtures/sops, two age recipients each) decrypt to
 * their known plaintext with the MAC checked. The data key is unwrapped here with the age-encryption
 * package and the fixture identities (the real key code is keys*.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { FIXTURES } from '@imagewright/testing';
import { Comment, Mapping, decryptDocument, extract, formatOf, readEncrypted, toJs, writePlain, type Tree } from './index';

const DIR = join(FIXTURES, 'sops');

async function unwrap(armored: string): Promise<Buffer> {
  const { Decrypter, armor } = await import('age-encryption');
  const decrypter = new Decrypter();
  for (const line of readFileSync(join(DIR, 'keys.txt'), 'utf8').split('\n')) {
    if (line.startsWith('AGE-SECRET-KEY-')) decrypter.addIdentity(line);
  }
  return Buffer.from(await decrypter.decrypt(armor.decode(armored)));
}

async function decryptFixture(file: string): Promise<Tree> {
  const doc = readEncrypted(readFileSync(join(DIR, file)), formatOf(file), file);
  expect(doc.metadata.keyGroups).toHaveLength(1);
  expect(doc.metadata.keyGroups[0].age.map((a) => a.recipient)).toEqual([
    'age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw',
    'age1tmaae3ld5vpevmsh5yacsauzx8jetg300mpvc4ugp5zr5l6ssq9sla97ep',
  ]);
  expect(doc.metadata.version).toBe('3.7.1');
  expect(doc.metadata.unencryptedSuffix).toBe('_unencrypted');
  const key = await unwrap(doc.metadata.keyGroups[0].age[0].enc);
  // Both recipients hold the same data key.
  expect(await unwrap(doc.metadata.keyGroups[0].age[1].enc)).toEqual(key);
  return decryptDocument(doc, key, file);
}

function comments(value: unknown): string[] {
  if (value instanceof Mapping) return value.entries.flatMap((e) => (e.key instanceof Comment ? [e.key.value] : []));
  return (value as unknown[]).flatMap((v) => (v instanceof Comment ? [v.value] : []));
}

describe('sops 3.7.1 fixtures', () => {
  test('example.yaml: types, nesting, lists, comments, unencrypted keys', async () => {
    const tree = await decryptFixture('example.yaml');
    expect(tree).toHaveLength(1);
    const doc = tree[0];
    expect(doc.keys()).toEqual(['myapp1', 'app2', 'number', 'an_array', 'somebooleans', 'this', 'somelist_unencrypted', 'nested_unencrypted']);
    expect(doc.get('myapp1')).toBe('t00m4nys3cr3tzupdated');
    const app2 = doc.get('app2') as Mapping;
    expect(toJs(app2.get('db') as Mapping)).toEqual({ user: 'eve', password: 'c4r1b0u' });
    // The comment sops wrote at db's indentation belongs to db (its associated data is "app2:db:").
    expect(comments(app2.get('db'))).toEqual([' private key for secret operations in app2']);
    const key = app2.get('key') as string;
    expect(key.startsWith('-----BEGIN RSA PRIVATE KEY-----\nMIIBPAIBAAJBAPTMNIyHuZtpLYc7VsHQtwOkWYobkUblmHWRmbXzlAX6K8tMf3Wf\n')).toBe(true);
    expect(key.endsWith('\n-----END RSA PRIVATE KEY-----\n')).toBe(true);
    expect(key.split('\n')).toHaveLength(10);
    // type:float: the number is a float, not an int.
    expect(doc.get('number')).toBe(1234568000);
    expect(doc.get('an_array')).toEqual(['secretuser1', 'secretuser2', 'somelongvalueAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'some other value']);
    expect(doc.get('somebooleans')).toEqual([true, false]);
    const nested = extract(tree, '["this"]["is"]["a"]["nested"]') as Mapping;
    expect(nested.get('value')).toBe('with something secret in it');
    expect(comments(nested)).toEqual([' sops supports unencrypted fields', ' by adding the `_unencrypted` suffix', ' to any key']);
    expect(doc.get('somelist_unencrypted')).toEqual(['all elements of this list', 'remain in clear text', 'because of the _encrypted suffix in the key']);
    expect(extract(tree, '["nested_unencrypted"]["this"]["is"]["all"]')).toBe('going to remain in clear text');

    const plain = writePlain(tree, 'yaml');
    expect(plain.startsWith('myapp1: t00m4nys3cr3tzupdated\napp2:\n    db:\n        user: eve\n        password: c4r1b0u\n        # private key for secret operations in app2\n    key: |\n        -----BEGIN RSA PRIVATE KEY-----\n')).toBe(true);
    // yaml.v3 writes a float in %g form, as `sops -d` prints this one.
    expect(plain).toContain('\nnumber: 1.234568e+09\nan_array:\n    - secretuser1\n');
    expect(plain).toContain('                value: with something secret in it\n                # sops supports unencrypted fields\n');
    expect(plain.endsWith('nested_unencrypted:\n    this:\n        is:\n            all: going to remain in clear text\n')).toBe(true);
  });

  test('example.json: order, float, list of maps, empty string', async () => {
    const tree = await decryptFixture('example.json');
    expect(toJs(tree[0])).toEqual({
      firstName: 'John',
      lastName: 'Smith',
      age: 25.4,
      address: { city: 'New York', postalCode: '10021-3100', state: 'NY', streetAddress: '21 2nd Street' },
      phoneNumbers: [
        { number: '212 555-1234', type: 'home' },
        { number: '646 555-4567', type: 'office' },
      ],
      anEmptyValue: '',
    });
    expect(tree[0].keys()).toEqual(['firstName', 'lastName', 'age', 'address', 'phoneNumbers', 'anEmptyValue']);
    expect(writePlain(tree, 'json')).toBe(
      '{\n\t"firstName": "John",\n\t"lastName": "Smith",\n\t"age": 25.4,\n\t"address": {\n\t\t"city": "New York",\n\t\t"postalCode": "10021-3100",\n' +
        '\t\t"state": "NY",\n\t\t"streetAddress": "21 2nd Street"\n\t},\n\t"phoneNumbers": [\n\t\t{\n\t\t\t"number": "212 555-1234",\n\t\t\t"type": "home"\n\t\t},\n' +
        '\t\t{\n\t\t\t"number": "646 555-4567",\n\t\t\t"type": "office"\n\t\t}\n\t],\n\t"anEmptyValue": ""\n}\n',
    );
  });

  test('example.ini: sections, a section comment, an unencrypted key, flattened metadata', async () => {
    const tree = await decryptFixture('example.ini');
    expect(toJs(tree[0])).toEqual({
      name: { firstName: 'John', lastName: 'Smith', age: '25.4' },
      address: { city: 'New York', postalCode: '10021-3100', state: 'NY', streetAddress: '21 2nd Street' },
      phoneNumbers: { home: '212 555-1234', office: '646 555-4567' },
      'not private': { notsecret_unencrypted: 'hi there!' },
    });
    expect(comments(tree[0].get('name'))).toEqual(['An example file for use with sops!']);
    expect(writePlain(tree, 'ini')).toBe(
      '; An example file for use with sops!\n[name]\nfirstName = John\nlastName  = Smith\nage       = 25.4\n\n' +
        '[address]\ncity          = New York\npostalCode    = 10021-3100\nstate         = NY\nstreetAddress = 21 2nd Street\n\n' +
        '[phoneNumbers]\nhome   = 212 555-1234\noffice = 646 555-4567\n\n[not private]\nnotsecret_unencrypted = hi there!\n',
    );
  });

  test('example.txt: a binary file is its bytes', async () => {
    const tree = await decryptFixture('example.txt');
    expect(writePlain(tree, 'binary').toString('utf8')).toBe(
      "Welcome to SOPS!\n\nSOPS is a manager of encrypted files designed to help distribute secrets.\nCheck it out, it's on github: https://github.com/mozilla/sops\n\n",
    );
  });
});
