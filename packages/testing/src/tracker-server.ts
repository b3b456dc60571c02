import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * A loopback stand-in for the distributions' security trackers, both on one port:
 *   Ubuntu: GET /security/cves/{CVE}.json → the CVE record (packages[].statuses[] per release codename)
 *   Debian: GET /tracker/{CVE}            → the CVE page (the Source Package / Release / Version /
 *                                           Status table, and the Package / Type / Release / Fixed
 *                                           Version one)
 * Every answer waits `latencyMs` first (a remote tracker's round trip). It counts requests per
 * path and the peak number in flight, and can fail a CVE on purpose (HTTP 500, a reset
 * connection, no answer at all, or a body that is not what the tracker sends).
 */

export interface UbuntuStatusRow {
  package: string;
  /** release_codename: focal, jammy… */
  release: string;
  /** needed, deferred, released, not-affected, needs-triage, ignored, DNE, pending */
  status: string;
  /** Ubuntu's description: the fixed version for released, a date for deferred… */
  description?: string;
}

export interface DebianStatusRow {
  package: string;
  /** bookworm, bookworm (security), sid… */
  release: string;
  version: string;
  /** fixed, vulnerable, not-affected */
  status: string;
  /** The Fixed Version column of the second table, when the release has one. */
  fixed?: string;
}

export type TrackerFailure = 'status500' | 'reset' | 'hang' | 'garbage';

export interface TrackerServerOptions {
  /** Milliseconds every answer waits before it is sent; 0 when omitted. */
  latencyMs?: number;
  /** For a CVE nobody set: rows to answer with (both trackers), or undefined for a 404. */
  fallback?: (tracker: 'ubuntu' | 'debian', cve: string) => UbuntuStatusRow[] | DebianStatusRow[] | undefined;
}

export interface TrackerServer {
  /** http://127.0.0.1:PORT: the base URL of both trackers. */
  url: string;
  /** Requests answered or failed so far, and per path. */
  readonly requests: number;
  readonly byPath: Map<string, number>;
  /** The most requests in flight at one time. */
  readonly peakInFlight: number;
  setUbuntu(cve: string, rows: UbuntuStatusRow[]): void;
  setDebian(cve: string, rows: DebianStatusRow[]): void;
  /** Makes every request for `cve` (either tracker) fail that way. */
  fail(cve: string, how: TrackerFailure): void;
  /** Counters back to zero (records and failures stay). */
  resetCounts(): void;
  stop(): Promise<void>;
}

/** Ubuntu's CVE record (the fields the report reads, in the shape ubuntu.com's JSON has them). */
export function ubuntuCveRecord(cve: string, rows: UbuntuStatusRow[]): unknown {
  const names = [...new Set(rows.map((r) => r.package))];
  return {
    id: cve,
    status: 'active',
    packages: names.map((name) => ({
      name,
      source: `https://ubuntu.com/security/cve?package=${name}`,
      statuses: rows.filter((r) => r.package === name).map((r) => ({ release_codename: r.release, status: r.status, description: r.description ?? '', component: 'main', pocket: 'security' })),
    })),
  };
}

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** Debian's CVE page: the two tables as security-tracker.debian.org lays them out (source named on its first row only). */
export function debianCvePage(cve: string, rows: DebianStatusRow[]): string {
  const names = [...new Set(rows.map((r) => r.package))];
  const statusRows = names.flatMap((name) =>
    rows
      .filter((r) => r.package === name)
      .map((r, i) => {
        const pkg = i === 0 ? `<a href="/tracker/source-package/${escapeHtml(name)}">${escapeHtml(name)}</a> <a href="https://tracker.debian.org/pkg/${escapeHtml(name)}">(PTS)</a>` : '';
        const colour = r.status === 'fixed' ? 'green' : r.status === 'vulnerable' ? 'red' : 'grey';
        return `<tr><td>${pkg}</td><td>${escapeHtml(r.release)}</td><td>${escapeHtml(r.version)}</td><td><span class="${colour}">${escapeHtml(r.status)}</span></td></tr>`;
      }),
  );
  const fixedRows = rows
    .filter((r) => r.fixed)
    .map((r) => `<tr><td><a href="/tracker/source-package/${escapeHtml(r.package)}">${escapeHtml(r.package)}</a></td><td>source</td><td>${escapeHtml(r.release)}</td><td>${escapeHtml(r.fixed!)}</td><td></td><td></td><td></td></tr>`);
  return [
    '<!DOCTYPE html>',
    `<html><head><title>${cve}</title></head><body>`,
    `<h1>${cve}</h1>`,
    '<table><tr><td><b>Name</b></td><td>' + cve + '</td></tr><tr><td><b>Description</b></td><td>A test vulnerability &amp; its description.</td></tr></table>',
    '<h2>Vulnerable and fixed packages</h2>',
    '<table><tr><th>Source Package</th><th>Release</th><th>Version</th><th>Status</th></tr>',
    ...statusRows,
    '</table>',
    '<table><tr><th>Package</th><th>Type</th><th>Release</th><th>Fixed Version</th><th>Urgency</th><th>Origin</th><th>Debian Bugs</th></tr>',
    ...fixedRows,
    '</table>',
    '</body></html>',
  ].join('\n');
}

export async function startTrackerServer(options: TrackerServerOptions = {}): Promise<TrackerServer> {
  const latency = options.latencyMs ?? 0;
  const ubuntu = new Map<string, UbuntuStatusRow[]>();
  const debian = new Map<string, DebianStatusRow[]>();
  const failures = new Map<string, TrackerFailure>();
  const byPath = new Map<string, number>();
  let requests = 0;
  let inFlight = 0;
  let peak = 0;
  const hanging = new Set<ServerResponse>();

  function answer(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const u = /^\/security\/cves\/([^/]+)\.json$/.exec(path);
    const d = /^\/tracker\/([^/]+)$/.exec(path);
    const cve = decodeURIComponent((u ?? d)?.[1] ?? '');
    const failure = cve ? failures.get(cve) : undefined;
    if (failure === 'reset') return void req.socket.destroy();
    if (failure === 'hang') return void hanging.add(res);
    if (failure === 'status500') {
      res.writeHead(500, { 'content-type': 'text/plain' });
      return void res.end('internal error');
    }
    if (u) {
      const rows = ubuntu.get(cve) ?? (options.fallback?.('ubuntu', cve) as UbuntuStatusRow[] | undefined);
      if (!rows) {
        res.writeHead(404, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ message: `CVE ${cve} does not exist` }));
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(failure === 'garbage' ? '<html>maintenance</html>' : JSON.stringify(ubuntuCveRecord(cve, rows)));
    }
    if (d) {
      const rows = debian.get(cve) ?? (options.fallback?.('debian', cve) as DebianStatusRow[] | undefined);
      if (!rows) {
        res.writeHead(404, { 'content-type': 'text/html' });
        return void res.end(`<html><body>${escapeHtml(cve)} not found</body></html>`);
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return void res.end(failure === 'garbage' ? '<html><body><p>maintenance</p></body></html>' : debianCvePage(cve, rows));
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  }

  const server = createServer((req, res) => {
    requests++;
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    byPath.set(path, (byPath.get(path) ?? 0) + 1);
    inFlight++;
    peak = Math.max(peak, inFlight);
    let done = false;
    const finish = () => {
      if (!done) inFlight--;
      done = true;
    };
    res.on('close', finish);
    setTimeout(() => answer(req, res), latency);
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    // Many clients at once (the lookups' concurrency): a backlog that holds them all.
    server.listen({ port: 0, host: '127.0.0.1', backlog: 1024 }, () => res());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let stopped: Promise<void> | undefined;
  return {
    url,
    get requests() {
      return requests;
    },
    byPath,
    get peakInFlight() {
      return peak;
    },
    setUbuntu: (cve, rows) => void ubuntu.set(cve, rows),
    setDebian: (cve, rows) => void debian.set(cve, rows),
    fail: (cve, how) => void failures.set(cve, how),
    resetCounts() {
      requests = 0;
      peak = inFlight;
      byPath.clear();
    },
    stop: () =>
      (stopped ??= new Promise<void>((res) => {
        for (const r of hanging) r.destroy();
        server.close(() => res());
        server.closeAllConnections();
      })),
  };
}
