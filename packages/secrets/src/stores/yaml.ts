/*
 * sops' YAML store (stores/yaml/store.go). Reading uses the `yaml` package's parser for structure and
 * go-yaml's rules for scalar types; comments go where go-yaml (and so sops) puts them: before the next
 * entry when they stand at its indentation or nothing closes in between, else at the end of the
 * innermost collection that closes (at the end of the document: the one their column matches), and an
 * end-of-line comment just before the entry on its line.
 * Writing builds the nodes sops builds (comments as head, line and foot comments) and runs go-yaml's
 * emitter (yaml-emitter.ts) with sops' indentation of 4.
 */
import { Comment, Mapping, Timestamp, type List, type Scalar, type Tree, type Value } from '../tree';
import { formatFloatYaml } from '../gofmt';
import { ParseError, text, type Store } from './store';
import { analyzeScalar, emitEvents, selectScalarStyle, type ScalarStyle, type YamlEvent } from './yaml-emitter';
import { canBePlain, resolve } from './yaml-resolve';

type Yaml = typeof import('yaml');
type YamlNode = import('yaml').Node;

// ---- reading

interface Container {
  value: Mapping | List;
  col: number;
  parent?: Container;
  /** Comments to insert: before the data entry at `before` (Infinity: at the end). */
  inserts: Array<{ before: number; comment: Comment }>;
}

interface Slot {
  offset: number;
  line: number;
  col: number;
  container: Container;
  index: number;
  holdsCollection: boolean;
}

class LineIndex {
  private readonly starts: number[] = [0];
  constructor(src: string) {
    for (let i = 0; i < src.length; i++) if (src.charCodeAt(i) === 10) this.starts.push(i + 1);
  }
  /** 0-based line and column. */
  at(offset: number): { line: number; col: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, col: offset - this.starts[lo] };
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function shortTag(tag: string | undefined): string {
  if (!tag) return '';
  return tag.startsWith('tag:yaml.org,2002:') ? '!!' + tag.slice('tag:yaml.org,2002:'.length) : tag;
}

/** A scalar's value as go-yaml decodes it into an interface{} for sops. */
function scalarValue(node: import('yaml').Scalar, line: number): Scalar {
  const source = String(node.value ?? '');
  const tag = shortTag(node.tag);
  const quoted = node.type !== undefined && node.type !== 'PLAIN';
  if (tag === '!!str' || ((tag === '' || tag === '!') && quoted)) return source;
  if (tag === '!!binary') {
    const b64 = source.replace(/[\r\n]/g, '');
    if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(b64)) {
      throw new ParseError(`line ${line}: !!binary value contains invalid base64 data`, line);
    }
    const bytes = Buffer.from(b64, 'base64');
    try {
      return utf8.decode(bytes);
    } catch {
      return bytes;
    }
  }
  if (!['', '!!bool', '!!int', '!!float', '!!null', '!!timestamp'].includes(tag)) return source;
  const resolved = resolve(tag, source);
  if (tag && resolved.tag !== tag) {
    if (tag === '!!float' && resolved.tag === '!!int') return Number(resolved.value);
    throw new ParseError(`line ${line}: cannot decode ${resolved.tag} as ${tag}`, line);
  }
  return resolved.value;
}

class Reader {
  readonly slots: Slot[] = [];
  constructor(
    private readonly YAML: Yaml,
    private readonly doc: import('yaml').Document,
    private readonly lines: LineIndex,
  ) {}

  private line(node: YamlNode | null | undefined): number {
    return node?.range ? this.lines.at(node.range[0]).line + 1 : 0;
  }

  value(node: unknown, parent: Container | undefined, record: boolean): Value {
    const { YAML } = this;
    if (node === null || node === undefined) return null;
    if (YAML.isAlias(node)) return this.value(node.resolve(this.doc), parent, false);
    if (YAML.isMap(node)) return this.mapping(node, parent, record).value;
    if (YAML.isSeq(node)) return this.list(node, parent, record);
    if (YAML.isScalar(node)) return scalarValue(node, this.line(node));
    throw new ParseError(`line ${this.line(node as YamlNode)}: unsupported YAML node`);
  }

  private isCollection(node: unknown): boolean {
    const target = this.YAML.isAlias(node) ? node.resolve(this.doc) : node;
    return this.YAML.isMap(target) || this.YAML.isSeq(target);
  }

  private slot(container: Container, index: number, offset: number | undefined, holdsCollection: boolean, col?: number): void {
    if (offset === undefined) return;
    const at = this.lines.at(offset);
    this.slots.push({ offset, line: at.line, col: col ?? at.col, container, index, holdsCollection });
  }

  mapping(node: import('yaml').YAMLMap, parent: Container | undefined, record: boolean): Container {
    const mapping = new Mapping();
    const firstKey = node.items[0]?.key as YamlNode | undefined;
    const start = firstKey?.range?.[0] ?? node.range?.[0] ?? 0;
    const container: Container = { value: mapping, col: this.lines.at(start).col, parent, inserts: [] };
    for (const pair of node.items) {
      const key = pair.key as YamlNode | null;
      if (!this.YAML.isScalar(key)) {
        throw new ParseError(`line ${this.line(key) || this.line(node)}: sops supports only scalar keys`, this.line(key) || undefined);
      }
      if (key.value === null || key.value === undefined) throw new ParseError(`line ${this.line(key)}: a key is empty`, this.line(key));
      if (record) this.slot(container, mapping.entries.length, key.range?.[0], this.isCollection(pair.value));
      mapping.entries.push({ key: String(key.value), value: this.value(pair.value, container, record) });
    }
    return container;
  }

  private list(node: import('yaml').YAMLSeq, parent: Container | undefined, record: boolean): List {
    const list: List = [];
    const start = node.range?.[0] ?? 0;
    const container: Container = { value: list, col: this.lines.at(start).col, parent, inserts: [] };
    // A block sequence item starts at its "-", which may stand on a line of its own.
    const cst = (node as { srcToken?: { type: string; items?: Array<{ start?: Array<{ type: string; offset: number }> }> } }).srcToken;
    const dashes = cst?.type === 'block-seq' ? cst.items?.map((i) => i.start?.find((t) => t.type === 'seq-item-ind')?.offset) : undefined;
    node.items.forEach((item, i) => {
      const offset = dashes?.[i] ?? (item as YamlNode | null)?.range?.[0];
      if (record) this.slot(container, list.length, offset, this.isCollection(item), node.flow ? undefined : container.col);
      list.push(this.value(item, container, record));
    });
    return list;
  }
}

function contains(container: Container, slot: Slot): boolean {
  for (let c: Container | undefined = slot.container; c; c = c.parent) if (c === container) return true;
  return false;
}

/** Where one comment line goes; `group` numbers the comment blocks between the same two entries. */
interface Placed {
  offset: number;
  col: number;
  group: number;
  last: boolean;
}

/**
 * go-yaml's placement of the comment lines between two entries, as observed through sops: lines split
 * into blocks where one dedents below the innermost open collection. With nothing closing in between,
 * all of them head the next entry. Else a last block at the next entry's indentation heads it, the
 * first block ends the innermost collection that closes, and later blocks (and a last one at the end
 * of the document) end the collection their column matches.
 */
function placeBlock(root: Container, slots: Slot[], lines: Placed[], comments: Map<number, string>): void {
  const offset = lines[0].offset;
  const prev = slots.filter((s) => s.offset < offset).at(-1);
  const next = slots.find((s) => s.offset > offset);
  const closing: Container[] = [];
  for (let c = prev?.container; c && !(next && contains(c, next)); c = c.parent) closing.push(c);
  for (const line of lines) {
    const comment = new Comment(comments.get(line.offset)!.slice(1));
    const before = (slot: Slot): void => void slot.container.inserts.push({ before: slot.index, comment });
    const atEnd = (c: Container): void => void c.inserts.push({ before: Infinity, comment });
    const byColumn = (): Container | undefined => closing.find((c) => c.col <= line.col);
    if (!next) atEnd(line.group > 0 || line.last ? (byColumn() ?? root) : closing[0]);
    else if (!closing.length || (line.last && line.col === next.col)) before(next);
    else if (line.group === 0) atEnd(closing[0]);
    else atEnd(byColumn() ?? closing.at(-1)!);
  }
}

function placeInline(slots: Slot[], offset: number, line: number, source: string): void {
  const i = slots.findLastIndex((s) => s.line === line && s.offset < offset);
  const onLine = slots[i];
  const child = slots[i + 1];
  if (Array.isArray(onLine.container.value) && onLine.holdsCollection && child && child.line > line) {
    // "- # comment" over a nested collection: go-yaml makes it that collection's first comment.
    child.container.inserts.push({ before: child.index, comment: new Comment(source.slice(1)) });
    return;
  }
  onLine.container.inserts.push({ before: onLine.index, comment: new Comment(source.slice(1), !onLine.holdsCollection) });
}

function applyInserts(container: Container): void {
  if (!container.inserts.length) return;
  const at = (i: number): Comment[] => container.inserts.filter((x) => x.before === i).map((x) => x.comment);
  if (container.value instanceof Mapping) {
    const data = container.value.entries;
    container.value.entries = [
      ...data.flatMap((e, i) => [...at(i).map((c) => ({ key: c, value: null as Value })), e]),
      ...at(Infinity).map((c) => ({ key: c, value: null as Value })),
    ];
  } else {
    const data = [...container.value];
    container.value.splice(0, container.value.length, ...data.flatMap((v, i) => [...at(i), v]), ...at(Infinity));
  }
}

function collectComments(tokens: unknown, into: Array<{ offset: number; source: string }>): void {
  if (Array.isArray(tokens)) {
    for (const t of tokens) collectComments(t, into);
    return;
  }
  if (!tokens || typeof tokens !== 'object') return;
  const token = tokens as { type?: string; offset?: number; source?: string };
  if (token.type === 'comment' && typeof token.offset === 'number' && typeof token.source === 'string') {
    into.push({ offset: token.offset, source: token.source });
    return;
  }
  for (const [k, v] of Object.entries(tokens)) if (k !== 'source') collectComments(v, into);
}

function load(input: string | Buffer): Tree {
  const YAML = require('yaml') as Yaml;
  const src = text(input);
  const lines = new LineIndex(src);
  const tokens = [...new YAML.Parser().parse(src)];
  const docs = [...new YAML.Composer({ schema: 'failsafe', merge: false, uniqueKeys: true, keepSourceTokens: true }).compose(tokens, true, src.length)];
  const comments: Array<{ offset: number; source: string }> = [];
  collectComments(tokens, comments);
  comments.sort((a, b) => a.offset - b.offset);

  const tree: Tree = [];
  const roots: Array<{ start: number; root: Container; slots: Slot[]; containers: Container[] }> = [];
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error) {
      const line = error.linePos?.[0]?.line ?? (error.pos ? lines.at(error.pos[0]).line + 1 : undefined);
      throw new ParseError(`${line ? `line ${line}: ` : ''}${error.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`, line);
    }
    const reader = new Reader(YAML, doc, lines);
    const contents = doc.contents;
    let root: Container;
    if (YAML.isMap(contents)) root = reader.mapping(contents, undefined, true);
    else if (YAML.isSeq(contents)) throw new ParseError('YAML documents that are sequences are not supported (sops needs a mapping at the top)');
    else if (YAML.isScalar(contents) && contents.value !== null && shortTag(contents.tag) !== '!!null' && resolve('', String(contents.value)).tag !== '!!null') {
      throw new ParseError('YAML documents that are values are not supported (sops needs a mapping at the top)');
    } else root = { value: new Mapping(), col: 0, inserts: [] };
    tree.push(root.value as Mapping);
    const containers = new Set<Container>([root]);
    for (const s of reader.slots) for (let c: Container | undefined = s.container; c; c = c.parent) containers.add(c);
    roots.push({ start: doc.range[0], root, slots: reader.slots, containers: [...containers] });
  }
  if (!tree.length) {
    const root: Container = { value: new Mapping(), col: 0, inserts: [] };
    tree.push(root.value as Mapping);
    roots.push({ start: 0, root, slots: [], containers: [root] });
  }

  // Comment lines between the same two entries are placed together, in blocks.
  const sources = new Map(comments.map((c) => [c.offset, c.source]));
  let block: { doc: (typeof roots)[number]; prev: number; lines: Placed[]; groupCol: number } | undefined;
  const flush = (): void => {
    if (!block) return;
    const lastGroup = block.lines.at(-1)!.group;
    for (const l of block.lines) l.last = l.group === lastGroup;
    placeBlock(block.doc.root, block.doc.slots, block.lines, sources);
    block = undefined;
  };
  for (const c of comments) {
    const doc = roots.filter((r) => r.start <= c.offset).at(-1) ?? roots[0];
    const { line, col } = lines.at(c.offset);
    if (src.slice(c.offset - col, c.offset).trim() && doc.slots.some((s) => s.line === line && s.offset < c.offset)) {
      flush();
      placeInline(doc.slots, c.offset, line, c.source);
      continue;
    }
    const prev = doc.slots.filter((s) => s.offset < c.offset).at(-1);
    const prevOffset = prev?.offset ?? -1;
    if (block && (block.doc !== doc || block.prev !== prevOffset)) flush();
    if (!block) {
      block = { doc, prev: prevOffset, lines: [], groupCol: col };
      block.lines.push({ offset: c.offset, col, group: 0, last: false });
      continue;
    }
    const innermost = prev?.container.col ?? 0;
    let group = block.lines.at(-1)!.group;
    if (col < innermost && col !== block.groupCol) {
      group++;
      block.groupCol = col;
    }
    block.lines.push({ offset: c.offset, col, group, last: false });
  }
  flush();
  for (const r of roots) for (const c of r.containers) applyInserts(c);
  return tree;
}

// ---- writing: sops' tree → go-yaml nodes → events

interface YNode {
  kind: 'map' | 'seq' | 'scalar';
  value?: string;
  style?: ScalarStyle;
  tag?: string;
  content: YNode[];
  head: string;
  line: string;
  foot: string;
}

const node = (kind: YNode['kind'], extra: Partial<YNode> = {}): YNode => ({ kind, content: [], head: '', line: '', foot: '', ...extra });

/** go-yaml's base64 for !!binary: lines of 70 characters when longer than one line. */
function encodeBase64(bytes: Buffer): string {
  const b64 = bytes.toString('base64');
  if (b64.length < 70) return b64;
  return (b64.match(/.{1,70}/g) ?? []).map((l) => l + '\n').join('');
}

/** Node.Encode(value): the style go-yaml's marshaller picks, as the emitter settles it at the top level. */
function scalarNode(value: Scalar): YNode {
  const plain = (text: string): YNode => node('scalar', { value: text, style: 'plain' });
  if (value === null) return plain('null');
  if (typeof value === 'boolean') return plain(String(value));
  if (typeof value === 'bigint') return plain(value.toString());
  if (typeof value === 'number') return plain(formatFloatYaml(value));
  if (value instanceof Timestamp) return plain(value.text);
  let text: string;
  let tag: string | undefined;
  let style: ScalarStyle;
  if (Buffer.isBuffer(value)) {
    text = encodeBase64(value);
    tag = '!!binary';
    style = text.includes('\n') ? 'literal' : 'plain';
  } else {
    text = value;
    style = text.includes('\n') ? 'literal' : canBePlain(text) ? 'plain' : 'double';
  }
  style = selectScalarStyle(style, text, analyzeScalar(text), { flowLevel: 0, simpleKey: false });
  return node('scalar', { value: text, style, tag });
}

function commentBlock(comments: string[]): string {
  return '#' + comments.join('\n#');
}

function addHead(n: YNode, comments: string[]): string[] {
  if (comments.length) n.head = n.head ? `${commentBlock(comments)}\n${n.head}` : commentBlock(comments);
  return [];
}

function addLine(n: YNode, comments: string[]): string[] {
  if (comments.length) n.line = n.line ? `${n.line}\n${commentBlock(comments)}` : commentBlock(comments);
  return [];
}

function addFoot(n: YNode, comments: string[]): string[] {
  if (comments.length) n.foot = n.foot ? `${n.foot}\n${commentBlock(comments)}` : commentBlock(comments);
  return [];
}

function valueNode(value: Value): YNode {
  if (value instanceof Mapping) return mappingNode(value);
  if (Array.isArray(value)) return sequenceNode(value);
  return scalarNode(value);
}

/**
 * Whether the next value is a mapping or list. go-yaml would write an end-of-line comment meant for
 * it after the whole collection, on another entry's line; such comments never come from reading a
 * file (they are read as comments above), so write them above too.
 */
function beforeCollection(rest: Array<Value | Comment>): boolean {
  const next = rest.find((v) => !(v instanceof Comment));
  return next instanceof Mapping || Array.isArray(next);
}

/** sops' appendTreeBranch. */
function mappingNode(mapping: Mapping): YNode {
  const n = node('map');
  let head: string[] = [];
  let inline: string[] = [];
  let beginning = true;
  mapping.entries.forEach(({ key, value }, i) => {
    if (key instanceof Comment) {
      (key.inline && !beforeCollection(mapping.entries.slice(i + 1).map((e) => (e.key instanceof Comment ? e.key : e.value))) ? inline : head).push(key.value);
      return;
    }
    if (beginning) {
      head = addHead(n, head);
      beginning = false;
    }
    const keyNode = scalarNode(key);
    head = addHead(keyNode, head);
    const v = valueNode(value);
    inline = addLine(v, inline);
    n.content.push(keyNode, v);
  });
  const rest = [...head, ...inline];
  if (rest.length) {
    if (beginning) addHead(n, rest);
    else addFoot(n.content[n.content.length - 2], rest);
  }
  return n;
}

/** sops' appendSequence. */
function sequenceNode(list: List): YNode {
  const n = node('seq');
  let head: string[] = [];
  let inline: string[] = [];
  let beginning = true;
  list.forEach((item, i) => {
    if (item instanceof Comment) {
      (item.inline && !beforeCollection(list.slice(i + 1)) ? inline : head).push(item.value);
      return;
    }
    if (beginning) {
      head = addHead(n, head);
      beginning = false;
    }
    const itemNode = valueNode(item);
    head = addHead(itemNode, head);
    inline = addLine(itemNode, inline);
    n.content.push(itemNode);
  });
  const rest = [...head, ...inline];
  if (rest.length) {
    if (beginning) addHead(n, rest);
    else addFoot(n.content[n.content.length - 1], rest);
  }
  return n;
}

/** go-yaml's encoder.node: a node to events; a key's foot comment travels as the next key's tail. */
function events(n: YNode, tail: string, out: YamlEvent[]): void {
  if (n.kind === 'scalar') {
    out.push({ type: 'scalar', value: n.value!, style: n.style!, tag: n.tag, head: n.head, line: n.line, foot: n.foot, tail });
  } else if (n.kind === 'seq') {
    out.push({ type: 'sequence-start', head: n.head });
    for (const item of n.content) events(item, '', out);
    out.push({ type: 'sequence-end', line: n.line, foot: n.foot });
  } else {
    out.push({ type: 'mapping-start', tail, head: n.head });
    let next = '';
    for (let i = 0; i + 1 < n.content.length; i += 2) {
      let k = n.content[i];
      const foot = k.foot;
      if (foot) k = { ...k, foot: '' };
      events(k, next, out);
      next = foot;
      events(n.content[i + 1], '', out);
    }
    out.push({ type: 'mapping-end', tail: next, line: n.line, foot: n.foot });
  }
}

function emit(tree: Tree): string {
  const out: YamlEvent[] = [{ type: 'stream-start' }];
  for (const doc of tree) {
    out.push({ type: 'document-start', implicit: true });
    events(mappingNode(doc), '', out);
    out.push({ type: 'document-end', implicit: true });
  }
  out.push({ type: 'stream-end' });
  return emitEvents(out);
}

/** yaml.Marshal(node) of one value (sops' EmitValue, for --extract). */
function emitValue(value: Value): string {
  const out: YamlEvent[] = [{ type: 'stream-start' }, { type: 'document-start', implicit: true }];
  events(valueNode(value), '', out);
  out.push({ type: 'document-end', implicit: true }, { type: 'stream-end' });
  return emitEvents(out);
}

export const yamlStore: Store = { load, emit, emitValue };
