/*
 * The document tree as sops holds it: ordered mappings (a key can also be a comment), lists (an item
 * can be a comment) and typed scalars. Order and comments survive so that an edit or a re-encryption
 * changes only what was changed. Scalar types follow sops' value types:
 *   string → str, bigint → int (Go's int is 64 bits, more than a JS number holds), number → float,
 *   boolean → bool, Timestamp → time (YAML timestamps), Buffer → bytes that are not UTF-8 (encrypted
 *   as str, as sops does), null → null (never encrypted).
 */

/** A comment line (without its `#`/`;`); `inline` ones stood after a value on the same line. */
export class Comment {
  constructor(
    readonly value: string,
    readonly inline = false,
  ) {}
}

/** A timestamp as Go's time.Time.MarshalText renders it (RFC 3339, nanoseconds trimmed). */
export class Timestamp {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type Scalar = string | bigint | number | boolean | Buffer | Timestamp | null;

export interface Entry {
  key: string | Comment;
  /** null for a comment entry. */
  value: Value;
}

/** An ordered mapping; keys keep their order, even integer-like ones. */
export class Mapping {
  constructor(public entries: Entry[] = []) {}

  /** The value of the first entry with this key. */
  get(key: string): Value | undefined {
    return this.entries.find((e) => e.key === key)?.value;
  }

  has(key: string): boolean {
    return this.entries.some((e) => e.key === key);
  }

  /** Replaces the first entry with this key, or appends one. */
  set(key: string, value: Value): this {
    const entry = this.entries.find((e) => e.key === key);
    if (entry) entry.value = value;
    else this.entries.push({ key, value });
    return this;
  }

  delete(key: string): boolean {
    const i = this.entries.findIndex((e) => e.key === key);
    if (i >= 0) this.entries.splice(i, 1);
    return i >= 0;
  }

  /** The data keys in order (comments left out). */
  keys(): string[] {
    return this.entries.flatMap((e) => (typeof e.key === 'string' ? [e.key] : []));
  }
}

export type List = Array<Value | Comment>;
export type Value = Scalar | Mapping | List;

/** A whole document: one mapping per YAML document; every other format has exactly one. */
export type Tree = Mapping[];

export function isScalar(value: unknown): value is Scalar {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'bigint' ||
    typeof value === 'number' ||
    typeof value === 'boolean' ||
    Buffer.isBuffer(value) ||
    value instanceof Timestamp
  );
}

/** Plain JS data (objects, arrays, strings, numbers: integers become bigint) as a mapping. */
export function fromJs(data: Record<string, unknown>): Mapping {
  return new Mapping(Object.entries(data).map(([key, value]) => ({ key, value: valueFromJs(value) })));
}

function valueFromJs(value: unknown): Value {
  if (value === undefined) return null;
  if (typeof value === 'number') return Number.isInteger(value) && !Object.is(value, -0) ? BigInt(value) : value;
  if (isScalar(value)) return value;
  if (value instanceof Mapping) return value;
  if (Array.isArray(value)) return value.map((v) => (v instanceof Comment ? v : valueFromJs(v)));
  if (value instanceof Date) return new Timestamp(value.toISOString().replace('.000Z', 'Z'));
  if (typeof value === 'object') return fromJs(value as Record<string, unknown>);
  throw new TypeError(`cannot hold a ${typeof value} in a secrets tree`);
}

/**
 * The tree as plain JS data for reading values: comments dropped, ints as bigint (or number when
 * `numbers` is set and the value is safe), Buffers and Timestamps kept. Integer-like keys reorder in
 * JS objects: use the Mapping itself where order matters.
 */
export function toJs(value: Value, options: { numbers?: boolean } = {}): unknown {
  if (value instanceof Mapping) {
    const out: Record<string, unknown> = {};
    for (const { key, value: v } of value.entries) if (typeof key === 'string') out[key] = toJs(v, options);
    return out;
  }
  if (Array.isArray(value)) return value.filter((v) => !(v instanceof Comment)).map((v) => toJs(v as Value, options));
  if (typeof value === 'bigint' && options.numbers && Number.isSafeInteger(Number(value))) return Number(value);
  return value;
}

/** A deep copy (scalars are immutable; Buffers are copied). */
export function cloneValue<T extends Value | Comment>(value: T): T {
  if (value instanceof Mapping) return new Mapping(value.entries.map((e) => ({ key: e.key, value: cloneValue(e.value) }))) as T;
  if (Array.isArray(value)) return value.map((v) => cloneValue(v)) as T;
  if (Buffer.isBuffer(value)) return Buffer.from(value) as T;
  return value;
}

export function cloneTree(tree: Tree): Tree {
  return tree.map((m) => cloneValue(m));
}
