import { readFileSync } from 'node:fs';
import { usageError } from '@imagewright/core';

/*
 * Ignore rules, one per line:
 *   - blank lines and lines starting with `#` are skipped;
 *   - a row pasted from safety's table, `| package | version | spec | ID |`: the 4th field is the ID
 *     (what the original safety.ignore held);
 *   - an advisory ID or alias (PYSEC-…, GHSA-…, CVE-…, DSA-…, a safety number…), optionally followed by
 *     an expiry date, `2025-06-30` or Trivy's `exp:2025-06-30`;
 *   - anything may end with a ` # comment`.
 * A rule with an expiry date ignores through the end of that day (UTC); after it, it is reported as
 * expired and ignores nothing, so the finding shows up again.
 */

export interface IgnoreRule {
  /** The ID or alias, as written. */
  id: string;
  /** YYYY-MM-DD, if given. */
  expires?: string;
  comment?: string;
  /** `file:line`, for messages. */
  where: string;
}

export interface IgnoreOutcome<T> {
  kept: T[];
  ignored: { item: T; rule: IgnoreRule }[];
  /** Rules still in force that matched nothing. */
  stale: IgnoreRule[];
  /** Rules past their date: they ignored nothing. */
  expired: IgnoreRule[];
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._:+-]*$/;
const DATE = /^(?:exp:)?(\d{4})-(\d{2})-(\d{2})$/;

/** The rules of an ignore file's text; `file` names it in errors (`file:line: …`). */
export function parseIgnores(text: string, file = '<ignores>'): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const where = `${file}:${index + 1}`;
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    let comment: string | undefined;
    const hash = /\s#/.exec(line);
    if (hash) {
      comment = line.slice(hash.index).trim().replace(/^#\s*/, '') || undefined;
      line = line.slice(0, hash.index).trim();
    }
    let id: string;
    let rest: string[];
    if (line.startsWith('|')) {
      const fields = line.split('|').map((f) => f.trim());
      // `| a | b | c | d |` splits to ['', a, b, c, d, '']
      id = fields[4] ?? '';
      if (fields.length < 5 || id === '') throw usageError(`${where}: a safety table row needs 4 fields, the 4th the advisory ID (got "${raw.trim()}")`);
      rest = fields.slice(5).filter((f) => f !== '');
    } else {
      [id, ...rest] = line.split(/\s+/);
    }
    if (!ID.test(id) || DATE.test(id)) throw usageError(`${where}: "${id}" is not an advisory ID (letters, digits, . _ : + -)`);
    let expires: string | undefined;
    for (const word of rest) {
      const date = DATE.exec(word);
      if (!date || expires !== undefined || !isRealDate(+date[1], +date[2], +date[3])) {
        throw usageError(`${where}: "${word}" after ${id}: expected one expiry date YYYY-MM-DD or exp:YYYY-MM-DD, then an optional # comment`);
      }
      expires = `${date[1]}-${date[2]}-${date[3]}`;
    }
    rules.push({ id, ...(expires ? { expires } : {}), ...(comment ? { comment } : {}), where });
  });
  return rules;
}

function isRealDate(y: number, m: number, d: number): boolean {
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

/** The rules of an ignore file; a missing file is a usage error naming it. */
export function readIgnoreFile(file: string): IgnoreRule[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw usageError(`ignore file ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  return parseIgnores(text, file);
}

/** Splits items into kept and ignored (by ID or any alias, case-insensitive), and reports stale and expired rules. */
export function applyIgnores<T extends { id: string; aliases?: readonly string[] }>(
  items: readonly T[],
  rules: readonly IgnoreRule[],
  today: Date = new Date(),
): IgnoreOutcome<T> {
  const day = today.toISOString().slice(0, 10);
  const expired = rules.filter((r) => r.expires !== undefined && r.expires < day);
  const active = rules.filter((r) => !expired.includes(r));
  const used = new Set<IgnoreRule>();
  const kept: T[] = [];
  const ignored: { item: T; rule: IgnoreRule }[] = [];
  for (const item of items) {
    const names = new Set([item.id, ...(item.aliases ?? [])].map((n) => n.toUpperCase()));
    const rule = active.find((r) => names.has(r.id.toUpperCase()));
    if (rule) {
      used.add(rule);
      ignored.push({ item, rule });
    } else {
      kept.push(item);
    }
  }
  // A rule naming an alias of an item another rule already ignored still did its job.
  for (const r of active) {
    if (!used.has(r) && ignored.some(({ item }) => [item.id, ...(item.aliases ?? [])].some((n) => n.toUpperCase() === r.id.toUpperCase()))) used.add(r);
  }
  return { kept, ignored, stale: active.filter((r) => !used.has(r)), expired };
}
