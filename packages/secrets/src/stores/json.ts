/*
 * sops' JSON store (stores/json/store.go): keys in file order (duplicates kept), integers that fit in
 * 64 bits as int and every other number as float, output indented with tabs as json.Indent does with
 * Go's string escaping (<, > and & as \u003c…). Comments cannot exist in JSON and are left out.
 */
import { formatFloatJson } from '../gofmt';
import { Comment, Mapping, Timestamp, type List, type Tree, type Value } from '../tree';
import { ParseError, lineAt, text, type Store } from './store';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

class Parser {
  private pos = 0;
  constructor(private readonly src: string) {}

  fail(message: string, at = this.pos): never {
    throw new ParseError(`${message} at line ${lineAt(this.src, at)}`, lineAt(this.src, at));
  }

  private ws(): void {
    while (this.pos < this.src.length && ' \t\n\r'.includes(this.src[this.pos])) this.pos++;
  }

  document(): Mapping {
    this.ws();
    if (this.src[this.pos] !== '{') this.fail('sops needs a JSON object at the top level');
    const value = this.object();
    this.ws();
    if (this.pos < this.src.length) this.fail('unexpected text after the top-level object');
    return value;
  }

  private value(): Value {
    this.ws();
    const c = this.src[this.pos];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.src.startsWith(word, this.pos)) {
        this.pos += word.length;
        return v;
      }
    }
    return this.fail(c === undefined ? 'unexpected end of JSON' : 'invalid JSON value');
  }

  private object(): Mapping {
    this.pos++;
    const mapping = new Mapping();
    this.ws();
    if (this.src[this.pos] === '}') {
      this.pos++;
      return mapping;
    }
    for (;;) {
      this.ws();
      if (this.src[this.pos] !== '"') this.fail('expected a JSON object key');
      const key = this.string();
      this.ws();
      if (this.src[this.pos] !== ':') this.fail('expected ":" after an object key');
      this.pos++;
      mapping.entries.push({ key, value: this.value() });
      this.ws();
      const c = this.src[this.pos++];
      if (c === '}') return mapping;
      if (c !== ',') this.fail('expected "," or "}" in an object', this.pos - 1);
    }
  }

  private array(): List {
    this.pos++;
    const list: List = [];
    this.ws();
    if (this.src[this.pos] === ']') {
      this.pos++;
      return list;
    }
    for (;;) {
      list.push(this.value());
      this.ws();
      const c = this.src[this.pos++];
      if (c === ']') return list;
      if (c !== ',') this.fail('expected "," or "]" in an array', this.pos - 1);
    }
  }

  private string(): string {
    const start = this.pos;
    const m = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
    m.lastIndex = this.pos;
    if (!m.exec(this.src)) this.fail('invalid JSON string', start);
    this.pos = m.lastIndex;
    return JSON.parse(this.src.slice(start, this.pos)) as string;
  }

  private number(): bigint | number {
    const m = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
    m.lastIndex = this.pos;
    const found = m.exec(this.src);
    if (!found) this.fail('invalid JSON number');
    this.pos = m.lastIndex;
    const literal = found[0];
    // As sops: int when the literal is an integer within int64, float otherwise.
    if (!found[1] && !found[2]) {
      const v = BigInt(literal);
      if (v >= INT64_MIN && v <= INT64_MAX) return v;
    }
    const f = Number(literal);
    if (!Number.isFinite(f)) this.fail('number out of range');
    return f;
  }
}

const HEX = '0123456789abcdef';

/** encoding/json's string form with HTML-safe escaping, as json.Marshal writes it. */
export function goJsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26) out += `\\u00${HEX[c >> 4]}${HEX[c & 15]}`;
    else if (c === 0x2028 || c === 0x2029) out += `\\u${c.toString(16)}`;
    else if (c >= 0xd800 && c <= 0xdfff) out += '\\ufffd';
    else out += ch;
  }
  return out + '"';
}

function scalarJson(value: Value): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return goJsonString(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return formatFloatJson(value);
  if (typeof value === 'boolean') return String(value);
  if (value instanceof Timestamp) return goJsonString(value.text);
  if (Buffer.isBuffer(value)) return goJsonString(value.toString('utf8'));
  throw new TypeError('not a scalar');
}

/** The value indented as json.Indent(…, "", "\t") lays out sops' compact encoding. */
export function jsonValue(value: Value, depth = 0): string {
  const pad = '\t'.repeat(depth + 1);
  const close = '\t'.repeat(depth);
  if (value instanceof Mapping) {
    const items = value.entries.flatMap((e) =>
      typeof e.key === 'string' ? [`${pad}${goJsonString(e.key)}: ${jsonValue(e.value, depth + 1)}`] : [],
    );
    return items.length ? `{\n${items.join(',\n')}\n${close}}` : '{}';
  }
  if (Array.isArray(value)) {
    const items = value.flatMap((v) => (v instanceof Comment ? [] : [`${pad}${jsonValue(v, depth + 1)}`]));
    return items.length ? `[\n${items.join(',\n')}\n${close}]` : '[]';
  }
  return scalarJson(value);
}

export const jsonStore: Store = {
  load(input) {
    return [new Parser(text(input)).document()];
  },
  emit(tree: Tree) {
    return jsonValue(tree[0] ?? new Mapping()) + '\n';
  },
  emitValue(value) {
    return jsonValue(value);
  },
};
