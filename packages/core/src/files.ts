import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The temp file an atomic write of PATH goes through: beside it (same file system), hidden. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
}

/**
 * Writes through a temp file in the same folder and renames it into place, so an interrupted
 * command leaves either the old file or the new one, never half of one.
 */
export function writeFileAtomic(path: string, content: string, mode?: number): void {
  const temp = tempPathFor(path);
  try {
    writeFileSync(temp, content, mode === undefined ? undefined : { mode });
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

/** A word bash reads back verbatim: bare when safe, else single quotes with `'\''` for a quote. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_.,:/@%+=-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
