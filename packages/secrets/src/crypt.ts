/*
 * Encrypting and decrypting a whole tree as sops' Tree.Encrypt/Tree.Decrypt do, computing the MAC on
 * the way: SHA-512 over the plaintext bytes of every non-comment value in walk order (only the
 * encrypted ones, after a fixed prefix, with mac_only_encrypted), as upper-case hex.
 */
import { createHash, type Hash } from 'node:crypto';
import { CipherError, decryptValue, encryptValue, plaintextOf } from './cipher';
import { Comment, type Tree } from './tree';
import { associatedData, walkTree, type CryptRules, type Leaf } from './walk';

/** sha256("sops"): starts the hash when mac_only_encrypted is set, so the two MACs never agree. */
const MAC_ONLY_ENCRYPTED_INIT = Buffer.from('8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69', 'hex');

function macHash(rules: CryptRules): Hash {
  const hash = createHash('sha512');
  if (rules.macOnlyEncrypted) hash.update(MAC_ONLY_ENCRYPTED_INIT);
  return hash;
}

/** A value that failed to decrypt, with its key path (never its value). */
export class ValueError extends Error {
  constructor(
    readonly path: readonly string[],
    readonly reason: string,
  ) {
    super(`${path.length ? path.join('.') : '(top level)'}: ${reason}`);
  }
}

/** IVs of an earlier encryption, by associated data, type and plaintext: unchanged values keep their ciphertext. */
export type IvStash = Map<string, Buffer>;

function stashKey(ad: string, leaf: Leaf): string {
  const { type, bytes } = plaintextOf(leaf);
  return `${ad}\0${type}\0${bytes.toString('base64')}`;
}

export function encryptTree(plain: Tree, key: Buffer, rules: CryptRules, stash?: IvStash): { tree: Tree; mac: string } {
  const hash = macHash(rules);
  const tree = walkTree(plain, rules, (leaf, path, encrypted) => {
    const isComment = leaf instanceof Comment;
    if ((!rules.macOnlyEncrypted || encrypted) && !isComment) hash.update(plaintextOf(leaf).bytes);
    if (!encrypted) return leaf;
    const ad = associatedData(path);
    const text = encryptValue(leaf, key, ad, stash?.get(stashKey(ad, leaf)));
    return isComment ? new Comment(text, leaf.inline) : text;
  });
  return { tree, mac: hash.digest('hex').toUpperCase() };
}

/**
 * Decrypts every value the rules say is encrypted and computes the MAC of the result. A comment that
 * does not decrypt is kept as it is (sops assumes it was never encrypted); any other value that does
 * not decrypt throws a ValueError. `stash` collects the IVs for a later re-encryption.
 */
export function decryptTree(encrypted: Tree, key: Buffer, rules: CryptRules, stash?: IvStash): { tree: Tree; mac: string } {
  const hash = macHash(rules);
  const tree = walkTree(encrypted, rules, (leaf, path, isEncrypted, inList) => {
    let value: Leaf = leaf;
    let isComment = leaf instanceof Comment;
    if (isEncrypted) {
      const ad = associatedData(path);
      const text = leaf instanceof Comment ? leaf.value : leaf;
      if (typeof text !== 'string') throw new ValueError(path, 'should be encrypted but is not a string');
      try {
        const opened = decryptValue(text, key, ad);
        value = opened.value;
        if (leaf instanceof Comment) value = new Comment(value instanceof Comment ? value.value : String(value), leaf.inline);
        // sops (3.13 and earlier) writes an encrypted comment inside a list as a list item, which it
        // never hashed into the MAC: read it back as the comment it was.
        else if (value instanceof Comment && inList) isComment = true;
        if (opened.iv && value !== '') stash?.set(stashKey(ad, value), opened.iv);
      } catch (e) {
        if (!(e instanceof CipherError)) throw e;
        if (!isComment) throw new ValueError(path, e.message);
        value = leaf;
      }
    }
    if ((!rules.macOnlyEncrypted || isEncrypted) && !isComment) hash.update(plaintextOf(value).bytes);
    return value;
  });
  return { tree, mac: hash.digest('hex').toUpperCase() };
}
