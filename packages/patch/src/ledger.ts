import { existsSync, readFileSync, rmSync } from 'node:fs';
import { usageError, writeFileAtomic } from '@imagewright/core';
import type { PatchSource } from './metadata';

/**
 * deployments/<name>/patches.yaml: every successful patch, outside the image, so the history is
 * in git too (the original kept none). Appended to, comments and earlier entries kept as written.
 */

export interface LedgerEntry {
  time: string;
  command: string;
  author: string;
  description: string;
  script: { name: string; sha256: string };
  source: PatchSource;
  result: { tag: string; id: string; backup?: string };
  /** OS packages the patch changed (patch-os, patch-apt): name, before → after. */
  packages?: { name: string; architecture?: string; before?: string; after?: string }[];
}

const HEADER = '# Patches applied to this deployment\'s images, oldest first (written by patch-image and\n# its wrappers; `image-patches --ledger` shows them).\n';

const yaml = () => require('yaml') as typeof import('yaml');

type Doc = import('yaml').Document.Parsed;

function readDocument(file: string): Doc | undefined {
  if (!existsSync(file)) return undefined;
  const doc = yaml().parseDocument(readFileSync(file, 'utf8'));
  if (doc.errors.length) throw usageError(`${file}: not valid YAML (${doc.errors[0].message.split('\n')[0]}); allowed a mapping with a \`patches:\` list`);
  const root = doc.contents;
  if (root === null) return doc;
  const patches = yaml().isMap(root) ? root.get('patches', true) : undefined;
  // `patches:` with nothing after it is an empty list (a null scalar node).
  const empty = patches === undefined || patches === null || (yaml().isScalar(patches) && patches.value === null);
  if (!yaml().isMap(root) || (!empty && !yaml().isSeq(patches))) {
    throw usageError(`${file}: allowed a mapping with a \`patches:\` list`);
  }
  return doc;
}

/** Checks that FILE can take an entry (before a patch runs, so a broken ledger stops it early). */
export function checkLedger(file: string): void {
  readDocument(file);
}

export function readLedger(file: string): LedgerEntry[] {
  const doc = readDocument(file);
  const patches = (doc?.toJS() as { patches?: LedgerEntry[] | null } | null)?.patches;
  return patches ?? [];
}

/**
 * Appends ENTRY (atomically: an interruption leaves the old file or the new one). Returns what
 * puts the file back as it was (an interrupted tag move takes the entry back).
 */
export function appendLedger(file: string, entry: LedgerEntry): () => void {
  const Y = yaml();
  const before = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  const doc = readDocument(file) ?? Y.parseDocument(`${HEADER}patches: []\n`);
  if (!Y.isMap(doc.contents)) doc.contents = doc.createNode({}) as unknown as typeof doc.contents;
  const root = doc.contents as unknown as import('yaml').YAMLMap;
  let list = root.get('patches', true) as unknown;
  if (!Y.isSeq(list)) {
    list = doc.createNode([]);
    root.set('patches', list);
  }
  const patches = list as import('yaml').YAMLSeq;
  // Block style once it has entries, whatever `[]` it started as.
  patches.flow = false;
  patches.add(doc.createNode(JSON.parse(JSON.stringify(entry))));
  writeFileAtomic(file, doc.toString({ lineWidth: 0 }));
  return () => (before === undefined ? rmSync(file, { force: true }) : writeFileAtomic(file, before));
}
