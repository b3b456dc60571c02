import type { Header } from 'tar-stream';

/**
 * Every tar rule of the image model, once: entry names, path safety, whiteouts (image-spec
 * layer.md) and headers that tar-stream writes back faithfully (peers.md C.5, C.7, C.8).
 */

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
/** AUFS bookkeeping at the layer root (`.wh..wh.plnk/…`, `.wh..wh.aufs`, `.wh..wh.orph/…`): not whiteouts, dropped. */
const AUFS_META_PREFIX = '.wh..wh.';

/** PAX values tar-stream may hand over: a Buffer when the bytes are not UTF-8 (binary xattrs). */
export type PaxRecords = Record<string, string | Buffer>;

/**
 * A name as the root-relative path it stands for: `./` and leading `/` stripped, `.`/`..`
 * segments resolved (an escape stays as a leading `..`), no trailing slash; '' is the root.
 */
export function normalizeName(name: string): string {
  const { posix } = require('node:path') as typeof import('node:path');
  // An absolute name cannot climb above '/': it is read root-relative, as Docker's applier does.
  const clean = posix.normalize(name || '.').replace(/^\/+/, '').replace(/\/+$/, '');
  return clean === '.' ? '' : clean;
}

/** A name that leaves the root (`../x`, `a/../../x`). Absolute names are read as root-relative, like Docker. */
export function unsafeName(name: string): boolean {
  const normal = normalizeName(name);
  return normal === '..' || normal.startsWith('../');
}

/**
 * A link that leaves the root. Hard-link targets are root-relative paths the extractor opens:
 * an absolute or escaping one is refused. Symlinks may point anywhere: they are resolved inside
 * the container at run time.
 */
export function unsafeLink(entryName: string, linkname: string, type: Header['type'] | null): boolean {
  if (type !== 'link') return false;
  if (unsafeName(entryName)) return true;
  if (linkname.startsWith('/')) return true;
  const target = normalizeName(linkname);
  return target === '' || target === '..' || target.startsWith('../');
}

export type WhiteoutInfo =
  | { kind: 'whiteout'; target: string }
  | { kind: 'opaque'; target: string }
  | { kind: 'aufs-meta' }
  | { kind: 'invalid'; reason: string };

/**
 * What a (normalised) name means as a whiteout, or null for an ordinary entry.
 * `dir/.wh..wh..opq` hides every lower child of dir; `dir/.wh.X` hides dir/X in lower layers.
 * Checked in this order: `.wh..wh..opq` also starts with `.wh.`.
 */
export function parseWhiteout(name: string): WhiteoutInfo | null {
  const slash = name.lastIndexOf('/');
  const dir = slash === -1 ? '' : name.slice(0, slash);
  const base = name.slice(slash + 1);
  if (base === OPAQUE_MARKER) return { kind: 'opaque', target: dir };
  const first = name.split('/', 1)[0];
  if (first.startsWith(AUFS_META_PREFIX)) return { kind: 'aufs-meta' };
  if (!base.startsWith(WHITEOUT_PREFIX)) return null;
  const hidden = base.slice(WHITEOUT_PREFIX.length);
  if (hidden === '' || hidden === '.' || hidden === '..') return { kind: 'invalid', reason: `a whiteout must name a file (${base})` };
  if (hidden.startsWith(AUFS_META_PREFIX)) return { kind: 'aufs-meta' };
  return { kind: 'whiteout', target: dir ? `${dir}/${hidden}` : hidden };
}

/** The whiteout entry name that hides `path` in lower layers. */
export function whiteoutName(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? `${WHITEOUT_PREFIX}${path}` : `${path.slice(0, slash)}/${WHITEOUT_PREFIX}${path.slice(slash + 1)}`;
}

/** The opaque marker entry name for directory `dir` ('' = root). */
export function opaqueName(dir: string): string {
  return dir ? `${dir}/${OPAQUE_MARKER}` : OPAQUE_MARKER;
}

/** Every ancestor of a normalised path, nearest first ('a/b/c' → 'a/b', 'a'); the root is not listed. */
export function* ancestors(path: string): Generator<string> {
  for (let slash = path.lastIndexOf('/'); slash > 0; slash = path.lastIndexOf('/', slash - 1)) yield path.slice(0, slash);
}

/** The xattrs of a header's PAX records (`SCHILY.xattr.*`, `LIBARCHIVE.xattr.*`), sorted, for comparisons. */
export function xattrsOf(header: Header): [string, string | Buffer][] {
  const pax = header.pax as PaxRecords | null | undefined;
  if (!pax) return [];
  return Object.keys(pax)
    .filter((key) => key.startsWith('SCHILY.xattr.') || key.startsWith('LIBARCHIVE.xattr.'))
    .sort()
    .map((key) => [key, pax[key]]);
}

// ustar fields as tar-stream writes them: 6 octal digits for ids (it clamps above), 11 for mtime, 32-byte names.
const MAX_USTAR_ID = 0o777777;
const MAX_USTAR_TIME = 0o77777777777;
const USTAR_NAME_BYTES = 32;
/** PAX keys tar-stream writes itself (from name, linkname) or that we recompute (size). */
const PAX_DERIVED = new Set(['path', 'linkpath', 'size']);

/**
 * A header for tar-stream's pack that writes back what was read: mode with setuid/setgid/sticky,
 * ids beyond ustar's reach as PAX `uid`/`gid`, xattrs and other PAX records (sub-second mtime,
 * atime…) passed through, long or non-ASCII names and link names (tar-stream moves them to PAX
 * itself), devices and fifos. `name` is the entry's output name (normalised); directories get a
 * trailing slash and the root is './'.
 */
export function headerForPack(header: Header, name: string, overrides: Partial<Header> = {}): Header {
  const type = overrides.type ?? (header.type === 'contiguous-file' ? 'file' : header.type);
  const pax: PaxRecords = {};
  const source = header.pax as PaxRecords | null | undefined;
  if (source) for (const key of Object.keys(source)) if (!PAX_DERIVED.has(key)) pax[key] = source[key];
  const out: Header = {
    name: type === 'directory' ? (name ? `${name}/` : './') : name,
    type,
    mode: header.mode,
    uid: header.uid,
    gid: header.gid,
    size: type === 'file' ? header.size : 0,
    mtime: header.mtime,
    linkname: header.linkname ?? '',
    uname: header.uname ?? '',
    gname: header.gname ?? '',
    devmajor: header.devmajor ?? 0,
    devminor: header.devminor ?? 0,
    ...overrides,
  };
  if (type !== 'link' && type !== 'symlink') out.linkname = '';
  for (const id of ['uid', 'gid'] as const) {
    if (out[id] > MAX_USTAR_ID) pax[id] = String(out[id]);
    else if (pax[id] !== undefined && Number(pax[id]) !== out[id]) pax[id] = String(out[id]);
  }
  for (const field of ['uname', 'gname'] as const) {
    if (Buffer.byteLength(out[field]) > USTAR_NAME_BYTES) {
      pax[field] = out[field];
      out[field] = '';
    }
  }
  const seconds = out.mtime.getTime() / 1000;
  if (pax.mtime === undefined && (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_USTAR_TIME)) pax.mtime = String(seconds);
  if (seconds < 0 || seconds > MAX_USTAR_TIME) out.mtime = new Date(Math.min(Math.max(seconds, 0), MAX_USTAR_TIME) * 1000);
  // tar-stream always writes a PAX header when `pax` is set: only set it when there is something to carry.
  out.pax = Object.keys(pax).length > 0 ? pax : undefined;
  if (out.pax === undefined) delete out.pax;
  return out;
}

let patched = false;

/**
 * tar-stream, with PAX records read and written as bytes: stock tar-stream decodes every PAX value
 * as UTF-8, which garbles binary xattrs such as `security.capability`. Values that are valid
 * UTF-8 stay strings (no change for anyone else); others become Buffers and are written back
 * byte for byte.
 */
export function loadTar(): typeof import('tar-stream') {
  const tar = require('tar-stream') as typeof import('tar-stream');
  if (patched) return tar;
  const { dirname, join } = require('node:path') as typeof import('node:path');
  const { isUtf8 } = require('node:buffer') as typeof import('node:buffer');
  // The same module instance pack.js and extract.js use (require cache keyed by file name).
  const headers = require(join(dirname(require.resolve('tar-stream/package')), 'headers.js')) as {
    decodePax(buf: Buffer): PaxRecords;
    encodePax(opts: { name?: string; linkname?: string; pax?: PaxRecords | null }): Buffer;
  };
  headers.decodePax = (buf: Buffer): PaxRecords => {
    const result: PaxRecords = {};
    while (buf.length) {
      let space = 0;
      while (space < buf.length && buf[space] !== 32) space++;
      const length = parseInt(buf.subarray(0, space).toString('latin1'), 10);
      if (!length) return result;
      const record = buf.subarray(space + 1, length - 1);
      const equals = record.indexOf(61);
      if (equals === -1) return result;
      const key = record.subarray(0, equals).toString('utf8');
      const value = record.subarray(equals + 1);
      result[key] = isUtf8(value) || key === 'path' || key === 'linkpath' ? value.toString('utf8') : Buffer.from(value);
      buf = buf.subarray(length);
    }
    return result;
  };
  headers.encodePax = (opts) => {
    const records: Buffer[] = [];
    const add = (key: string, value: string | Buffer) => {
      const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), typeof value === 'string' ? Buffer.from(value, 'utf8') : value, Buffer.from('\n')]);
      let digits = String(body.length).length;
      if (body.length + digits >= 10 ** digits) digits++;
      records.push(Buffer.from(String(body.length + digits), 'latin1'), body);
    };
    if (opts.name) add('path', opts.name);
    if (opts.linkname) add('linkpath', opts.linkname);
    if (opts.pax) for (const key of Object.keys(opts.pax)) add(key, opts.pax[key]);
    return Buffer.concat(records);
  };
  patched = true;
  return tar;
}
