/*
 * sops files as documents: read and write each format with its metadata, decrypt (always checking
 * the MAC) and encrypt (keeping the ciphertext of unchanged values). Errors name the file, and the key
 * path where there is one, never a value.
 */
import { failure, usageError } from '@imagewright/core';
import { CipherError, decryptValue, encryptValue } from './cipher';
import { decryptTree, encryptTree, ValueError, type IvStash } from './crypt';
import { flatten, FlattenError, unflatten } from './flatten';
import { nowRfc3339, rfc3339Seconds } from './gofmt';
import { SOPS_VERSION, type Metadata } from './metadata';
import { metadataFromMapping, MetadataError, metadataToMapping } from './metadata-tree';
import { binaryBytes, binaryStore, NotBinaryError } from './stores/binary';
import { dotenvStore, NotFlatError } from './stores/dotenv';
import { iniStore } from './stores/ini';
import { jsonStore } from './stores/json';
import { ParseError, type Store } from './stores/store';
import { yamlStore } from './stores/yaml';
import { Comment, Mapping, type Tree, type Value } from './tree';
import { DEFAULT_UNENCRYPTED_SUFFIX, RuleError, type CryptRules } from './walk';

export type Format = 'yaml' | 'json' | 'ini' | 'dotenv' | 'binary';
export const FORMATS: readonly Format[] = ['yaml', 'json', 'ini', 'dotenv', 'binary'];

/** A sops file as read: values still ENC[…] (or in clear where the rules say so), metadata apart. */
export interface EncryptedDocument {
  format: Format;
  tree: Tree;
  metadata: Metadata;
}

/** The format sops infers from a path's ending (.yaml/.yml, .json, .env, .ini; anything else is binary). */
export function formatOf(path: string): Format {
  if (path.endsWith('.yaml') || path.endsWith('.yml')) return 'yaml';
  if (path.endsWith('.json')) return 'json';
  if (path.endsWith('.env')) return 'dotenv';
  if (path.endsWith('.ini')) return 'ini';
  return 'binary';
}

/** A --format/--input-type value. */
export function parseFormat(text: string, what: string): Format {
  if ((FORMATS as readonly string[]).includes(text)) return text as Format;
  throw usageError(`${what} must be one of ${FORMATS.join(', ')} (got "${text}")`);
}

const METADATA_KEY = 'sops';
const FLAT_PREFIX = 'sops_';

/** Where each format keeps the metadata: a `sops` mapping, an INI [sops] section of flattened keys, or sops_* keys. */
type Placement = 'nested' | 'section' | 'flat';

interface Layout {
  /** The store of the encrypted file. */
  store: Store;
  /** The store of the plaintext (binary differs). */
  plain: Store;
  placement: Placement;
}

const LAYOUT: Record<Format, Layout> = {
  yaml: { store: yamlStore, plain: yamlStore, placement: 'nested' },
  json: { store: jsonStore, plain: jsonStore, placement: 'nested' },
  binary: { store: jsonStore, plain: binaryStore, placement: 'nested' },
  ini: { store: iniStore, plain: iniStore, placement: 'section' },
  dotenv: { store: dotenvStore, plain: dotenvStore, placement: 'flat' },
};

function reason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function known(e: unknown): boolean {
  return [ParseError, MetadataError, FlattenError, CipherError, ValueError].some((c) => e instanceof c);
}

// ---- metadata placement (stores/metadata.go ExtractMetadata / SerializeMetadata)

function flatEntries(mapping: Mapping): Array<[string, Value]> {
  return mapping.entries.flatMap((e) => (typeof e.key === 'string' ? [[e.key, e.value] as [string, Value]] : []));
}

function takeMetadata(tree: Tree, placement: Placement): { tree: Tree; metadata?: Mapping } {
  const docs = tree.map((d) => new Mapping([...d.entries]));
  if (placement === 'flat') {
    const first = docs[0];
    if (!first) return { tree: docs };
    const meta = first.entries.filter((e) => typeof e.key === 'string' && e.key.startsWith(FLAT_PREFIX));
    if (!meta.length) return { tree: docs };
    first.entries = first.entries.filter((e) => !meta.includes(e));
    return { tree: docs, metadata: unflatten(meta.map((e) => [(e.key as string).slice(FLAT_PREFIX.length), e.value])) };
  }
  let metadata: Mapping | undefined;
  docs.forEach((doc, i) => {
    const found = doc.entries.filter((e) => e.key === METADATA_KEY);
    if (i === 0 && found.length > 1) throw new MetadataError(`found more than one "${METADATA_KEY}" entry`);
    if (i === 0 && found.length) {
      const value = found[0].value;
      if (!(value instanceof Mapping)) throw new MetadataError(`found a "${METADATA_KEY}" entry that is not a mapping`);
      metadata = value;
    }
    doc.entries = doc.entries.filter((e) => e.key !== METADATA_KEY);
  });
  if (metadata && placement === 'section') {
    // INI writes the metadata's newlines as backslash-n (and 3.13.0/1 wrote real ones; both read).
    metadata = unflatten(flatEntries(metadata).map(([k, v]) => [k, typeof v === 'string' ? v.replaceAll('\\n', '\n') : v]));
  }
  return { tree: docs, metadata };
}

function putMetadata(tree: Tree, metadata: Metadata, placement: Placement): Tree {
  let md = metadataToMapping(metadata);
  if (placement !== 'nested') {
    const flat = flatten(md, placement === 'flat' ? FLAT_PREFIX : '');
    md = new Mapping(
      flat.map(([key, value]) => ({ key, value: placement === 'section' && typeof value === 'string' ? value.replaceAll('\n', '\\n') : value })),
    );
  }
  const entries = placement === 'flat' ? md.entries : [{ key: METADATA_KEY, value: md as Value }];
  return tree.map((doc) => {
    for (const e of doc.entries) {
      if (typeof e.key !== 'string') continue;
      if (placement === 'flat' ? e.key.startsWith(FLAT_PREFIX) : e.key === METADATA_KEY) {
        throw usageError(
          placement === 'flat'
            ? `key "${e.key}" starts with "${FLAT_PREFIX}", which sops reserves for its metadata`
            : `key "${METADATA_KEY}" is reserved for sops' metadata`,
        );
      }
    }
    return new Mapping([...doc.entries, ...entries]);
  });
}

function rules(metadata: Pick<Metadata, keyof CryptRules>): CryptRules {
  return {
    unencryptedSuffix: metadata.unencryptedSuffix,
    encryptedSuffix: metadata.encryptedSuffix,
    unencryptedRegex: metadata.unencryptedRegex,
    encryptedRegex: metadata.encryptedRegex,
    unencryptedCommentRegex: metadata.unencryptedCommentRegex,
    encryptedCommentRegex: metadata.encryptedCommentRegex,
    macOnlyEncrypted: metadata.macOnlyEncrypted,
  };
}

// ---- the API

/** Reads an encrypted file; one without sops metadata (or with broken metadata) is a failure naming it. */
export function readEncrypted(input: string | Buffer, format: Format, name: string): EncryptedDocument {
  const layout = LAYOUT[format];
  try {
    const { tree, metadata } = takeMetadata(layout.store.load(input, name), layout.placement);
    if (!metadata) throw failure(`${name} has no sops metadata: it is not a sops-encrypted ${format} file`);
    return { format, tree, metadata: metadataFromMapping(metadata) };
  } catch (e) {
    if (!known(e)) throw e;
    throw failure(`${name} is not a readable sops ${format} file: ${reason(e)}`, e);
  }
}

/** Decrypts every value and checks the MAC: any change made without the data key is a failure. */
export function decryptDocument(doc: EncryptedDocument, dataKey: Buffer, name: string): Tree {
  let result: { tree: Tree; mac: string };
  try {
    result = decryptTree(doc.tree, dataKey, rules(doc.metadata));
  } catch (e) {
    if (e instanceof ValueError) throw failure(`${name}: the value at ${e.message}`, e);
    if (e instanceof RuleError) throw failure(`${name}: its metadata's selector ${e.message}`, e);
    throw e;
  }
  const ad = rfc3339Seconds(doc.metadata.lastModified);
  let fileMac: unknown;
  try {
    if (ad === undefined) throw new CipherError('lastmodified is not an RFC 3339 time');
    fileMac = decryptValue(doc.metadata.mac, dataKey, ad).value;
  } catch (e) {
    if (!(e instanceof CipherError)) throw e;
    throw failure(`${name}: its MAC ${e.message}; the file was changed without its data key (or lastmodified was)`, e);
  }
  if (fileMac !== result.mac) {
    throw failure(`${name}: MAC mismatch: the file's values, keys or order were changed without its data key`);
  }
  return result.tree;
}

export type NewMetadata = Omit<Metadata, 'mac' | 'lastModified' | 'version'> & { lastModified?: string; version?: string };

/**
 * Encrypts a plaintext tree. With `previous` (the file as it was, same data key), every value and
 * comment whose plaintext, type and key path are unchanged keeps its ciphertext byte for byte, so the
 * diff shows only what changed; changed and new values get fresh IVs. The MAC and lastmodified are
 * always new. With no selector in `metadata`, sops' default applies (keys ending in _unencrypted stay
 * in clear). A data key "sops" (dotenv: "sops_…") is a usage error.
 */
export function encryptDocument(plain: Tree, format: Format, dataKey: Buffer, metadata: NewMetadata, previous?: EncryptedDocument): EncryptedDocument {
  const meta: Metadata = { ...metadata, version: metadata.version || SOPS_VERSION, lastModified: metadata.lastModified ?? nowRfc3339(), mac: '' };
  const selectors = [meta.unencryptedSuffix, meta.encryptedSuffix, meta.unencryptedRegex, meta.encryptedRegex, meta.unencryptedCommentRegex, meta.encryptedCommentRegex];
  if (selectors.filter(Boolean).length > 1) {
    throw usageError('only one of unencrypted_suffix, encrypted_suffix, unencrypted_regex, encrypted_regex, unencrypted_comment_regex, encrypted_comment_regex may be set');
  }
  if (!selectors.some(Boolean)) meta.unencryptedSuffix = DEFAULT_UNENCRYPTED_SUFFIX;
  const ad = rfc3339Seconds(meta.lastModified);
  if (ad === undefined) throw usageError(`lastModified "${meta.lastModified}" is not an RFC 3339 time`);
  // Reject the reserved keys before any work (the placement check repeats it when writing).
  putMetadata(plain, { ...meta }, LAYOUT[format].placement);

  const stash: IvStash = new Map();
  if (previous) {
    try {
      decryptTree(previous.tree, dataKey, rules(previous.metadata), stash);
    } catch (e) {
      // Another data key or a damaged earlier file: nothing to reuse, every value gets a fresh IV.
      if (!(e instanceof ValueError) && !(e instanceof RuleError)) throw e;
      stash.clear();
    }
  }
  let encrypted: { tree: Tree; mac: string };
  try {
    encrypted = encryptTree(plain, dataKey, rules(meta), stash);
  } catch (e) {
    if (e instanceof RuleError) throw usageError(`the encryption selector ${e.message}`);
    throw e;
  }
  const { tree, mac } = encrypted;
  meta.mac = encryptValue(mac, dataKey, ad);
  return { format, tree, metadata: meta };
}

/** The encrypted file's text in its format (metadata placed as sops places it). */
export function writeEncrypted(doc: EncryptedDocument): string {
  const layout = LAYOUT[doc.format];
  return layout.store.emit(putMetadata(doc.tree, doc.metadata, layout.placement));
}

/** Parses a plaintext (what an editor saved); a parse error is a usage error naming the file and line. */
export function readPlain(input: string | Buffer, format: Format, name: string): Tree {
  try {
    return LAYOUT[format].plain.load(input, name);
  } catch (e) {
    if (e instanceof ParseError) throw usageError(`${name}: ${e.message}`);
    throw e;
  }
}

/** The plaintext as `sops --decrypt` prints it (YAML keeps comments); binary is the raw bytes. */
export function writePlain(tree: Tree, format: 'binary'): Buffer;
export function writePlain(tree: Tree, format: Exclude<Format, 'binary'>): string;
export function writePlain(tree: Tree, format: Format): string | Buffer;
export function writePlain(tree: Tree, format: Format): string | Buffer {
  try {
    if (format === 'binary') return binaryBytes(tree);
    return LAYOUT[format].plain.emit(tree);
  } catch (e) {
    if (e instanceof NotFlatError || e instanceof NotBinaryError || e instanceof TypeError) throw usageError(`cannot write this document as ${format}: ${e.message}`);
    throw e;
  }
}

/** The plaintext in another format, for secrets-cat --format (yaml, json, or dotenv for flat mappings). */
export function convertPlain(tree: Tree, to: Format): string {
  if (to !== 'yaml' && to !== 'json' && to !== 'dotenv') throw usageError(`--format must be yaml, json or dotenv (got "${to}")`);
  return writePlain(tree, to);
}

/** sops' --extract path: ["key"]['key'][0]… */
export function parseExtractPath(path: string): Array<string | number> {
  const parts: Array<string | number> = [];
  const component = /\[(?:"([^"]*)"|'([^']*)'|(\d+))\]/y;
  let at = 0;
  while (at < path.length) {
    component.lastIndex = at;
    const m = component.exec(path);
    if (!m) throw usageError(`--extract ${path}: expected ["key"] or [index] at character ${at + 1}`);
    parts.push(m[3] !== undefined ? Number(m[3]) : (m[1] ?? m[2]));
    at = component.lastIndex;
  }
  if (!parts.length) throw usageError(`--extract ${path}: empty path`);
  return parts;
}

/**
 * The value at an --extract path in the first document. List indices count values only (sops also
 * counts comments in a list). A missing key or index is a usage error naming the path.
 */
export function extract(tree: Tree, path: string | Array<string | number>): Value {
  const parts = typeof path === 'string' ? parseExtractPath(path) : path;
  const shown = typeof path === 'string' ? path : parts.map((p) => (typeof p === 'number' ? `[${p}]` : `["${p}"]`)).join('');
  let current: Value = tree[0] ?? new Mapping();
  for (const part of parts) {
    if (typeof part === 'string') {
      if (!(current instanceof Mapping) || !current.has(part)) throw usageError(`--extract ${shown}: no key "${part}" there`);
      current = current.get(part)!;
    } else {
      const values: Value[] | undefined = Array.isArray(current) ? (current.filter((v) => !(v instanceof Comment)) as Value[]) : undefined;
      if (!values || part >= values.length) throw usageError(`--extract ${shown}: no index ${part} there`);
      current = values[part];
    }
  }
  return current;
}

/** An extracted value as sops prints it: a mapping as a document, a string raw, anything else in the format. */
export function writeExtracted(value: Value, format: Format): string | Buffer {
  if (value instanceof Mapping) return writePlain([value], format);
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value;
  const store = LAYOUT[format].plain;
  if (!store.emitValue) throw usageError(`a ${format} file has no parts to extract`);
  try {
    return store.emitValue(value);
  } catch (e) {
    if (e instanceof NotFlatError) throw usageError(e.message);
    throw e;
  }
}
