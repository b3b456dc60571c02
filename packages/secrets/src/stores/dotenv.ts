/*
 * sops' dotenv store (stores/dotenv/store.go): one KEY=value per line, split at the first "=" with
 * nothing trimmed or unquoted, "\n" in a value written as a backslash-n, "#" lines as comments,
 * empty lines dropped. Values are strings; nested values cannot be written.
 */
import { Comment, Mapping, type Tree, type Value } from '../tree';
import { valToString } from './values';
import { ParseError, text, type Store } from './store';

export class NotFlatError extends Error {}

export const dotenvStore: Store = {
  load(input) {
    const mapping = new Mapping();
    text(input)
      .split('\n')
      .forEach((line, i) => {
        if (line === '') return;
        if (line[0] === '#') {
          mapping.entries.push({ key: new Comment(line.slice(1)), value: null });
          return;
        }
        const eq = line.indexOf('=');
        if (eq < 0) throw new ParseError(`line ${i + 1} is not KEY=value`, i + 1);
        mapping.entries.push({ key: line.slice(0, eq), value: line.slice(eq + 1).replaceAll('\\n', '\n') });
      });
    return [mapping];
  },
  emit(tree: Tree) {
    let out = '';
    for (const { key, value } of tree[0]?.entries ?? []) {
      if (value instanceof Mapping || Array.isArray(value)) {
        throw new NotFlatError(`dotenv holds only flat KEY=value entries; "${String(key instanceof Comment ? '#' : key)}" is nested`);
      }
      if (key instanceof Comment) out += `#${key.value}\n`;
      else out += `${key}=${typeof value === 'string' ? value.replaceAll('\n', '\\n') : valToString(value)}\n`;
    }
    return out;
  },
  emitValue(value: Value) {
    if (typeof value !== 'string') throw new NotFlatError('dotenv can only print a string value');
    return value;
  },
};
