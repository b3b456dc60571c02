/*
 * sops' INI store (stores/ini/store.go over go-ini with AllowNonUniqueSections): sections are the top
 * level, keys and values strings. Reading follows go-ini's parser (comments gather until the next key
 * or section header and belong to it, inline "#"/";" comments are cut off, quotes and """ blocks are
 * unwrapped, a trailing backslash continues a line); writing follows go-ini's pretty printer ("="
 * aligned per section, a blank line between sections, values quoted when they would not read back).
 * In sops' tree a key's comment follows the key; a section's comment is its first entry.
 */
import { Comment, Mapping, type Tree, type Value } from '../tree';
import { jsonValue } from './json';
import { valToString } from './values';
import { ParseError, text, type Store } from './store';

const DEFAULT_SECTION = 'DEFAULT';
const DELIMITERS = '=:';

/** sops' stripCommentChar: leading ";"/"#" and spaces go (all of them, as TrimLeft does). */
function stripCommentChar(comment: string): string {
  if (comment.startsWith(';')) return comment.replace(/^[; ]+/, '');
  if (comment.startsWith('#')) return comment.replace(/^[# ]+/, '');
  return comment;
}

function indexAny(s: string, chars: string): number {
  for (let i = 0; i < s.length; i++) if (chars.includes(s[i])) return i;
  return -1;
}

/** Go's strings.TrimSpace (Unicode white space). */
function trimSpace(s: string): string {
  return s.replace(/^\s+|\s+$/gu, '');
}

interface Section {
  name: string;
  comment: string;
  keys: Array<{ name: string; value: string; comment: string }>;
}

function parse(source: string): Section[] {
  const lines = source.replace(/^\uFEFF/, '').split(/(?<=\n)/);
  const sections: Section[] = [{ name: DEFAULT_SECTION, comment: '', keys: [] }];
  let section = sections[0];
  let comment = '';
  let n = 0;
  const next = (): string | undefined => (n < lines.length ? lines[n++] : undefined);

  const readValue = (raw: string, lineNo: number): string => {
    let line = raw.replace(/^\s+/u, '');
    if (line === '') return '';
    let quote = '';
    if (line.length > 3 && line.startsWith('"""')) quote = '"""';
    else if (line[0] === '`') quote = '`';
    if (quote) {
      const rest = line.slice(quote.length);
      const pos = rest.lastIndexOf(quote);
      if (pos >= 0) return rest.slice(0, pos);
      let value = rest;
      for (;;) {
        const following = next();
        if (following === undefined) throw new ParseError(`line ${lineNo}: a quoted value is not closed`, lineNo);
        const close = following.lastIndexOf(quote);
        if (close >= 0) {
          value += following.slice(0, close);
          const cut = indexAny(following.slice(close), '#;');
          if (cut >= 0) comment += trimSpace(following.slice(close + cut));
          return value;
        }
        value += following;
      }
    }
    line = trimSpace(line);
    if (line.endsWith('\\')) {
      let value = line.slice(0, -1);
      for (;;) {
        const following = next();
        const more = following === undefined ? '' : trimSpace(following);
        if (more === '') return value;
        value += more;
        if (!value.endsWith('\\')) return value;
        value = value.slice(0, -1);
      }
    }
    const cut = indexAny(line, '#;');
    if (cut >= 0) {
      comment += line.slice(cut);
      line = trimSpace(line.slice(0, cut));
    }
    for (const q of ['"', "'"]) {
      if (line.length >= 2 && line.startsWith(q) && line.endsWith(q) && line.indexOf(q, 1) === line.length - 1) line = line.slice(1, -1);
    }
    return line;
  };

  for (let raw = next(); raw !== undefined; raw = next()) {
    const lineNo = n;
    const line = raw.replace(/^\s+/u, '');
    if (line === '') continue;
    if (line[0] === '#' || line[0] === ';') {
      comment += line;
      continue;
    }
    if (line[0] === '[') {
      const close = line.lastIndexOf(']');
      if (close < 0) throw new ParseError(`line ${lineNo}: unclosed section header`, lineNo);
      const name = line.slice(1, close);
      if (name === '') throw new ParseError(`line ${lineNo}: empty section name`, lineNo);
      const cut = indexAny(line.slice(close + 1), '#;');
      if (cut >= 0) comment += line.slice(close + 1 + cut);
      section = { name, comment: trimSpace(comment), keys: [] };
      sections.push(section);
      comment = '';
      continue;
    }
    const { name, offset } = readKeyName(line, lineNo);
    const value = readValue(line.slice(offset), lineNo);
    const existing = section.keys.find((k) => k.name === name);
    // go-ini keeps the first position of a repeated key and takes the last value and comment.
    if (existing) Object.assign(existing, { value, comment: trimSpace(comment) });
    else section.keys.push({ name, value, comment: trimSpace(comment) });
    comment = '';
  }
  return sections;
}

function readKeyName(line: string, lineNo: number): { name: string; offset: number } {
  let quote = '';
  if (line[0] === '"') quote = line.length > 6 && line.startsWith('"""') ? '"""' : '"';
  else if (line[0] === '`') quote = '`';
  if (quote) {
    const pos = line.indexOf(quote, quote.length);
    if (pos < 0) throw new ParseError(`line ${lineNo}: a quoted key is not closed`, lineNo);
    const i = indexAny(line.slice(pos + quote.length), DELIMITERS);
    if (i < 0) throw new ParseError(`line ${lineNo}: no "=" after the key`, lineNo);
    return { name: trimSpace(line.slice(quote.length, pos)), offset: pos + i + quote.length + 1 };
  }
  const end = indexAny(line, DELIMITERS);
  if (end < 0) throw new ParseError(`line ${lineNo} is neither a section, a comment nor key = value`, lineNo);
  if (end === 0) throw new ParseError(`line ${lineNo}: empty key name`, lineNo);
  return { name: trimSpace(line.slice(0, end)), offset: end + 1 };
}

function writeComment(lines: string, trim: boolean): string {
  return lines
    .split('\n')
    .map((l) => (l[0] !== '#' && l[0] !== ';' ? `; ${trim ? trimSpace(l) : l}` : `${l[0]} ${trimSpace(l.slice(1))}`) + '\n')
    .join('');
}

function quoteKey(name: string): string {
  if (name.includes('"') || indexAny(name, DELIMITERS) >= 0) return '`' + name + '`';
  if (name.includes('`')) return '"""' + name + '"""';
  return name;
}

function quoteValue(value: string): string {
  if (/[\n`]/.test(value)) return '"""' + value + '"""';
  if (/[#;]/.test(value)) return '`' + value + '`';
  if (trimSpace(value).length !== value.length) return `"${value}"`;
  return value;
}

function emit(tree: Tree): string {
  const sections: Section[] = [];
  for (const { key, value } of tree[0]?.entries ?? []) {
    if (key instanceof Comment) continue;
    if (!(value instanceof Mapping)) throw new TypeError(`INI section "${key}" must hold key = value entries`);
    const section: Section = { name: key, comment: '', keys: [] };
    const entries = value.entries;
    let first = 0;
    if (entries[0]?.key instanceof Comment) {
      section.comment = entries[0].key.value;
      first = 1;
    }
    let last: Section['keys'][number] | undefined;
    for (const e of entries.slice(first)) {
      if (e.key instanceof Comment) {
        if (last) last.comment = e.key.value;
        continue;
      }
      const v = e.value;
      if (v instanceof Mapping || Array.isArray(v)) throw new TypeError(`INI key "${e.key}" cannot hold a nested value`);
      const name = e.key;
      last = section.keys.find((k) => k.name === name);
      if (last) last.value = valToString(v);
      else section.keys.push((last = { name, value: valToString(v), comment: '' }));
    }
    sections.push(section);
  }
  let out = '';
  sections.forEach((section, i) => {
    if (section.comment) out += writeComment(section.comment, false);
    if (i > 0 || section.name.toUpperCase() !== DEFAULT_SECTION) out += `[${section.name}]\n`;
    else if (!section.keys.length) return;
    const align = Math.max(0, ...section.keys.map((k) => Buffer.byteLength(quoteKey(k.name))));
    for (const k of section.keys) {
      if (k.comment) out += writeComment(k.comment, true);
      const name = quoteKey(k.name);
      out += `${name}${' '.repeat(align - Buffer.byteLength(name))} = ${quoteValue(k.value)}\n`;
    }
    if (i < sections.length - 1) out += '\n';
  });
  return out;
}

export const iniStore: Store = {
  load(input) {
    const mapping = new Mapping();
    for (const section of parse(text(input))) {
      const items = new Mapping();
      if (section.comment) items.entries.push({ key: new Comment(stripCommentChar(section.comment)), value: null });
      for (const k of section.keys) {
        items.entries.push({ key: k.name, value: k.value });
        if (k.comment) items.entries.push({ key: new Comment(stripCommentChar(k.comment)), value: null });
      }
      mapping.entries.push({ key: section.name, value: items });
    }
    // An empty DEFAULT section (no keys before the first header) is left out.
    const first = mapping.entries[0];
    if (first?.key === DEFAULT_SECTION && first.value instanceof Mapping && first.value.entries.length === 0) mapping.entries.shift();
    return [mapping];
  },
  emit,
  emitValue(value) {
    return jsonValue(value);
  },
};
