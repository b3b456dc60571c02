import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { failure, usageError } from '@imagewright/core';
import { affects, checkRecord, normalizePackageName, parseOsvRecord, type OsvQuery, type OsvRecord } from './osv';

/** Advisories for package versions: for each query, the full records that affect it (checked locally). */
export interface AdvisoryDatabase {
  /** Where the records come from, for messages: the API's URL or the path. */
  readonly source: string;
  query(queries: OsvQuery[]): Promise<OsvRecord[][]>;
}

export interface OsvApiOptions {
  /** GET /v1/vulns/{id} requests in flight at once (8). */
  concurrency?: number;
  /** Retries on 429 and 5xx answers and dropped connections (3), 200 ms doubling. */
  retries?: number;
  retryDelayMs?: number;
  /** Queries per POST /v1/querybatch; OSV takes at most 1000. */
  batchSize?: number;
}

interface BatchResult {
  vulns?: { id: string; modified?: string }[];
  next_page_token?: string;
}

/**
 * The OSV API: /v1/querybatch for the ids (every page of every query), then /v1/vulns/{id} once
 * per id for the full record (querybatch answers only ids). Records are kept for the life of the
 * object. The API's own matching is trusted only to narrow down: `affects` decides.
 */
export class OsvApi implements AdvisoryDatabase {
  readonly source: string;
  private readonly records = new Map<string, Promise<OsvRecord>>();
  private readonly concurrency: number;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly batchSize: number;

  constructor(baseUrl = 'https://api.osv.dev', options: OsvApiOptions = {}) {
    this.source = baseUrl.replace(/\/+$/, '');
    this.concurrency = Math.max(1, options.concurrency ?? 8);
    this.retries = options.retries ?? 3;
    this.retryDelayMs = options.retryDelayMs ?? 200;
    this.batchSize = Math.min(1000, Math.max(1, options.batchSize ?? 1000));
  }

  async query(queries: OsvQuery[]): Promise<OsvRecord[][]> {
    const ids = await this.queryIds(queries);
    const unique = [...new Set(ids.flat())];
    const byId = new Map<string, OsvRecord>();
    await eachLimited(unique, this.concurrency, async (id) => {
      byId.set(id, await this.record(id));
    });
    return queries.map((q, i) => ids[i].map((id) => byId.get(id)!).filter((r) => affects(r, q) !== undefined));
  }

  /** The full record of an id (cached). */
  record(id: string): Promise<OsvRecord> {
    let p = this.records.get(id);
    if (!p) {
      const url = `${this.source}/v1/vulns/${encodeURIComponent(id)}`;
      p = this.request(url).then((body) => checkRecord(body, url));
      this.records.set(id, p);
      p.catch(() => this.records.delete(id));
    }
    return p;
  }

  /** The ids the API lists for each query, all pages followed. */
  private async queryIds(queries: OsvQuery[]): Promise<string[][]> {
    const ids = queries.map(() => new Set<string>());
    let pending = queries.map((q, index) => ({ index, token: undefined as string | undefined }));
    const url = `${this.source}/v1/querybatch`;
    while (pending.length) {
      const next: typeof pending = [];
      for (let start = 0; start < pending.length; start += this.batchSize) {
        const chunk = pending.slice(start, start + this.batchSize);
        const body = {
          queries: chunk.map(({ index, token }) => ({
            package: { name: queries[index].name, ecosystem: queries[index].ecosystem },
            version: queries[index].version,
            ...(token ? { page_token: token } : {}),
          })),
        };
        const answer = (await this.request(url, body)) as { results?: BatchResult[] };
        if (!answer || !Array.isArray(answer.results) || answer.results.length !== chunk.length) {
          throw failure(`OSV API ${url}: expected ${chunk.length} results, got ${Array.isArray(answer?.results) ? answer.results.length : 'none'}`);
        }
        answer.results.forEach((result, i) => {
          const { index } = chunk[i];
          for (const v of result.vulns ?? []) if (typeof v.id === 'string') ids[index].add(v.id);
          if (result.next_page_token) next.push({ index, token: result.next_page_token });
        });
      }
      pending = next;
    }
    return ids.map((s) => [...s]);
  }

  private async request(url: string, body?: unknown): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await fetch(url, {
          method: body === undefined ? 'GET' : 'POST',
          headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (err) {
        if (attempt < this.retries) {
          await delay(this.retryDelayMs * 2 ** attempt);
          continue;
        }
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        throw failure(`OSV API ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, err);
      }
      if (response.ok) {
        try {
          return await response.json();
        } catch (err) {
          throw failure(`OSV API ${url}: the answer is not JSON`, err);
        }
      }
      const retryable = response.status === 429 || response.status >= 500;
      if (retryable && attempt < this.retries) {
        await response.body?.cancel();
        await delay(this.retryDelayMs * 2 ** attempt);
        continue;
      }
      const text = (await response.text().catch(() => '')).slice(0, 200).replace(/\s+/g, ' ').trim();
      throw failure(`OSV API ${url} answered ${response.status}${text ? `: ${text}` : ''}`);
    }
  }
}

/**
 * Records held in memory, indexed by (ecosystem, normalised package name). The ecosystem key is
 * the part before the first colon: `Debian:12` and bare `Debian` records land together and
 * `affects` decides which release matches.
 */
export class OfflineDatabase implements AdvisoryDatabase {
  private readonly byPackage = new Map<string, OsvRecord[]>();
  private readonly byId = new Map<string, OsvRecord>();

  constructor(
    readonly source: string,
    records: Iterable<OsvRecord>,
  ) {
    for (const record of records) this.add(record);
  }

  get size(): number {
    return new Set(this.byId.values()).size;
  }

  /** A record by its id or one of its aliases. */
  record(id: string): OsvRecord | undefined {
    return this.byId.get(id.toUpperCase());
  }

  async query(queries: OsvQuery[]): Promise<OsvRecord[][]> {
    return queries.map((q) => (this.byPackage.get(packageKey(q.ecosystem, q.name)) ?? []).filter((r) => affects(r, q) !== undefined));
  }

  private add(record: OsvRecord): void {
    const known = this.byId.get(record.id.toUpperCase());
    // The same id twice (two copies of a snapshot): the newer record wins.
    if (known && known.id === record.id) {
      if ((known.modified ?? '') >= (record.modified ?? '')) return;
      for (const list of this.byPackage.values()) {
        const i = list.indexOf(known);
        if (i >= 0) list.splice(i, 1);
      }
      for (const [key, value] of this.byId) if (value === known) this.byId.delete(key);
    }
    this.byId.set(record.id.toUpperCase(), record);
    for (const alias of record.aliases ?? []) {
      if (!this.byId.has(alias.toUpperCase())) this.byId.set(alias.toUpperCase(), record);
    }
    const keys = new Set<string>();
    for (const a of record.affected ?? []) {
      if (a.package && typeof a.package.ecosystem === 'string' && typeof a.package.name === 'string') {
        keys.add(packageKey(a.package.ecosystem, a.package.name));
      }
    }
    for (const key of keys) {
      const list = this.byPackage.get(key);
      if (list) list.push(record);
      else this.byPackage.set(key, [record]);
    }
  }
}

function packageKey(ecosystem: string, name: string): string {
  return `${ecosystem.split(':')[0].trim().toLowerCase()}\0${normalizePackageName(ecosystem, name)}`;
}

const RECORD_FILE = /\.(json|ya?ml)$/i;

/**
 * Every record under a directory: .json/.yaml/.yml files at any depth (a JSON file may hold one
 * record or a list) and OSV `all.zip` files found there.
 */
export function readOsvDirectory(dir: string): OsvRecord[] {
  const records: OsvRecord[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (!entry.isFile()) continue;
      else if (/\.zip$/i.test(entry.name)) records.push(...readOsvZip(path));
      else if (RECORD_FILE.test(entry.name)) records.push(...recordsOf(readFileSync(path, 'utf8'), path));
    }
  };
  walk(dir);
  return records;
}

function recordsOf(text: string, source: string): OsvRecord[] {
  if (text.trimStart().startsWith('[')) {
    let list: unknown;
    try {
      list = JSON.parse(text);
    } catch (err) {
      throw usageError(`${source}: not JSON (${(err as Error).message})`);
    }
    return (list as unknown[]).map((r, i) => checkRecord(r, `${source}[${i}]`));
  }
  return [parseOsvRecord(text, source)];
}

/** The records of an OSV `all.zip` (one JSON record per entry; other entries are skipped). */
export function readOsvZip(file: string): OsvRecord[] {
  const { unzipSync, strFromU8 } = require('fflate') as typeof import('fflate');
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(readFileSync(file), { filter: (f) => RECORD_FILE.test(f.name) && !f.name.endsWith('/') });
  } catch (err) {
    throw usageError(`${file}: not a readable zip (${(err as Error).message})`);
  }
  return Object.keys(entries)
    .sort()
    .flatMap((name) => recordsOf(strFromU8(entries[name]), `${file}:${name}`));
}

export interface OpenDatabaseOptions extends OsvApiOptions {}

/** `https://…` → the OSV API there; a directory or a .zip file → offline records; else usage error. */
export function openAdvisoryDatabase(spec: string, options: OpenDatabaseOptions = {}): AdvisoryDatabase {
  const allowed = 'an http(s) URL of an OSV API, a directory of OSV records or an OSV all.zip';
  if (/^https?:\/\//i.test(spec)) {
    try {
      new URL(spec);
    } catch {
      throw usageError(`advisory database ${spec}: not a valid URL (expected ${allowed})`);
    }
    return new OsvApi(spec, options);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) throw usageError(`advisory database ${spec}: only http(s) URLs are supported (expected ${allowed})`);
  let stat;
  try {
    stat = statSync(spec);
  } catch {
    throw usageError(`advisory database ${spec}: no such file or directory (expected ${allowed})`);
  }
  if (stat.isDirectory()) return new OfflineDatabase(spec, readOsvDirectory(spec));
  if (stat.isFile() && /\.zip$/i.test(spec)) return new OfflineDatabase(spec, readOsvZip(spec));
  throw usageError(`advisory database ${spec}: not a directory or .zip file (expected ${allowed})`);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
