/*
 * The `sops` metadata block to and from the tree, as sops 3.13 reads and writes it (stores/stores.go,
 * stores/metadata.go): written with every map's keys sorted and empty fields left out, one key group
 * as flat top-level lists (kms:, age:, …) and several as key_groups:; read leniently (values of any
 * scalar type converted, field names matched case-insensitively, as mapstructure does).
 */
import { compareGo, formatFloatF, parseGoBool, parseGoInt, rfc3339Seconds } from './gofmt';
import type { AgeKey, KeyGroup, KmsKey, Metadata } from './metadata';
import { Comment, Mapping, Timestamp, type Value } from './tree';
import { DEFAULT_UNENCRYPTED_SUFFIX } from './walk';

export class MetadataError extends Error {}

/** Key kinds this package reads into typed fields; the others are kept in KeyGroup.other. */
const OTHER_KINDS = ['pgp', 'gcp_kms', 'hckms', 'azure_kv', 'hc_vault'] as const;

// ---- writing

/** Plain JS (from `other` key entries) as sops' goToSops builds it: maps with sorted keys. */
function goToSops(value: unknown): Value {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map(goToSops);
  if (value instanceof Mapping || value instanceof Timestamp || Buffer.isBuffer(value)) return value;
  if (typeof value === 'object') {
    const keys = Object.keys(value).sort(compareGo);
    return new Mapping(keys.map((k) => ({ key: k, value: goToSops((value as Record<string, unknown>)[k]) })));
  }
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  return value as Value;
}

function ageEntries(keys: AgeKey[]): Value {
  return keys.map((k) => goToSops({ enc: k.enc, recipient: k.recipient }));
}

function kmsEntries(keys: KmsKey[]): Value {
  return keys.map((k) =>
    goToSops({
      arn: k.arn,
      aws_profile: k.aws_profile ?? '',
      ...(k.context && Object.keys(k.context).length ? { context: k.context } : {}),
      created_at: k.created_at,
      enc: k.enc,
      ...(k.role ? { role: k.role } : {}),
    }),
  );
}

/** The kinds of one group as fields; `always` are written even when empty (key_groups' hc_vault/age). */
function groupFields(group: KeyGroup, always: string[] = []): Record<string, Value> {
  const fields: Record<string, Value> = {};
  const put = (name: string, list: Value[]): void => {
    if (list.length || always.includes(name)) fields[name] = list;
  };
  put('age', ageEntries(group.age) as Value[]);
  put('kms', kmsEntries(group.kms) as Value[]);
  for (const kind of OTHER_KINDS) put(kind, (group.other[kind] ?? []).map(goToSops));
  for (const [kind, list] of Object.entries(group.other)) {
    if (!(OTHER_KINDS as readonly string[]).includes(kind)) put(kind, list.map(goToSops));
  }
  return fields;
}

function sortedMapping(fields: Record<string, Value>): Mapping {
  return new Mapping(
    Object.keys(fields)
      .sort(compareGo)
      .map((key) => ({ key, value: fields[key] })),
  );
}

/** The `sops:` mapping of a file (its contents, without the `sops` key). */
export function metadataToMapping(meta: Metadata): Mapping {
  const fields: Record<string, Value> = {
    lastmodified: meta.lastModified,
    mac: meta.mac,
    version: meta.version,
  };
  if (meta.shamirThreshold) fields.shamir_threshold = BigInt(meta.shamirThreshold);
  if (meta.keyGroups.length === 1) Object.assign(fields, groupFields(meta.keyGroups[0]));
  else if (meta.keyGroups.length > 1) {
    fields.key_groups = meta.keyGroups.map((g) => sortedMapping(groupFields(g, ['age', 'hc_vault'])));
  }
  const strings: Array<[string, string | undefined]> = [
    ['unencrypted_suffix', meta.unencryptedSuffix],
    ['encrypted_suffix', meta.encryptedSuffix],
    ['unencrypted_regex', meta.unencryptedRegex],
    ['encrypted_regex', meta.encryptedRegex],
    ['unencrypted_comment_regex', meta.unencryptedCommentRegex],
    ['encrypted_comment_regex', meta.encryptedCommentRegex],
  ];
  for (const [name, value] of strings) if (value) fields[name] = value;
  if (meta.macOnlyEncrypted) fields.mac_only_encrypted = true;
  return sortedMapping(fields);
}

// ---- reading

/** sops' sopsToGo: comments dropped, mappings to objects (first key wins on duplicates). */
function toGo(value: Value | Comment): unknown {
  if (value instanceof Mapping) {
    const out: Record<string, unknown> = {};
    for (const e of value.entries) if (typeof e.key === 'string' && !(e.key in out)) out[e.key] = toGo(e.value);
    return out;
  }
  if (Array.isArray(value)) return value.filter((v) => !(v instanceof Comment)).map(toGo);
  return value;
}

/** A field by its name, or case-insensitively as mapstructure falls back to. */
function field(obj: Record<string, unknown>, name: string): unknown {
  if (name in obj) return obj[name];
  const key = Object.keys(obj).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : obj[key];
}

/** A string field with mapstructure's weak typing. */
function str(obj: Record<string, unknown>, name: string): string {
  const v = field(obj, name);
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return formatFloatF(v);
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (v instanceof Timestamp) return v.text;
  throw new MetadataError(`"${name}" should be a string`);
}

function int(obj: Record<string, unknown>, name: string): number {
  const v = field(obj, name);
  if (v === undefined || v === null || v === '') return 0;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') {
    const n = parseGoInt(v);
    if (n !== undefined) return Number(n);
  }
  throw new MetadataError(`"${name}" should be an integer`);
}

function bool(obj: Record<string, unknown>, name: string): boolean {
  const v = field(obj, name);
  if (v === undefined || v === null || v === '') return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return v !== 0n;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') {
    const b = parseGoBool(v);
    if (b !== undefined) return b;
  }
  throw new MetadataError(`"${name}" should be a boolean`);
}

function objects(obj: Record<string, unknown>, name: string): Array<Record<string, unknown>> {
  const v = field(obj, name);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new MetadataError(`"${name}" should be a list`);
  return v.map((item) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw new MetadataError(`"${name}" should be a list of maps`);
    return item as Record<string, unknown>;
  });
}

function readGroup(obj: Record<string, unknown>): KeyGroup {
  const age = objects(obj, 'age').map((k) => ({ recipient: str(k, 'recipient'), enc: str(k, 'enc') }));
  const kms = objects(obj, 'kms').map((k) => {
    const key: KmsKey = { arn: str(k, 'arn'), created_at: str(k, 'created_at'), enc: str(k, 'enc'), aws_profile: str(k, 'aws_profile') };
    const role = str(k, 'role');
    if (role) key.role = role;
    const context = field(k, 'context');
    if (context && typeof context === 'object' && !Array.isArray(context)) {
      key.context = Object.fromEntries(Object.keys(context).map((c) => [c, str(context as Record<string, unknown>, c)]));
    }
    return key;
  });
  const other: Record<string, unknown[]> = {};
  for (const kind of OTHER_KINDS) {
    const list = objects(obj, kind);
    if (list.length) other[kind] = list;
  }
  return { age, kms, other };
}

function groupSize(g: KeyGroup): number {
  return g.age.length + g.kms.length + Object.values(g.other).reduce((n, l) => n + l.length, 0);
}

/** Metadata from the `sops:` mapping; a MetadataError says what is wrong (never a secret). */
export function metadataFromMapping(mapping: Mapping): Metadata {
  const obj = toGo(mapping) as Record<string, unknown>;
  const lastModified = str(obj, 'lastmodified');
  if (!rfc3339Seconds(lastModified)) throw new MetadataError(`lastmodified "${lastModified}" is not an RFC 3339 time`);
  const flat = readGroup(obj);
  let keyGroups: KeyGroup[];
  if (groupSize(flat)) keyGroups = [flat];
  else {
    keyGroups = objects(obj, 'key_groups').map(readGroup);
    if (!keyGroups.length) throw new MetadataError('no keys found in the metadata');
  }
  const meta: Metadata = {
    keyGroups,
    lastModified,
    mac: str(obj, 'mac'),
    version: str(obj, 'version'),
  };
  const threshold = int(obj, 'shamir_threshold');
  if (threshold) meta.shamirThreshold = threshold;
  const selectors = {
    unencryptedSuffix: str(obj, 'unencrypted_suffix'),
    encryptedSuffix: str(obj, 'encrypted_suffix'),
    unencryptedRegex: str(obj, 'unencrypted_regex'),
    encryptedRegex: str(obj, 'encrypted_regex'),
    unencryptedCommentRegex: str(obj, 'unencrypted_comment_regex'),
    encryptedCommentRegex: str(obj, 'encrypted_comment_regex'),
  };
  const set = Object.entries(selectors).filter(([, v]) => v);
  if (set.length > 1) {
    throw new MetadataError(
      'only one of encrypted_suffix, unencrypted_suffix, encrypted_regex, unencrypted_regex, encrypted_comment_regex, unencrypted_comment_regex may be set',
    );
  }
  // No selector at all means sops' default: keys ending in _unencrypted stay in clear.
  if (!set.length) meta.unencryptedSuffix = DEFAULT_UNENCRYPTED_SUFFIX;
  for (const [name, value] of set) (meta as unknown as Record<string, string>)[name] = value;
  if (bool(obj, 'mac_only_encrypted')) meta.macOnlyEncrypted = true;
  return meta;
}
