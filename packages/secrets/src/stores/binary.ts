/*
 * sops' binary store (stores/json/store.go BinaryStore): the whole file is one string under "data";
 * encrypted, that is a JSON file with "data" and "sops". Bytes that are not UTF-8 stay a Buffer.
 */
import { Mapping, type Tree } from '../tree';
import { jsonStore } from './json';
import type { Store } from './store';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class NotBinaryError extends Error {}

/** The plaintext side; the encrypted side is jsonStore. */
export const binaryStore: Store = {
  load(input) {
    let data: string | Buffer = input;
    if (Buffer.isBuffer(input)) {
      try {
        data = utf8.decode(input);
      } catch {
        data = Buffer.from(input);
      }
    }
    return [new Mapping([{ key: 'data', value: data }])];
  },
  emit(tree: Tree) {
    return binaryBytes(tree).toString('utf8');
  },
};

/** The file's bytes: the "data" value (sops: an error when there is none). */
export function binaryBytes(tree: Tree): Buffer {
  if (tree.length !== 1) throw new NotBinaryError('a binary file has exactly one document');
  const data = tree[0].get('data');
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (Buffer.isBuffer(data)) return data;
  throw new NotBinaryError(data === undefined ? 'no binary data found (no "data" key)' : '"data" does not hold a string');
}

export { jsonStore as binaryEncryptedStore };
