/*
 * sops' tree walk (sops.go walkBranch/walkSlice) and its rule for which values are encrypted
 * (shouldBeEncrypted). The walk order is the MAC's order; a value's key path, joined with ":" and
 * ending in ":", is its associated data. List indices are not part of a path, and a comment's path is
 * the path of the mapping or list that holds it.
 */
import { Comment, Mapping, type List, type Scalar, type Tree, type Value } from './tree';

/** sops' DefaultUnencryptedSuffix: what a file without any selector leaves in clear. */
export const DEFAULT_UNENCRYPTED_SUFFIX = '_unencrypted';

/** The encryption selectors of a file's metadata (at most one of the six is set). */
export interface CryptRules {
  unencryptedSuffix?: string;
  encryptedSuffix?: string;
  unencryptedRegex?: string;
  encryptedRegex?: string;
  unencryptedCommentRegex?: string;
  encryptedCommentRegex?: string;
  macOnlyEncrypted?: boolean;
}

export type Leaf = Exclude<Scalar, null> | Comment;

/** Called for every leaf (scalars and comments, not nulls) in walk order; returns its replacement. */
export type Visit = (leaf: Leaf, path: readonly string[], encrypted: boolean, inList: boolean) => Leaf;

/** The associated data sops authenticates a value with: "a:b:c:" (":" at the top level). */
export function associatedData(path: readonly string[]): string {
  return path.join(':') + ':';
}

/**
 * A Go (RE2) regular expression as a JS RegExp with the same matches, for the selectors and
 * .sops.yaml's path_regex (sops matches both unanchored: regexp.Match, MatchString). Translated: a
 * leading (?flags) (U, ungreedy, dropped: it changes what a match captures, not whether there is
 * one), (?P<name>, \A and \z. A source that does not compile is a RuleError (the JS error its cause).
 */
export function goRegExp(source: string): RegExp {
  let flags = '';
  let body = source;
  const lead = /^\(\?([imsU]+)\)/.exec(body);
  if (lead) {
    flags = [...new Set(lead[1]!.replace(/U/g, ''))].join('');
    body = body.slice(lead[0].length);
  }
  // Escapes taken a pair at a time, so an escaped backslash before A or z stays one.
  body = body.replace(/\\[\s\S]|\(\?P</g, (token) => (token === '\\A' ? '(?<![\\s\\S])' : token === '\\z' ? '(?![\\s\\S])' : token === '(?P<' ? '(?<' : token));
  try {
    return new RegExp(body, flags + 'u');
  } catch {
    // Unicode mode refuses some escapes RE2 accepts (\_ and the like); the plain mode takes them.
    try {
      return new RegExp(body, flags);
    } catch (error) {
      throw new RuleError(`${JSON.stringify(source)} is not a regular expression this tool can use`, { cause: error });
    }
  }
}

/** A selector regex that does not compile. */
export class RuleError extends Error {}

type Matcher = (text: string) => boolean;

function matcher(source: string | undefined): Matcher | undefined {
  if (!source) return undefined;
  const re = goRegExp(source);
  return (text) => re.test(text);
}

/** sops' shouldBeEncrypted, with the regexes compiled once. */
export function selector(rules: CryptRules): (path: readonly string[], comments: readonly string[][], isComment: boolean) => boolean {
  const unencryptedRegex = matcher(rules.unencryptedRegex);
  const encryptedRegex = matcher(rules.encryptedRegex);
  const unencryptedComment = matcher(rules.unencryptedCommentRegex);
  const encryptedComment = matcher(rules.encryptedCommentRegex);
  const { unencryptedSuffix, encryptedSuffix } = rules;
  return (path, comments, isComment) => {
    let encrypted = true;
    if (unencryptedSuffix && path.some((p) => p.endsWith(unencryptedSuffix))) encrypted = false;
    if (encryptedSuffix) encrypted = path.some((p) => p.endsWith(encryptedSuffix));
    if (unencryptedRegex && path.some(unencryptedRegex)) encrypted = false;
    if (encryptedRegex) encrypted = path.some(encryptedRegex);
    if (unencryptedComment && comments.some((level) => level.some(unencryptedComment))) encrypted = false;
    if (encryptedComment) {
      // A comment that matches does not encrypt itself: skip the last comment of the innermost level.
      const last = comments.length - 1;
      encrypted = comments.some((level, i) =>
        level.some((c, j) => !(isComment && i === last && j === level.length - 1) && encryptedComment(c)),
      );
    }
    return encrypted;
  };
}

/** Walks every document of a tree as sops does, building a new tree from the visit's results. */
export function walkTree(tree: Tree, rules: CryptRules, visit: Visit): Tree {
  const shouldEncrypt = selector(rules);
  const leaf = (value: Leaf, path: readonly string[], comments: string[][], inList = false): Leaf =>
    visit(value, path, shouldEncrypt(path, comments, value instanceof Comment), inList);

  const walkValue = (value: Value, path: readonly string[], comments: string[][], inList = false): Value | Comment => {
    if (value === null) return null;
    if (value instanceof Mapping) return walkMapping(value, path, comments);
    if (Array.isArray(value)) return walkList(value, path, comments);
    return leaf(value, path, comments, inList);
  };

  const walkMapping = (mapping: Mapping, path: readonly string[], outer: string[][]): Mapping => {
    const comments = [...outer, []];
    const level = comments.length - 1;
    const entries = mapping.entries.map(({ key, value }) => {
      if (key instanceof Comment) {
        // A comment joins the active comments before it is walked (so encrypted_comment_regex can
        // see it), and does not clear them.
        comments[level] = [...comments[level], key.value];
        return { key: leaf(key, path, comments) as Comment, value };
      }
      const walked = walkValue(value, [...path, key], comments) as Value;
      comments[level] = [];
      return { key, value: walked };
    });
    return new Mapping(entries);
  };

  const walkList = (list: List, path: readonly string[], outer: string[][]): List => {
    const comments = [...outer, []];
    const level = comments.length - 1;
    return list.map((item) => {
      if (item instanceof Comment) {
        comments[level] = [...comments[level], item.value];
        return leaf(item, path, comments, true);
      }
      const walked = walkValue(item, path, comments, true);
      comments[level] = [];
      return walked;
    });
  };

  return tree.map((doc) => walkMapping(doc, [], []));
}
