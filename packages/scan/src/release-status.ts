import type { Finding } from './finding';

/**
 * The status of an advisory in the image's release, from the distribution's security tracker:
 * Ubuntu's (GET {base}/security/cves/{CVE}.json: per package, a status per release codename) or
 * Debian's (GET {base}/tracker/{CVE}: an HTML table of source package / release / version /
 * status). Written as the original's cve_status tail, `<release> -- <status>`, e.g.
 * `Ubuntu 20.04 LTS (Focal Fossa) -- deferred`, `Debian 12 (bookworm) -- fixed (3.0.11-1~deb12u2)`.
 *
 * The original fetched one page per finding, one after another, and printed "Unknown CVE URI"
 * into the YAML. Here each CVE is fetched once per run, many at a time (with a limit), and any
 * lookup that fails (network, timeout, HTTP error, no row for the release) is `unknown`.
 */

export type Tracker = 'ubuntu' | 'debian';

export interface Release {
  tracker: Tracker;
  /** The tracker's key: Ubuntu's release_codename, Debian's release column. */
  codename: string;
  /** As the report shows it: `Ubuntu 20.04 LTS (Focal Fossa)`, `Debian 12 (bookworm)`. */
  name: string;
  version: string;
}

// Newest first, as the trackers' pages list them: a name substring matching several takes the newest.
const UBUNTU: [string, string, string][] = [
  ['questing', '25.10', 'Questing Quokka'],
  ['plucky', '25.04', 'Plucky Puffin'],
  ['oracular', '24.10', 'Oracular Oriole'],
  ['noble', '24.04 LTS', 'Noble Numbat'],
  ['mantic', '23.10', 'Mantic Minotaur'],
  ['lunar', '23.04', 'Lunar Lobster'],
  ['kinetic', '22.10', 'Kinetic Kudu'],
  ['jammy', '22.04 LTS', 'Jammy Jellyfish'],
  ['impish', '21.10', 'Impish Indri'],
  ['hirsute', '21.04', 'Hirsute Hippo'],
  ['groovy', '20.10', 'Groovy Gorilla'],
  ['focal', '20.04 LTS', 'Focal Fossa'],
  ['eoan', '19.10', 'Eoan Ermine'],
  ['disco', '19.04', 'Disco Dingo'],
  ['cosmic', '18.10', 'Cosmic Cuttlefish'],
  ['bionic', '18.04 LTS', 'Bionic Beaver'],
  ['xenial', '16.04 LTS', 'Xenial Xerus'],
  ['trusty', '14.04 LTS', 'Trusty Tahr'],
];
const DEBIAN: [string, string][] = [
  ['sid', 'unstable'],
  ['forky', '14'],
  ['trixie', '13'],
  ['bookworm', '12'],
  ['bullseye', '11'],
  ['buster', '10'],
  ['stretch', '9'],
  ['jessie', '8'],
];

export const RELEASES: Release[] = [
  ...UBUNTU.map(([codename, version, words]): Release => ({ tracker: 'ubuntu', codename, version: version.split(' ')[0], name: `Ubuntu ${version} (${words})` })),
  ...DEBIAN.map(([codename, version]): Release => ({ tracker: 'debian', codename, version, name: `Debian ${version} (${codename})` })),
];

export const DEFAULT_TRACKERS: Record<Tracker, string> = {
  ubuntu: 'https://ubuntu.com',
  debian: 'https://security-tracker.debian.org',
};

export interface ReleaseStatusOptions {
  /** IMAGE_UBUNTU_NAME: a substring of the release's name or codename, case-insensitive (`20.04`, `focal`, `bookworm`). */
  release?: string;
  /** The image's distribution, `ubuntu 20.04` / `debian 12.5`: the release when `release` names none. */
  distro?: string;
  /** Base URLs; else IMAGEWRIGHT_UBUNTU_TRACKER / IMAGEWRIGHT_DEBIAN_TRACKER from `env`; else the public trackers. */
  ubuntuTracker?: string;
  debianTracker?: string;
  env?: NodeJS.ProcessEnv;
  /** Lookups in flight at most; 64 when omitted. */
  concurrency?: number;
  /** Milliseconds one lookup may take before it counts as unknown; 15 s when omitted. */
  timeoutMs?: number;
}

/** The release of `tracker` that `release` (a name substring) or `distro` names, if any. */
export function chooseRelease(tracker: Tracker, options: Pick<ReleaseStatusOptions, 'release' | 'distro'>): Release | undefined {
  const candidates = RELEASES.filter((r) => r.tracker === tracker);
  const wanted = options.release?.trim().toLowerCase();
  if (wanted) {
    const byName = candidates.find((r) => r.name.toLowerCase().includes(wanted) || r.codename === wanted);
    if (byName) return byName;
  }
  const m = /^\s*(\w+)\s+(\S+)/.exec(options.distro ?? '');
  if (m && m[1].toLowerCase() === tracker) {
    const v = m[2].toLowerCase();
    // ubuntu 20.04(.6) by major.minor; debian 12(.5) by major; or a codename.
    return candidates.find((r) => r.codename === v || (tracker === 'ubuntu' ? /^\d+\.\d+/.exec(v)?.[0] === r.version : v.split('.')[0] === r.version));
  }
  return undefined;
}

/** Which tracker knows a finding: by its advisory URI, else by the image's distribution. */
export function trackerOf(finding: Finding, distro?: string): Tracker | undefined {
  const uri = finding.uri ?? '';
  if (/ubuntu/i.test(uri)) return 'ubuntu';
  if (/debian/i.test(uri)) return 'debian';
  const family = /^\s*(\w+)/.exec(distro ?? '')?.[1]?.toLowerCase();
  return family === 'ubuntu' || family === 'debian' ? family : undefined;
}

/** The CVE a tracker is asked about: the finding's id, else a CVE among its aliases. */
export function cveOf(finding: Finding): string | undefined {
  return [finding.id, ...finding.aliases].find((id) => /^CVE-\d{4}-\d{4,}$/i.test(id))?.toUpperCase();
}

interface UbuntuCve {
  packages?: { name?: string; statuses?: { release_codename?: string; status?: string; description?: string }[] }[];
}

/** Ubuntu's answer for one release: the package named `pkg` when listed, else the first one with a status there. */
export function ubuntuStatus(cve: unknown, release: Release, pkg: string): string | undefined {
  const packages = (cve as UbuntuCve)?.packages;
  if (!Array.isArray(packages)) return undefined;
  const rows = packages.flatMap((p) => (Array.isArray(p?.statuses) ? p.statuses.filter((s) => s?.release_codename === release.codename).map((s) => ({ name: p.name, s })) : []));
  const row = rows.find((r) => r.name === pkg) ?? rows[0];
  if (!row?.s.status) return undefined;
  const detail = row.s.description?.trim();
  return `${release.name} -- ${row.s.status}${detail ? ` (${detail})` : ''}`;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };
const cellText = (html: string) =>
  html
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (all, e: string) =>
      e[0] === '#' ? String.fromCodePoint(e[1].toLowerCase() === 'x' ? parseInt(e.slice(2), 16) : Number(e.slice(1))) : (ENTITIES[e.toLowerCase()] ?? all),
    )
    .replace(/\s+/g, ' ')
    .trim();

/** The tables of an HTML page as rows of cell texts (th and td alike). */
function htmlTables(html: string): string[][][] {
  // Split at the opening tags: closing tags are optional in HTML, and cellText drops them anyway.
  return [...html.matchAll(/<table\b[^>]*>([\s\S]*?)<\/table>/gi)].map((t) =>
    t[1]
      .split(/<tr\b[^>]*>/i)
      .slice(1)
      .map((row) => row.split(/<t[hd]\b[^>]*>/i).slice(1).map(cellText)),
  );
}

/**
 * Debian's answer for one release, from the tracker's CVE page: the row of `pkg` (else the first
 * source package) in the Source Package / Release / Version / Status table; for a fixed one, the
 * fixed version from the Package / Type / Release / Fixed Version table when it names the release.
 */
export function debianStatus(html: string, release: Release, pkg: string): string | undefined {
  const tables = htmlTables(html);
  const find = (...headers: string[]) => tables.find((t) => headers.every((h) => t[0]?.map((c) => c.toLowerCase()).includes(h.toLowerCase())));
  const status = find('Source Package', 'Release', 'Status');
  if (!status) return undefined;
  const col = (table: string[][], header: string) => table[0].findIndex((c) => c.toLowerCase() === header.toLowerCase());
  const [cPkg, cRel, cStatus] = [col(status, 'Source Package'), col(status, 'Release'), col(status, 'Status')];
  // The source package is named on its first row only; later rows of it leave the cell empty.
  let current = '';
  const rows = status.slice(1).map((cells) => {
    current = cells[cPkg]?.replace(/\s*\(PTS\)$/, '') || current;
    return { pkg: current, release: cells[cRel] ?? '', status: cells[cStatus] ?? '' };
  });
  const forRelease = (r: { release: string }) => r.release === release.codename || r.release.startsWith(`${release.codename} `);
  const ofPkg = rows.filter((r) => r.pkg === pkg && forRelease(r));
  const chosen = (ofPkg.length ? ofPkg : rows.filter(forRelease)).sort((a, b) => Number(b.release === release.codename) - Number(a.release === release.codename))[0];
  if (!chosen?.status) return undefined;
  let detail = '';
  const fixedTable = find('Package', 'Release', 'Fixed Version');
  if (fixedTable && chosen.status.toLowerCase() === 'fixed') {
    const [fPkg, fRel, fVer] = [col(fixedTable, 'Package'), col(fixedTable, 'Release'), col(fixedTable, 'Fixed Version')];
    let name = '';
    const fixed = fixedTable.slice(1).find((cells) => {
      name = cells[fPkg] || name;
      return name === chosen.pkg && cells[fRel] === release.codename;
    });
    if (fixed?.[fVer]) detail = ` (${fixed[fVer]})`;
  }
  return `${release.name} -- ${chosen.status}${detail}`;
}

/**
 * Release statuses for many findings, as a run needs them: one request per CVE and tracker, at
 * most `concurrency` in flight, `unknown` for anything that did not give an answer.
 */
export class ReleaseStatusLookup {
  readonly bases: Record<Tracker, string>;
  /** Requests sent so far (a CVE asked twice is sent once). */
  requests = 0;
  #options: ReleaseStatusOptions;
  #limit: number;
  #cache = new Map<string, Promise<unknown>>();
  #agents: { http?: import('node:http').Agent; https?: import('node:https').Agent } = {};

  constructor(options: ReleaseStatusOptions = {}) {
    const env = options.env ?? process.env;
    const base = (given: string | undefined, variable: string, fallback: string) => (given || env[variable] || fallback).replace(/\/+$/, '');
    this.bases = {
      ubuntu: base(options.ubuntuTracker, 'IMAGEWRIGHT_UBUNTU_TRACKER', DEFAULT_TRACKERS.ubuntu),
      debian: base(options.debianTracker, 'IMAGEWRIGHT_DEBIAN_TRACKER', DEFAULT_TRACKERS.debian),
    };
    this.#options = options;
    this.#limit = Math.max(1, options.concurrency ?? 64);
  }

  /** Each finding's `<release> -- <status>`, or `unknown`. */
  async statuses(findings: readonly Finding[]): Promise<Map<Finding, string>> {
    const releases = new Map<Tracker, Release | undefined>();
    const releaseOf = (tracker: Tracker) => {
      if (!releases.has(tracker)) releases.set(tracker, chooseRelease(tracker, this.#options));
      return releases.get(tracker);
    };
    const plan = findings.map((finding) => {
      const tracker = trackerOf(finding, this.#options.distro);
      const release = tracker && releaseOf(tracker);
      const cve = cveOf(finding);
      return { finding, release, key: release && cve ? `${release.tracker} ${cve}` : undefined };
    });
    const keys = [...new Set(plan.map((p) => p.key).filter((k): k is string => !!k))];
    await this.#fetchAll(keys);
    const out = new Map<Finding, string>();
    for (const { finding, release, key } of plan) {
      let status: string | undefined;
      if (key && release) {
        const answer = await this.#cache.get(key);
        try {
          status = answer === undefined ? undefined : release.tracker === 'ubuntu' ? ubuntuStatus(answer, release, finding.package.name) : debianStatus(String(answer), release, finding.package.name);
        } catch {
          status = undefined; // a page we cannot read is an unknown status, never an error
        }
      }
      out.set(finding, status ?? 'unknown');
    }
    return out;
  }

  /** Fetches the keys not fetched yet, `concurrency` at a time. */
  async #fetchAll(keys: string[]): Promise<void> {
    const todo = keys.filter((k) => !this.#cache.has(k));
    let next = 0;
    const worker = async () => {
      while (next < todo.length) {
        const key = todo[next++];
        const fetched = this.#fetch(key);
        this.#cache.set(key, fetched);
        await fetched;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#limit, todo.length) }, worker));
  }

  /** One tracker page: parsed JSON (Ubuntu) or HTML text (Debian); undefined on any failure. */
  async #fetch(key: string): Promise<unknown> {
    const [tracker, cve] = key.split(' ') as [Tracker, string];
    const url = tracker === 'ubuntu' ? `${this.bases.ubuntu}/security/cves/${cve}.json` : `${this.bases.debian}/tracker/${cve}`;
    this.requests++;
    try {
      const body = await this.#get(url, tracker === 'ubuntu' ? 'application/json' : 'text/html', 3);
      if (body === undefined) return undefined;
      return tracker === 'ubuntu' ? JSON.parse(body) : body;
    } catch {
      return undefined;
    }
  }

  /**
   * GET through node:http(s) with keep-alive agents sized to the concurrency (about half the CPU
   * of fetch per request, which matters at thousands of lookups); follows a few redirects; the
   * body of a 2xx answer, else undefined.
   */
  #get(url: string, accept: string, redirects: number): Promise<string | undefined> {
    const target = new URL(url);
    const https = target.protocol === 'https:';
    if (!https && target.protocol !== 'http:') return Promise.resolve(undefined);
    const transport = require(https ? 'node:https' : 'node:http') as typeof import('node:https');
    const agent = (this.#agents[https ? 'https' : 'http'] ??= new transport.Agent({ keepAlive: true, maxSockets: this.#limit }));
    return new Promise((resolve) => {
      const request = transport.get(target, { agent, headers: { accept, 'user-agent': 'imagewright' }, signal: AbortSignal.timeout(this.#options.timeoutMs ?? 15_000) }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location && redirects > 0) {
          res.resume();
          return void this.#get(new URL(res.headers.location, target).href, accept, redirects - 1).then(resolve, () => resolve(undefined));
        }
        if (status < 200 || status >= 300) {
          res.resume();
          return resolve(undefined);
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', () => resolve(undefined));
      });
      request.on('error', () => resolve(undefined));
    });
  }

  /** Closes the kept-alive connections (a command exits anyway; tests and benches call it). */
  close(): void {
    for (const agent of Object.values(this.#agents)) agent?.destroy();
    this.#agents = {};
  }
}

/** Each finding's `<release> -- <status>` (or `unknown`), looked up once per CVE. */
export async function releaseStatuses(findings: readonly Finding[], options: ReleaseStatusOptions = {}): Promise<Map<Finding, string>> {
  const lookup = new ReleaseStatusLookup(options);
  try {
    return await lookup.statuses(findings);
  } finally {
    lookup.close();
  }
}
