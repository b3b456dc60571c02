/*
 * A sops file as the secrets commands use it: open (read, unwrap the data key, decrypt, MAC
 * checked), save an edited plaintext (same data key; unchanged values keep their ciphertext),
 * create a new one from .sops.yaml's creation rule, change its recipients, rotate its data key.
 * Every write goes through a temp file and a rename: an interrupted command leaves the old file.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { failure, shownPath, usageError, writeFileAtomic } from '@imagewright/core';
import {
  decryptDocument,
  encryptDocument,
  type EncryptedDocument,
  type Format,
  formatOf,
  readEncrypted,
  readPlain,
  writeEncrypted,
  writePlain,
} from './document';
import { newDataKey, unwrapDataKey, wrapDataKey } from './keys';
import { SOPS_VERSION, type KeyGroup, type Metadata } from './metadata';
import { describeRecipient, type Recipient, recipientsOf } from './recipients';
import { type CreationRule, creationRuleFor } from './rules';
import type { Tree } from './tree';

export interface SecretsFile {
  /** Absolute path. */
  path: string;
  /** The path as errors and messages show it. */
  name: string;
  format: Format;
  /** The file as it is on disk. */
  doc: EncryptedDocument;
  dataKey: Buffer;
  plain: Tree;
}

export interface OpenOptions {
  env?: NodeJS.ProcessEnv;
  /** --input-type: the format when the name's extension does not say it. */
  format?: Format;
}

/** Reads `path` without decrypting it (its metadata: recipients, no key needed); a missing file is a usage error. */
export function readSecrets(path: string, format?: Format): Pick<SecretsFile, 'path' | 'name' | 'format' | 'doc'> {
  const abs = resolve(path);
  const name = shownPath(abs);
  if (!existsSync(abs)) throw usageError(`${name}: no such file: allowed an existing sops file (secrets-edit makes a new one)`);
  if (!statSync(abs).isFile()) throw usageError(`${name}: not a file: allowed a sops file`);
  const chosen = format ?? formatOf(abs);
  return { path: abs, name, format: chosen, doc: readEncrypted(readFileSync(abs), chosen, name) };
}

/** Reads and decrypts `path`; a missing file is a usage error, a file we cannot open a failure. */
export async function openSecrets(path: string, options: OpenOptions = {}): Promise<SecretsFile> {
  const { path: abs, name, format, doc } = readSecrets(path, options.format);
  const dataKey = await unwrapDataKey(doc.metadata, name, { env: options.env });
  const plain = decryptDocument(doc, dataKey, name);
  return { path: abs, name, format, doc, dataKey, plain };
}

/** The plaintext as `sops --decrypt` prints it (binary: the raw bytes). */
export function plainOf(file: Pick<SecretsFile, 'plain' | 'format'>): Buffer {
  const out = writePlain(file.plain, file.format);
  return Buffer.isBuffer(out) ? out : Buffer.from(out);
}

/** The metadata a re-encryption keeps: everything but the MAC and the time. */
function kept(metadata: Metadata): Omit<Metadata, 'mac' | 'lastModified'> {
  const { mac: _mac, lastModified: _time, ...rest } = metadata;
  return rest;
}

/** sops edit's version rule: a file written by an older sops says SOPS_VERSION once we rewrite it; a newer one keeps its own. */
function editedVersion(version: string): string {
  const parts = (v: string) => v.replace(/^v/, '').split(/[.+-]/).slice(0, 3).map((n) => Number.parseInt(n, 10) || 0);
  const [a, b] = [parts(SOPS_VERSION), parts(version)];
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! > b[i]! ? SOPS_VERSION : version;
  return version;
}

/**
 * Saves `edited` (the plaintext as the editor left it) when it differs from the file's: the same
 * data key, unchanged values keep their ciphertext, changed ones get fresh IVs, a new MAC.
 * Returns false, writing nothing, when nothing changed.
 */
export function saveEdited(file: SecretsFile, edited: Buffer): { changed: boolean; plain: Tree } {
  if (edited.equals(plainOf(file))) return { changed: false, plain: file.plain };
  const plain = readPlain(file.format === 'binary' ? edited : edited.toString('utf8'), file.format, file.name);
  // Parsed back to the same tree (say, only whitespace moved): nothing to re-encrypt.
  if (plainOf({ plain, format: file.format }).equals(plainOf(file))) return { changed: false, plain: file.plain };
  const metadata = kept(file.doc.metadata);
  const doc = encryptDocument(plain, file.format, file.dataKey, { ...metadata, version: editedVersion(metadata.version) }, file.doc);
  writeSecretsText(file.path, writeEncrypted(doc));
  return { changed: true, plain };
}

/** The rule a new file follows: .sops.yaml's creation rule for it, looked up from `cwd` as sops does. */
export function ruleFor(path: string, options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): CreationRule | undefined {
  return creationRuleFor(resolve(path), { env: options.env, cwd: options.cwd ?? dirname(resolve(path)) });
}

/** A new file's recipients and wrapped data key, got before there is any plaintext (newSecrets). */
export interface NewSecrets {
  path: string;
  name: string;
  format: Format;
  dataKey: Buffer;
  metadata: Omit<Metadata, 'mac' | 'lastModified' | 'version'>;
}

/**
 * Everything a new sops file at `path` needs but its plaintext: the recipients given (groups), else
 * those of the .sops.yaml creation rule (read even when groups are given: one that does not match is
 * an error, as in sops), and the data key wrapped for them. Done before the editor opens, so that
 * no recipients, a bad .sops.yaml or a KMS refusal never throws away what the user typed.
 * No recipients anywhere is a usage error.
 */
export async function newSecrets(path: string, options: { env?: NodeJS.ProcessEnv; cwd?: string; groups?: Recipient[][]; format?: Format } = {}): Promise<NewSecrets> {
  const abs = resolve(path);
  const name = shownPath(abs);
  const format = options.format ?? formatOf(abs);
  const rule = ruleFor(abs, options);
  const groups = options.groups?.length ? options.groups : rule?.groups ?? [];
  if (!groups.length || groups.every((g) => !g.length)) {
    throw usageError(`${name}: no recipients for a new file: allowed a .sops.yaml creation rule (age: or kms: keys) matching it, or --recipient RECIPIENT`);
  }
  const dataKey = newDataKey();
  const { keyGroups, shamirThreshold } = await wrapDataKey(dataKey, groups, options.groups?.length ? undefined : rule?.threshold, { env: options.env });
  const selectors = rule
    ? {
        unencryptedSuffix: rule.unencryptedSuffix,
        encryptedSuffix: rule.encryptedSuffix,
        unencryptedRegex: rule.unencryptedRegex,
        encryptedRegex: rule.encryptedRegex,
        unencryptedCommentRegex: rule.unencryptedCommentRegex,
        encryptedCommentRegex: rule.encryptedCommentRegex,
        macOnlyEncrypted: rule.macOnlyEncrypted,
      }
    : {};
  const metadata = Object.fromEntries(Object.entries({ keyGroups, shamirThreshold, ...selectors }).filter(([, v]) => v !== undefined)) as NewSecrets['metadata'];
  return { path: abs, name, format, dataKey, metadata };
}

/** Writes the new file prepared by newSecrets with the plaintext `text`. */
export function writeNewSecrets(prepared: NewSecrets, text: Buffer): SecretsFile {
  const { path, name, format, dataKey, metadata } = prepared;
  const plain = readPlain(format === 'binary' ? text : text.toString('utf8'), format, name);
  const doc = encryptDocument(plain, format, dataKey, metadata);
  writeSecretsText(path, writeEncrypted(doc), 0o644);
  return { path, name, format, doc, dataKey, plain };
}

/**
 * Makes a new sops file at `path` from the plaintext `text`, for the recipients given (groups), else
 * those of the creation rule. No recipients anywhere is a usage error: nothing is written.
 */
export async function createSecrets(
  path: string,
  text: Buffer,
  options: { env?: NodeJS.ProcessEnv; cwd?: string; groups?: Recipient[][]; format?: Format } = {},
): Promise<SecretsFile> {
  return writeNewSecrets(await newSecrets(path, options), text);
}

const sameRecipient = (a: Recipient, b: Recipient) => describeRecipient(a) === describeRecipient(b);
const keyOf = (r: Recipient) => (r.type === 'age' ? r.recipient : r.arn);

/**
 * Adds and removes recipients (the data key stays: values, MAC and lastmodified are untouched, as
 * sops updatekeys). One group: kept recipients keep their wrapped key, new ones are wrapped; several
 * groups: the key is split again and every group re-wrapped, as sops does. Additions go to group
 * `group` (0-based). Returns what changed; nothing changed writes nothing.
 */
export async function changeRecipients(
  file: SecretsFile,
  change: { add?: Recipient[]; remove?: Recipient[]; group?: number },
  env?: NodeJS.ProcessEnv,
): Promise<{ added: Recipient[]; removed: Recipient[] }> {
  const groups = recipientsOf(file.doc.metadata);
  const index = change.group ?? 0;
  if (!Number.isInteger(index) || index < 0 || index >= groups.length) {
    throw usageError(`--group ${index + 1}: allowed 1 to ${groups.length} (the file's key groups)`);
  }
  const removed: Recipient[] = [];
  for (const r of change.remove ?? []) {
    const found = groups.some((g) => g.some((x) => keyOf(x) === keyOf(r)));
    if (!found) throw usageError(`--remove ${keyOf(r)}: not a recipient of ${file.name}: allowed one of ${groups.flat().map(keyOf).join(', ')}`);
    removed.push(r);
  }
  const next = groups.map((g) => g.filter((x) => !removed.some((r) => keyOf(r) === keyOf(x))));
  const added: Recipient[] = [];
  for (const r of change.add ?? []) {
    if (next[index]!.some((x) => keyOf(x) === keyOf(r)) || added.some((x) => sameRecipient(x, r))) continue;
    next[index]!.push(r);
    added.push(r);
  }
  const emptied = next.findIndex((g) => g.length === 0);
  if (emptied >= 0) throw usageError(`--remove: key group ${emptied + 1} of ${file.name} would have no recipient left: allowed removing all but one`);
  if (!added.length && !removed.length) return { added, removed };

  let keyGroups: KeyGroup[];
  let shamirThreshold = file.doc.metadata.shamirThreshold;
  if (groups.length === 1) {
    // Kept entries as they were (a reviewable diff); only the new recipients are wrapped.
    const old = file.doc.metadata.keyGroups[0]!;
    const wrapped = added.length ? (await wrapDataKey(file.dataKey, [added], undefined, { env })).keyGroups[0]! : { age: [], kms: [], other: {} };
    const gone = (k: string) => removed.some((r) => keyOf(r) === k);
    keyGroups = [{ age: [...old.age.filter((a) => !gone(a.recipient)), ...wrapped.age], kms: [...old.kms.filter((k) => !gone(k.arn)), ...wrapped.kms], other: old.other }];
  } else {
    const rewrapped = await wrapDataKey(file.dataKey, next, shamirThreshold, { env });
    keyGroups = rewrapped.keyGroups.map((g, i) => ({ ...g, other: file.doc.metadata.keyGroups[i]?.other ?? {} }));
    shamirThreshold = rewrapped.shamirThreshold;
  }
  const metadata: Metadata = { ...file.doc.metadata, keyGroups, ...(shamirThreshold === undefined ? {} : { shamirThreshold }) };
  file.doc = { ...file.doc, metadata };
  writeSecretsText(file.path, writeEncrypted(file.doc));
  return { added, removed };
}

/** A new data key for the same recipients; every value re-encrypted (sops --rotate). */
export async function rotateDataKey(file: SecretsFile, env?: NodeJS.ProcessEnv): Promise<void> {
  const groups = recipientsOf(file.doc.metadata);
  const dataKey = newDataKey();
  const { keyGroups, shamirThreshold } = await wrapDataKey(dataKey, groups, file.doc.metadata.shamirThreshold, { env });
  const { shamirThreshold: _old, ...rest } = kept(file.doc.metadata);
  const metadata = { ...rest, keyGroups: keyGroups.map((g, i) => ({ ...g, other: file.doc.metadata.keyGroups[i]?.other ?? {} })), ...(shamirThreshold === undefined ? {} : { shamirThreshold }) };
  const doc = encryptDocument(file.plain, file.format, dataKey, metadata);
  writeSecretsText(file.path, writeEncrypted(doc));
  file.dataKey.fill(0);
  Object.assign(file, { doc, dataKey });
}

/** Writes an encrypted file atomically, keeping the mode of the file it replaces. */
function writeSecretsText(path: string, text: string, mode?: number): void {
  let keep = mode;
  if (existsSync(path)) keep = statSync(path).mode & 0o777;
  try {
    writeFileAtomic(path, text, keep);
  } catch (error) {
    throw failure(`${shownPath(path)}: cannot write: ${(error as Error).message}`, error);
  }
}
