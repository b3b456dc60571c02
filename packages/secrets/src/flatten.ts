/*
 * sops' metadata flattening for the flat formats (stores/flatten.go): nested keys joined with
 * "__map_" and list positions with "__list_N", e.g. age__list_0__map_enc. Unflattening sorts map keys.
 */
import { compareGo } from './gofmt';
import { Comment, Mapping, type List, type Value } from './tree';

const MAP = '__map_';
const LIST = '__list_';

export class FlattenError extends Error {}

export function flatten(mapping: Mapping, prefix = ''): Array<[string, Value]> {
  const out: Array<[string, Value]> = [];
  const seen = new Set<string>();
  const descend = (value: Value, key: string): void => {
    if (value instanceof Mapping) {
      for (const e of value.entries) if (typeof e.key === 'string') descend(e.value, key + MAP + e.key);
    } else if (Array.isArray(value)) {
      let i = 0;
      for (const item of value) if (!(item instanceof Comment)) descend(item, `${key}${LIST}${i++}`);
    } else {
      if (seen.has(key)) throw new FlattenError(`key collision "${key}" while flattening`);
      seen.add(key);
      out.push([key, value]);
    }
  };
  for (const e of mapping.entries) if (typeof e.key === 'string') descend(e.value, prefix + e.key);
  return out;
}

type Token = { map: string } | { list: number };

function tokenize(path: string): Token[] {
  const tokens: Token[] = [];
  let state: 'normal' | 'map' | 'list' = 'normal';
  let start = 0;
  const finish = (end: number): void => {
    if (state === 'list') tokens.push({ list: Number.parseInt(path.slice(start + LIST.length, end), 10) || 0 });
    else tokens.push({ map: path.slice(state === 'map' ? start + MAP.length : start, end) });
    start = end;
  };
  let i = 0;
  while (i < path.length) {
    if (path.startsWith(MAP, i)) {
      finish(i);
      state = 'map';
      i += MAP.length;
    } else if (path.startsWith(LIST, i)) {
      finish(i);
      state = 'list';
      i += LIST.length;
    } else i++;
  }
  finish(path.length);
  return tokens;
}

interface Node {
  value?: { v: Value };
  keys?: Map<string, Node>;
  indices?: Map<number, Node>;
}

export function unflatten(entries: Array<[string, Value]>): Mapping {
  const root: Node = {};
  for (const [key, value] of entries) {
    let node = root;
    for (const t of tokenize(key)) {
      if ('map' in t) {
        node.keys ??= new Map();
        if (!node.keys.has(t.map)) node.keys.set(t.map, {});
        node = node.keys.get(t.map)!;
      } else {
        node.indices ??= new Map();
        if (!node.indices.has(t.list)) node.indices.set(t.list, {});
        node = node.indices.get(t.list)!;
      }
    }
    if (node.value) throw new FlattenError(`duplicate value for "${key}"`);
    node.value = { v: value };
  }
  const result = convert(root);
  if (!(result instanceof Mapping)) throw new FlattenError('cannot find the root');
  return result;
}

function convert(node: Node): Value {
  const kinds = [node.value, node.keys?.size, node.indices?.size].filter(Boolean).length;
  if (kinds > 1) throw new FlattenError('type mismatch');
  if (node.value) return node.value.v;
  if (node.indices?.size) {
    const n = node.indices.size;
    const list: List = [];
    for (let i = 0; i < n; i++) {
      const item = node.indices.get(i);
      if (!item) throw new FlattenError('incomplete list');
      list.push(convert(item));
    }
    return list;
  }
  const keys = [...(node.keys?.keys() ?? [])].sort(compareGo);
  return new Mapping(keys.map((k) => ({ key: k, value: convert(node.keys!.get(k)!) })));
}
