import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * A loopback stand-in for the OSV API (https://google.github.io/osv.dev/api/), for tests only.
 *
 * POST /v1/querybatch answers, per query, the ids and `modified` of the records naming the
 * package, `pageSize` at a time with a `next_page_token` (send it back as the query's
 * `page_token`); GET /v1/vulns/{id} the full record (404 with a JSON error when unknown).
 *
 * What it does not model: OSV's server-side version matching. It narrows by ecosystem and name
 * (PyPI names PEP 503-normalised; a bare record ecosystem such as `Debian` or one that extends
 * the query's, `Ubuntu:22.04:LTS` for `Ubuntu:22.04`, counts) and by the `versions` list only
 * when an entry has no ECOSYSTEM/SEMVER range; otherwise every version of the package is
 * listed. Clients must check ranges themselves, as @imagewright/advisories does. Also not
 * modelled: /v1/query, commit queries, purl queries, rate limits.
 */

export interface OsvRequest {
  method: string;
  path: string;
  /** querybatch: the number of queries in the request. */
  queries?: number;
}

export interface OsvServer {
  url: string;
  /** Every request, in arrival order. */
  requests: OsvRequest[];
  close(): Promise<void>;
}

export interface OsvServerOptions {
  /** Ids per query per page (1000, as OSV's own limit per query page is large). */
  pageSize?: number;
  /** Delay before each answer. */
  latencyMs?: number;
}

interface Rec {
  id: string;
  modified?: string;
  affected?: {
    package?: { ecosystem?: string; name?: string };
    versions?: string[];
    ranges?: { type?: string }[];
  }[];
}

const normalise = (ecosystem: string, name: string) => (ecosystem.split(':')[0] === 'PyPI' ? name.toLowerCase().replace(/[-_.]+/g, '-') : name);

function ecosystemCovers(record: string, query: string): boolean {
  const r = record.split(':');
  const q = query.split(':');
  if (r[0] !== q[0]) return false;
  return r.length === 1 || (q.length > 1 && q.length <= r.length && q.every((p, i) => p === r[i]));
}

function mentions(record: Rec, ecosystem: string, name: string, version: string | undefined): boolean {
  return (record.affected ?? []).some((a) => {
    const pkg = a.package;
    if (!pkg?.ecosystem || !pkg.name) return false;
    if (!ecosystemCovers(pkg.ecosystem, ecosystem) || normalise(pkg.ecosystem, pkg.name) !== normalise(ecosystem, name)) return false;
    const ranged = (a.ranges ?? []).some((r) => r.type === 'ECOSYSTEM' || r.type === 'SEMVER');
    return version === undefined || ranged || (a.versions ?? []).includes(version);
  });
}

export async function startOsvServer(records: readonly object[], options: OsvServerOptions = {}): Promise<OsvServer> {
  const pageSize = Math.max(1, options.pageSize ?? 1000);
  const all = [...(records as Rec[])].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const byId = new Map(all.map((r) => [r.id, r]));
  const requests: OsvRequest[] = [];

  const send = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    const answer = () => {
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (options.latencyMs) setTimeout(answer, options.latencyMs);
    else answer();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://osv').pathname;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request: OsvRequest = { method: req.method ?? '', path };
    requests.push(request);

    const vuln = /^\/v1\/vulns\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && vuln) {
      const record = byId.get(decodeURIComponent(vuln[1]));
      return record ? send(res, 200, record) : send(res, 404, { code: 5, message: 'Bug not found.' });
    }
    if (req.method === 'POST' && path === '/v1/querybatch') {
      let body: { queries?: { package?: { name?: string; ecosystem?: string }; version?: string; page_token?: string }[] };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return send(res, 400, { code: 3, message: 'Invalid JSON.' });
      }
      const queries = body.queries ?? [];
      request.queries = queries.length;
      if (queries.length > 1000) return send(res, 400, { code: 3, message: 'Too many queries.' });
      const results = [];
      for (const q of queries) {
        if (!q.package?.name || !q.package.ecosystem) return send(res, 400, { code: 3, message: 'Invalid query.' });
        const hits = all.filter((r) => mentions(r, q.package!.ecosystem!, q.package!.name!, q.version));
        const start = q.page_token ? Number(Buffer.from(q.page_token, 'base64url').toString()) : 0;
        if (!Number.isInteger(start) || start < 0) return send(res, 400, { code: 3, message: 'Invalid page token.' });
        const page = hits.slice(start, start + pageSize).map((r) => ({ id: r.id, modified: r.modified }));
        const more = start + pageSize < hits.length;
        results.push({
          ...(page.length ? { vulns: page } : {}),
          ...(more ? { next_page_token: Buffer.from(String(start + pageSize)).toString('base64url') } : {}),
        });
      }
      return send(res, 200, { results });
    }
    send(res, 404, { code: 5, message: 'Not found.' });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => send(res, 500, { code: 13, message: String(err) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** Writes records as OSV publishes them per ecosystem: `all.zip` with `<id>.json` at its root. */
export function writeOsvZip(records: readonly object[], file: string): void {
  const { zipSync, strToU8 } = require('fflate') as typeof import('fflate');
  const entries: Record<string, Uint8Array> = {};
  for (const record of records as Rec[]) entries[`${record.id}.json`] = strToU8(JSON.stringify(record, null, 2));
  writeFileSync(file, zipSync(entries, { level: 6 }));
}
