/** The text formats an OS inventory is read from: os-release(5), dpkg's status database, apk's installed database. */

export interface OsPackage {
  name: string;
  version: string;
  architecture?: string;
  /**
   * The source package (dpkg `Source:`, apk `o:`); the binary package's own name when the
   * database gives none, as both formats define it.
   */
  source?: string;
  /** The source package's version: dpkg `Source: name (version)`, else the binary version. */
  sourceVersion?: string;
}

const KEY = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;

/**
 * An os-release(5) file as KEY → value: shell-style assignments, one a line; `#` comments and
 * blank lines ignored; values in double quotes (with `\"`, `\\`, `\$`, `` \` `` escapes), single
 * quotes (literal) or bare (a backslash escapes the next character). Lines that are not
 * assignments are skipped; a later assignment wins.
 */
export function parseOsRelease(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const match = KEY.exec(line);
    if (!match) continue;
    const value = shellWord(match[2]);
    if (value !== undefined) values[match[1]] = value;
  }
  return values;
}

/** One shell word (quotes joined, as `A="x"'y'z` is xyz); undefined when a quote is left open. */
function shellWord(text: string): string | undefined {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) return undefined;
      out += text.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let closed = false;
      for (i++; i < text.length; i++) {
        const d = text[i];
        if (d === '"') {
          closed = true;
          break;
        }
        // Inside double quotes a backslash escapes only these; otherwise it stays.
        if (d === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1])) out += text[++i];
        else out += d;
      }
      if (!closed) return undefined;
    } else if (c === '\\') {
      if (i + 1 < text.length) out += text[++i];
    } else if (/\s/.test(c)) {
      // An unquoted blank ends the value (what follows would be a command or a comment).
      break;
    } else out += c;
  }
  return out;
}

/** deb822 paragraphs (blank-line separated) as field name (lower case) → value, continuation lines joined with '\n'. */
function paragraphs(text: string): Map<string, string>[] {
  const result: Map<string, string>[] = [];
  let fields = new Map<string, string>();
  let last: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (fields.size) result.push(fields);
      fields = new Map();
      last = undefined;
      continue;
    }
    if ((line[0] === ' ' || line[0] === '\t') && last) {
      fields.set(last, `${fields.get(last)}\n${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon).trim().toLowerCase();
    fields.set(last, line.slice(colon + 1).trim());
  }
  if (fields.size) result.push(fields);
  return result;
}

/**
 * The installed packages of a dpkg status database (`/var/lib/dpkg/status`, or one file of a
 * distroless `status.d/`): paragraphs whose `Status:` third word is `installed` (a paragraph
 * without a Status field counts as installed: distroless writes none). `Source: name (version)`
 * gives the source version; without one it is the binary version.
 */
export function parseDpkgStatus(text: string): OsPackage[] {
  const packages: OsPackage[] = [];
  for (const fields of paragraphs(text)) {
    const name = fields.get('package');
    const version = fields.get('version');
    if (!name || !version) continue;
    const status = fields.get('status');
    if (status !== undefined && status.split(/\s+/)[2] !== 'installed') continue;
    const source = /^(\S+)(?:\s+\(([^)]+)\))?$/.exec(fields.get('source') ?? '');
    const architecture = fields.get('architecture');
    packages.push({
      name,
      version,
      ...(architecture ? { architecture } : {}),
      source: source?.[1] ?? name,
      sourceVersion: source?.[2] ?? version,
    });
  }
  return packages;
}

/**
 * The packages of apk's installed database (`/lib/apk/db/installed`): blank-line separated
 * records of `X:value` lines; P: name, V: version, A: architecture, o: origin (the source
 * package, same version). File lists (F:, R:, Z:…) are skipped.
 */
export function parseApkInstalled(text: string): OsPackage[] {
  const packages: OsPackage[] = [];
  let record = new Map<string, string>();
  const flush = () => {
    const name = record.get('P');
    const version = record.get('V');
    if (name && version) {
      const architecture = record.get('A');
      packages.push({ name, version, ...(architecture ? { architecture } : {}), source: record.get('o') || name, sourceVersion: version });
    }
    record = new Map();
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      flush();
      continue;
    }
    if (line[1] !== ':') continue;
    // The first of a field wins: only the package-level letters matter here and they come once.
    if (!record.has(line[0])) record.set(line[0], line.slice(2).trim());
  }
  flush();
  return packages;
}
