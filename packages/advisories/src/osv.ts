import { usageError } from '@imagewright/core';
import { compareWith, schemeOf, type VersionScheme } from './versions';

/*
 * OSV records (schema 1.x, https://ossf.github.io/osv-schema/) and whether one affects a package
 * version. Evaluation follows the schema's "Evaluation" section: per range, events sorted in the
 * ecosystem's ordering ("0" first), a version is affected after an `introduced` at or below it
 * until a `fixed` at or below it or a `last_affected` below it; `limit` events cap the range.
 * GIT ranges are commit hashes, meaningless for a package version: ignored. A withdrawn record
 * affects nothing.
 */

export interface OsvEvent {
  introduced?: string;
  fixed?: string;
  last_affected?: string;
  limit?: string;
}

export interface OsvRange {
  type: 'ECOSYSTEM' | 'SEMVER' | 'GIT' | string;
  repo?: string;
  events: OsvEvent[];
  database_specific?: Record<string, unknown>;
}

export interface OsvSeverity {
  type: 'CVSS_V2' | 'CVSS_V3' | 'CVSS_V4' | 'Ubuntu' | string;
  score: string;
}

export interface OsvPackage {
  ecosystem: string;
  name: string;
  purl?: string;
}

export interface OsvAffected {
  package?: OsvPackage;
  severity?: OsvSeverity[];
  ranges?: OsvRange[];
  versions?: string[];
  ecosystem_specific?: Record<string, unknown>;
  database_specific?: Record<string, unknown>;
}

export interface OsvRecord {
  schema_version?: string;
  id: string;
  modified: string;
  published?: string;
  withdrawn?: string;
  aliases?: string[];
  related?: string[];
  upstream?: string[];
  summary?: string;
  details?: string;
  severity?: OsvSeverity[];
  affected?: OsvAffected[];
  references?: { type: string; url: string }[];
  credits?: { name: string; contact?: string[]; type?: string }[];
  database_specific?: Record<string, unknown>;
}

/** One package version to look up: `{ ecosystem: 'Debian:12', name: 'openssl', version: '3.0.11-1~deb12u1' }`. */
export interface OsvQuery {
  ecosystem: string;
  name: string;
  version: string;
}

export interface Affects {
  /** The record's `affected[]` entries that include the version. */
  affected: OsvAffected[];
  /** Versions that fix it (the `fixed` event closing the range the version falls in), in record order. */
  fixed: string[];
}

/** A record from its text; `source` (a file name) names it in errors. YAML is a superset of JSON. */
export function parseOsvRecord(text: string, source: string): OsvRecord {
  let value: unknown;
  const trimmed = text.trimStart();
  try {
    value = trimmed.startsWith('{') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw usageError(`${source}: not JSON or YAML (${(err as Error).message.split('\n')[0]})`);
  }
  return checkRecord(value, source);
}

// Every scalar a string (YAML's failsafe schema): an unquoted `versions: [1.10]` stays "1.10", not 1.1.
function parseYaml(text: string): unknown {
  const yaml = require('yaml') as typeof import('yaml');
  return yaml.parse(text, { schema: 'failsafe' });
}

/** Checks the fields the matching relies on; `source` names the input in errors. */
export function checkRecord(value: unknown, source: string): OsvRecord {
  const r = value as OsvRecord;
  if (!r || typeof r !== 'object' || Array.isArray(r)) throw usageError(`${source}: not an OSV record (expected an object with id)`);
  if (typeof r.id !== 'string' || r.id === '') throw usageError(`${source}: OSV record without an id`);
  if (r.affected !== undefined && !Array.isArray(r.affected)) throw usageError(`${source}: ${r.id}: affected is not a list`);
  for (const a of r.affected ?? []) {
    for (const range of a.ranges ?? []) {
      if (!Array.isArray(range.events)) throw usageError(`${source}: ${r.id}: a range without events`);
    }
    if (a.versions !== undefined && !Array.isArray(a.versions)) throw usageError(`${source}: ${r.id}: versions is not a list`);
  }
  return r;
}

/** PEP 503 for PyPI (`Foo_Bar.baz` → `foo-bar-baz`); other ecosystems' names are compared as they are. */
export function normalizePackageName(ecosystem: string, name: string): string {
  if (schemeOf(ecosystem) === 'pep440') return name.trim().toLowerCase().replace(/[-_.]+/g, '-');
  return name.trim();
}

/**
 * Whether a record's ecosystem covers the query's: equal; a bare record ecosystem (`Debian`) covers
 * every release; a record's qualifiers after the query's release (`Ubuntu:22.04:LTS`) still match
 * `Ubuntu:22.04`. `Ubuntu:Pro:22.04:LTS` (fixes only for Ubuntu Pro subscribers) does not.
 */
export function ecosystemMatches(recordEcosystem: string, queryEcosystem: string): boolean {
  const r = recordEcosystem.split(':').map((s) => s.trim());
  const q = queryEcosystem.split(':').map((s) => s.trim());
  if (r[0].toLowerCase() !== q[0].toLowerCase()) return false;
  if (r.length === 1) return true;
  if (q.length === 1 || q.length > r.length) return false;
  return q.every((part, i) => i === 0 || part === r[i]);
}

interface SortedEvent {
  kind: 'introduced' | 'fixed' | 'last_affected' | 'limit';
  version: string;
}

const KIND_ORDER = { introduced: 0, last_affected: 1, fixed: 2, limit: 3 } as const;

function sortedEvents(range: OsvRange, scheme: VersionScheme): SortedEvent[] {
  const events: SortedEvent[] = [];
  for (const e of range.events) {
    for (const kind of ['introduced', 'fixed', 'last_affected', 'limit'] as const) {
      const version = e[kind];
      if (typeof version === 'string') events.push({ kind, version });
    }
  }
  // "0" introduced sorts before every version and a "*" limit after; on a tie, introduced comes first.
  const pos = (e: SortedEvent): number => (e.kind === 'introduced' && e.version === '0' ? -1 : e.kind === 'limit' && e.version === '*' ? 1 : 0);
  return events.sort(
    (a, b) =>
      pos(a) - pos(b) || (pos(a) === 0 ? compareWith(scheme, a.version, b.version) : 0) || KIND_ORDER[a.kind] - KIND_ORDER[b.kind],
  );
}

/** Whether `version` falls in the range; `fixed` the event that ends its interval, if any. */
export function inRange(range: OsvRange, scheme: VersionScheme, version: string): { affected: boolean; fixed?: string } {
  const cmp = (other: string): number => compareWith(scheme, version, other);
  const events = sortedEvents(range, scheme);
  const limits = events.filter((e) => e.kind === 'limit');
  if (limits.length && !limits.some((e) => e.version === '*' || cmp(e.version) < 0)) return { affected: false };
  let affected = false;
  for (const e of events) {
    if (e.kind === 'introduced') {
      if (e.version === '0' || cmp(e.version) >= 0) affected = true;
    } else if (e.kind === 'fixed') {
      if (cmp(e.version) >= 0) affected = false;
      else if (affected) return { affected, fixed: e.version };
    } else if (e.kind === 'last_affected') {
      if (cmp(e.version) > 0) affected = false;
      else if (affected) return { affected };
    }
  }
  return { affected };
}

/** The record's affected entries for the query's package (ecosystem and name), whatever the version. */
export function entriesFor(record: OsvRecord, query: Pick<OsvQuery, 'ecosystem' | 'name'>): OsvAffected[] {
  const name = normalizePackageName(query.ecosystem, query.name);
  return (record.affected ?? []).filter(
    (a) =>
      a.package !== undefined &&
      typeof a.package.ecosystem === 'string' &&
      typeof a.package.name === 'string' &&
      ecosystemMatches(a.package.ecosystem, query.ecosystem) &&
      normalizePackageName(a.package.ecosystem, a.package.name) === name,
  );
}

/** Whether the record affects the query's package version, and which versions fix it; undefined if not. */
export function affects(record: OsvRecord, query: OsvQuery): Affects | undefined {
  if (record.withdrawn) return undefined;
  const hit: OsvAffected[] = [];
  const fixed: string[] = [];
  for (const entry of entriesFor(record, query)) {
    const scheme = schemeOf(entry.package!.ecosystem);
    let affected = (entry.versions ?? []).some((v) => compareWith(scheme, query.version, String(v)) === 0);
    for (const range of entry.ranges ?? []) {
      if (range.type !== 'ECOSYSTEM' && range.type !== 'SEMVER') continue;
      const r = inRange(range, range.type === 'SEMVER' ? 'semver' : scheme, query.version);
      if (!r.affected) continue;
      affected = true;
      if (r.fixed !== undefined && !fixed.includes(r.fixed)) fixed.push(r.fixed);
    }
    if (affected) hit.push(entry);
  }
  return hit.length ? { affected: hit, fixed } : undefined;
}
