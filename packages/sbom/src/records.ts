/**
 * The language package records an SBOM reads (Python's dist-info/egg-info metadata, conda-meta
 * JSON) and the file lists of the OS package managers that say which records they own.
 */

/** Which kind of record a root-relative path is, when it is one. */
export type RecordKind = 'python' | 'python-file' | 'conda';

/**
 * The record a path names: `*.dist-info/METADATA`, `*.egg-info/PKG-INFO`, `EGG-INFO/PKG-INFO`
 * (an unzipped egg) → python; `*.egg-info` → python-file (an egg-info written as a plain file,
 * as distutils does; a directory of that name is not a record); `conda-meta/*.json` → conda.
 */
export function recordKindOf(path: string): RecordKind | undefined {
  if (/\.dist-info\/METADATA$/.test(path) || /\.egg-info\/PKG-INFO$/.test(path) || /(^|\/)EGG-INFO\/PKG-INFO$/.test(path)) return 'python';
  if (/\.egg-info$/.test(path)) return 'python-file';
  if (/(^|\/)conda-meta\/[^/]+\.json$/.test(path)) return 'conda';
  return undefined;
}

/** dpkg's per-package file lists: `var/lib/dpkg/info/<name>[:<arch>].list`. */
export const DPKG_LIST = /^var\/lib\/dpkg\/info\/([^/]+)\.list$/;

export interface PythonMetadata {
  name: string;
  version: string;
}

/**
 * Name and Version of Python core metadata (METADATA, PKG-INFO): RFC 822 style headers up to
 * the first blank line, names case-insensitive, continuation lines (leading blank) joined.
 * Undefined when either is missing or empty.
 */
export function parsePythonMetadata(text: string): PythonMetadata | undefined {
  const headers = new Map<string, string>();
  let last: string | undefined;
  for (const raw of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    if (raw.trim() === '') break;
    if ((raw[0] === ' ' || raw[0] === '\t') && last) {
      headers.set(last, `${headers.get(last)} ${raw.trim()}`);
      continue;
    }
    const colon = raw.indexOf(':');
    if (colon <= 0) continue;
    last = raw.slice(0, colon).trim().toLowerCase();
    // The first of a header wins (Name and Version come once).
    if (!headers.has(last)) headers.set(last, raw.slice(colon + 1).trim());
  }
  const name = headers.get('name');
  const version = headers.get('version');
  return name && version ? { name, version } : undefined;
}

/** PEP 503's normalised project name: runs of `-`, `_`, `.` become one `-`, lower case. */
export function pep503Name(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

export interface CondaRecord {
  name: string;
  version: string;
  build?: string;
  /** The channel's name (conda-forge, main), from the record's channel URL or name. */
  channel?: string;
  subdir?: string;
}

/**
 * A conda-meta record (JSON): name and version, with build, channel and subdir when given.
 * The channel is a URL or a name, often ending in the subdir (`https://repo.anaconda.com/pkgs/main/linux-64`):
 * its last path part once the subdir is dropped. Undefined when it is not JSON or lacks a name or version.
 */
export function parseCondaMeta(text: string): CondaRecord | undefined {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (!record || typeof record !== 'object') return undefined;
  const str = (key: string) => (typeof record[key] === 'string' && record[key] ? (record[key] as string) : undefined);
  const name = str('name');
  const version = str('version');
  if (!name || !version) return undefined;
  const subdir = str('subdir');
  let channel = str('channel')?.replace(/\/+$/, '');
  if (channel && subdir && channel.endsWith(`/${subdir}`)) channel = channel.slice(0, -subdir.length - 1);
  else if (channel) channel = channel.replace(/\/(noarch|(linux|osx|win)-[a-z0-9_]+)$/, '');
  channel = channel?.split('/').filter(Boolean).pop();
  const build = str('build');
  return { name, version, ...(build ? { build } : {}), ...(channel ? { channel } : {}), ...(subdir ? { subdir } : {}) };
}

/**
 * The root of the environment a record belongs to: for a conda record the directory holding
 * conda-meta; for a Python one the prefix before `lib/pythonX.Y/` (or lib64, or `Lib/` on
 * Windows layouts), e.g. `opt/envs/tools` or `usr`; the record's own directory otherwise.
 */
export function environmentOf(path: string, kind: RecordKind): string {
  if (kind === 'conda') {
    const at = path.lastIndexOf('conda-meta/');
    return path.slice(0, Math.max(0, at - 1));
  }
  const match = /^(?:(.*?)\/)?(?:lib|lib64)\/python[^/]*\//.exec(path) ?? /^(?:(.*?)\/)?Lib\/site-packages\//.exec(path);
  if (match) return match[1] ?? '';
  const parts = path.split('/');
  // The directory holding the dist-info/egg-info (a site directory of its own).
  return parts.slice(0, kind === 'python-file' ? -1 : -2).join('/');
}

/**
 * The files an apk database lists per package: `F:` a directory, `R:` a file in it.
 * Root-relative paths → the package name.
 */
export function apkOwnedFiles(text: string): Map<string, string> {
  const owned = new Map<string, string>();
  let name = '';
  let dir = '';
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      name = '';
      dir = '';
      continue;
    }
    const value = line.slice(2).trim();
    if (line.startsWith('P:')) name = value;
    else if (line.startsWith('F:')) dir = value.replace(/^\/+|\/+$/g, '');
    else if (line.startsWith('R:') && name) owned.set(dir ? `${dir}/${value}` : value, name);
  }
  return owned;
}

/** The paths of one dpkg `.list` file (absolute, one a line), root-relative. */
export function dpkgListPaths(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim().replace(/^\/+/, ''))
    .filter((line) => line !== '' && line !== '.');
}
