import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ageUnwrap, ageWrap } from './age';
import { newDataKey, unwrapDataKey, wrapDataKey } from './keys';
import { parseRecipient, type Recipient } from './recipients';
import { shamirCombine } from './shamir';

describe('data keys and key groups (sops.go UpdateMasterKeys / GetDataKey)', () => {
  let home: string;
  let identities: string[];
  let recipients: Recipient[];
  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'imagewright-keys-'));
    identities = await Promise.all([1, 2, 3].map(() => generateX25519Identity()));
    recipients = await Promise.all(identities.map(async (i) => parseRecipient(await identityToRecipient(i), 'test')));
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const env = (...ids: string[]) => ({ PATH: process.env.PATH, HOME: home, SOPS_AGE_KEY: ids.join('\n') });

  it('a new data key is 32 random bytes', () => {
    const a = newDataKey();
    expect(a).toHaveLength(32);
    expect(a.equals(newDataKey())).toBe(false);
  });

  it('one group: every recipient wraps the key itself, no shamir_threshold', async () => {
    const dataKey = newDataKey();
    const wrapped = await wrapDataKey(dataKey, [recipients.slice(0, 2)]);
    expect(wrapped.shamirThreshold).toBeUndefined();
    expect(wrapped.keyGroups).toHaveLength(1);
    expect(wrapped.keyGroups[0]!.age.map((k) => k.recipient)).toEqual(recipients.slice(0, 2).map((r) => (r as { recipient: string }).recipient));
    for (const [i, key] of wrapped.keyGroups[0]!.age.entries()) expect((await ageUnwrap(key.enc, [identities[i]!]))?.equals(dataKey)).toBe(true);
    expect((await unwrapDataKey(wrapped, 'f', { env: env(identities[1]!) })).equals(dataKey)).toBe(true);
  });

  it("several groups: each holds one Shamir share (33 bytes, x = group index + 1) that sops' Combine takes", async () => {
    const dataKey = newDataKey();
    const wrapped = await wrapDataKey(dataKey, recipients.map((r) => [r]), 2);
    expect(wrapped.shamirThreshold).toBe(2);
    const shares = await Promise.all(wrapped.keyGroups.map(async (g, i) => (await ageUnwrap(g.age[0]!.enc, [identities[i]!]))!));
    shares.forEach((s, i) => {
      expect(s).toHaveLength(33);
      expect(s[32]).toBe(i + 1);
    });
    expect(shamirCombine([shares[0]!, shares[2]!]).equals(dataKey)).toBe(true);
    for (const pair of [[0, 1], [0, 2], [1, 2]]) {
      expect((await unwrapDataKey(wrapped, 'f', { env: env(...pair.map((i) => identities[i]!)) })).equals(dataKey)).toBe(true);
    }
    const one = await unwrapDataKey(wrapped, 'f.yaml', { env: env(identities[2]!) }).catch((e: Error) => e);
    expect((one as Error).message).toMatch(/^f\.yaml: cannot get its data key: 1 of 3 key groups opened, 2 needed: group 0: .* \| group 1: /);
  });

  it('refuses what sops refuses: no groups, an empty group, a threshold out of range', async () => {
    const key = newDataKey();
    const cases: [Recipient[][], number | undefined, RegExp][] = [
      [[], undefined, /none given/],
      [[recipients.slice(0, 1), []], undefined, /key group 1: empty/],
      [recipients.map((r) => [r]), 4, /shamir_threshold 4: allowed a whole number from 2 to the number of key groups \(3\)/],
      [recipients.map((r) => [r]), 1, /shamir_threshold 1/],
      [[recipients], 2, /shamir_threshold 2: needs at least that many key groups/],
    ];
    for (const [groups, threshold, expected] of cases) {
      const error = await wrapDataKey(key, groups, threshold).catch((e: Error) => e);
      expect(error).toMatchObject({ exitCode: 2 });
      expect((error as Error).message).toMatch(expected);
    }
    await expect(wrapDataKey(Buffer.alloc(16), [recipients])).rejects.toThrow(/32 bytes/);
  });

  it('metadata that cannot give a data key: no keys, only kinds we do not handle, a wrapped value that is not 32 bytes, a malformed enc', async () => {
    const none = await unwrapDataKey({ keyGroups: [] }, 'a.yaml').catch((e: Error) => e);
    expect((none as Error).message).toBe('a.yaml: its sops metadata has no keys');
    const pgp = await unwrapDataKey({ keyGroups: [{ age: [], kms: [], other: { pgp: [{ fp: 'x' }] } }] }, 'a.yaml').catch((e: Error) => e);
    expect((pgp as Error).message).toMatch(/only keys of kinds this tool does not handle \(pgp\)/);
    const recipient = (recipients[0] as { recipient: string }).recipient;
    const short = { keyGroups: [{ age: [await ageWrap(Buffer.alloc(16, 1), recipient)], kms: [], other: {} }] };
    const wrong = await unwrapDataKey(short, 'a.yaml', { env: env(identities[0]!) }).catch((e: Error) => e);
    expect((wrong as Error).message).toBe('a.yaml: what its keys hold is not a 32-byte data key (16 bytes)');
    const broken = { keyGroups: [{ age: [{ recipient, enc: '-----BEGIN AGE ENCRYPTED FILE-----\nnot base64\n-----END AGE ENCRYPTED FILE-----\n' }], kms: [], other: {} }] };
    const malformed = await unwrapDataKey(broken, 'a.yaml', { env: env(identities[0]!) }).catch((e: Error) => e);
    expect(malformed).toMatchObject({ exitCode: 1 });
    expect((malformed as Error).message).toContain(`age ${recipient}: `);
  });
});
