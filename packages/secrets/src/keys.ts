/*
 * The data key of a sops file: 32 random bytes that encrypt every value (AES-256-GCM), wrapped for
 * each recipient. One key group: every recipient in it wraps the key itself. Several groups: the
 * key is split with Shamir's scheme, one share a group, any `shamir_threshold` shares rebuild it
 * (sops.go UpdateMasterKeys / GetDataKey).
 */
import { randomBytes } from 'node:crypto';
import { failure, usageError } from '@imagewright/core';
import { ageMiss, ageUnwrap, ageWrap, findAgeIdentities, type AgeIdentities } from './age';
import { kmsUnwrap, kmsWrap } from './kms';
import type { KeyGroup, Metadata } from './metadata';
import { describeRecipient, type Recipient } from './recipients';
import { shamirCombine, shamirSplit } from './shamir';

export const DATA_KEY_BYTES = 32;

/** Where identities and AWS settings come from. */
export interface KeySources {
  /** SOPS_AGE_KEY*, XDG_CONFIG_HOME/HOME, AWS_* and SOPS_DECRYPTION_ORDER: process.env when omitted. */
  env?: NodeJS.ProcessEnv;
}

/** A fresh data key, as sops makes one (32 bytes from the system's CSPRNG). */
export function newDataKey(): Buffer {
  return randomBytes(DATA_KEY_BYTES);
}

/**
 * The key groups of a file encrypted with `dataKey` for `groups` of recipients: one group holds
 * the key itself, several hold Shamir shares of it (`threshold` of them needed; all of them when
 * omitted, as sops does). Recipients are wrapped in order, so the file lists them as given.
 */
export async function wrapDataKey(
  dataKey: Buffer,
  groups: Recipient[][],
  threshold?: number,
  sources: KeySources = {},
): Promise<Pick<Metadata, 'keyGroups' | 'shamirThreshold'>> {
  const env = sources.env ?? process.env;
  if (dataKey.length !== DATA_KEY_BYTES) throw new RangeError(`a data key has ${DATA_KEY_BYTES} bytes, not ${dataKey.length}`);
  if (groups.length === 0) throw usageError('recipients: none given: allowed at least one age public key or KMS key ARN');
  const empty = groups.findIndex((g) => g.length === 0);
  if (empty >= 0) throw usageError(`key group ${empty}: empty: allowed one or more recipients a group`);
  let parts: Buffer[] = [dataKey];
  let shamirThreshold: number | undefined;
  if (groups.length > 1) {
    shamirThreshold = threshold ?? groups.length;
    if (!Number.isInteger(shamirThreshold) || shamirThreshold < 2 || shamirThreshold > groups.length || groups.length > 255) {
      throw usageError(`shamir_threshold ${threshold}: allowed a whole number from 2 to the number of key groups (${groups.length})`);
    }
    parts = shamirSplit(dataKey, groups.length, shamirThreshold);
  } else if (threshold !== undefined && threshold !== 1) {
    // sops ignores a threshold with one group; a caller asking for one is told instead.
    throw usageError(`shamir_threshold ${threshold}: needs at least that many key groups; there is one`);
  }
  const keyGroups: KeyGroup[] = [];
  for (const [i, group] of groups.entries()) {
    const out: KeyGroup = { age: [], kms: [], other: {} };
    for (const recipient of group) {
      if (recipient.type === 'age') out.age.push(await ageWrap(parts[i]!, recipient.recipient));
      else out.kms.push(await kmsWrap(parts[i]!, recipient, env));
    }
    keyGroups.push(out);
  }
  for (const part of parts) if (part !== dataKey) part.fill(0);
  return shamirThreshold === undefined ? { keyGroups } : { keyGroups, shamirThreshold };
}

type KeyKind = 'age' | 'kms';

/** The order key kinds are tried in: SOPS_DECRYPTION_ORDER (comma-separated) as sops takes it, else age first (local), then KMS. */
function decryptionOrder(env: NodeJS.ProcessEnv): KeyKind[] {
  const given = env.SOPS_DECRYPTION_ORDER;
  if (!given) return ['age', 'kms'];
  const kinds = given.split(',');
  const duplicate = kinds.find((k, i) => kinds.indexOf(k) !== i);
  if (duplicate) throw usageError(`SOPS_DECRYPTION_ORDER=${given}: ${duplicate} twice: allowed key kinds (age, kms, …) each once`);
  // Kinds not named come after those named, in their own order, as in sops.
  const named = kinds.filter((k): k is KeyKind => k === 'age' || k === 'kms');
  return [...named, ...(['age', 'kms'] as const).filter((k) => !named.includes(k))];
}

/**
 * The data key of the file `name` (named in errors) from its metadata: each group's share from
 * the first of its keys that opens it (age identities from `sources`, KMS through AWS), then,
 * with several groups, the shares combined. Fails (exit 1) naming the file, its recipients and
 * where identities were looked for; key material never appears in a message.
 */
export async function unwrapDataKey(metadata: Pick<Metadata, 'keyGroups' | 'shamirThreshold'>, name: string, sources: KeySources = {}): Promise<Buffer> {
  const env = sources.env ?? process.env;
  const order = decryptionOrder(env);
  const groups = metadata.keyGroups;
  if (groups.length === 0) throw failure(`${name}: its sops metadata has no keys`);
  const several = groups.length > 1;
  const threshold = metadata.shamirThreshold;
  const parts: Buffer[] = [];
  const groupErrors: string[] = [];
  // Identities depend on the recipient only through SOPS_AGE_KEY_CMD: looked up once otherwise.
  let shared: Promise<AgeIdentities> | undefined;
  const identitiesFor = (recipient: string) => (env.SOPS_AGE_KEY_CMD !== undefined ? findAgeIdentities(env, recipient) : (shared ??= findAgeIdentities(env)));

  for (const [index, group] of groups.entries()) {
    const reasons: string[] = [];
    let part: Buffer | undefined;
    for (const kind of order) {
      if (kind === 'age' && group.age.length) {
        let found: AgeIdentities | undefined;
        const broken: string[] = [];
        for (const key of group.age) {
          found = await identitiesFor(key.recipient);
          try {
            part = await ageUnwrap(key.enc, found.identities);
          } catch (error) {
            broken.push(`age ${key.recipient}: ${(error as Error).message}`);
          }
          if (part) break;
        }
        if (!part) reasons.push(ageMiss(group.age.map((k) => k.recipient), found!), ...broken);
      }
      if (kind === 'kms') {
        for (const key of group.kms) {
          try {
            part = await kmsUnwrap(key, env);
          } catch (error) {
            reasons.push((error as Error).message);
          }
          if (part) break;
        }
      }
      if (part) break;
    }
    if (part) {
      parts.push(part);
      // Enough shares: the other groups need not be asked (no needless KMS calls).
      if (several && threshold !== undefined && parts.length >= threshold) break;
      continue;
    }
    if (!group.age.length && !group.kms.length) reasons.push(`only keys of kinds this tool does not handle (${Object.keys(group.other).join(', ') || 'none at all'})`);
    groupErrors.push(several ? `group ${index}: ${reasons.join('; ')}` : reasons.join('; '));
  }

  let dataKey: Buffer;
  if (several) {
    const needed = threshold ?? 2;
    if (parts.length < needed) {
      throw failure(`${name}: cannot get its data key: ${parts.length} of ${groups.length} key groups opened, ${needed} needed: ${groupErrors.join(' | ')}`);
    }
    try {
      dataKey = shamirCombine(parts);
    } catch (error) {
      throw failure(`${name}: its key groups' Shamir shares do not combine: ${(error as Error).message}`);
    } finally {
      for (const part of parts) part.fill(0);
    }
  } else {
    if (!parts[0]) throw failure(`${name}: cannot get its data key: ${groupErrors[0]}`);
    dataKey = parts[0];
  }
  if (dataKey.length !== DATA_KEY_BYTES) throw failure(`${name}: what its keys hold is not a ${DATA_KEY_BYTES}-byte data key (${dataKey.length} bytes)`);
  return dataKey;
}

/** Every recipient of a file, one line each group, for messages: `age1…, arn:aws:kms:…`. */
export function describeGroups(groups: Recipient[][]): string {
  return groups.map((g) => g.map(describeRecipient).join(', ')).join(' | ');
}
