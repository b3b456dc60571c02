import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { usageError } from '@imagewright/core';

/** Folders never scanned: VCS data, installed packages, build output, bytecode caches. */
export const SKIPPED_DIRS: ReadonlySet<string> = new Set(['.git', 'node_modules', 'dist', '__pycache__']);

// `#!` then any spaces (the original wanted at least one, so `#!/usr/bin/env python` was missed),
// then `env` with its flags (`env -S python3 -u`) or a direct path, then the interpreter.
const SHEBANG = (interpreter: string) => new RegExp(String.raw`^#!\s*(?:\S*/env(?:\s+-\S+)*\s+|/\S*/)(?:${interpreter})(?:\s|$)`);
const PYTHON_SHEBANG = SHEBANG(String.raw`python(?:\d+(?:\.\d+)*)?`);
const SHELL_SHEBANG = SHEBANG('sh|bash');

export const isPythonShebang = (firstLine: string): boolean => PYTHON_SHEBANG.test(firstLine);
export const isShellShebang = (firstLine: string): boolean => SHELL_SHEBANG.test(firstLine);

export type SourceKind = 'python' | 'shell' | 'yaml';

/** The first line of a file, or undefined for a binary one (a NUL in its first 8 KiB, as grep decides). */
export function firstLine(path: string): string | undefined {
  const buffer = Buffer.alloc(8192);
  const fd = openSync(path, 'r');
  let size: number;
  try {
    size = readSync(fd, buffer, 0, buffer.length, 0);
  } finally {
    closeSync(fd);
  }
  const head = buffer.subarray(0, size);
  if (head.includes(0)) return undefined;
  return head.toString('utf8').split(/\r?\n/, 1)[0];
}

/** What a file is to the scans, by extension, else by its `#!` line; undefined: not scanned. */
export function classify(path: string): SourceKind | undefined {
  const line = firstLine(path);
  if (line === undefined) return undefined;
  if (/\.py$/.test(path)) return 'python';
  if (/\.sh$/.test(path)) return 'shell';
  if (/\.ya?ml$/.test(path)) return 'yaml';
  if (isPythonShebang(line)) return 'python';
  if (isShellShebang(line)) return 'shell';
  return undefined;
}

/**
 * Every regular file under the targets (directories walked, files taken as given), sorted per
 * target; symlinks are not followed (as `find -type f`). A missing target is bad input.
 */
export function walkFiles(targets: string[]): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED_DIRS.has(entry.name)) walk(path);
      } else if (entry.isFile()) files.push(path);
    }
  };
  for (const target of targets) {
    const stat = statSync(target, { throwIfNoEntry: false });
    if (!stat) throw usageError(`${target}: no such file or directory (allowed: a directory or file to scan)`);
    if (stat.isDirectory()) walk(target);
    else if (stat.isFile()) files.push(target);
    else throw usageError(`${target}: not a directory or regular file (allowed: a directory or file to scan)`);
  }
  return [...new Set(files)];
}

/** The files of one kind under the targets. */
export function sourceFiles(targets: string[], kind: SourceKind): string[] {
  return walkFiles(targets).filter((path) => classify(path) === kind);
}

/**
 * The frozen specs under the targets, in the layouts the deployments use:
 * environments/frozen/<env>-frozen.yml and env-frozen/<env>/requirements.{yml,txt}.
 */
export function frozenSpecs(targets: string[]): string[] {
  const { isFrozenSpecPath } = require('@imagewright/environments') as typeof import('@imagewright/environments');
  return walkFiles(targets).filter(isFrozenSpecPath);
}
