import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Engine } from '@imagewright/docker';
import tar from 'tar-stream';

/**
 * An oracle for image contents that shares no code with the image model: `docker export` of a
 * container made from the image (the Engine's own merge of the layers), read entry by entry.
 */

export interface ExportEntry {
  type: 'file' | 'dir' | 'symlink' | 'fifo' | 'char-device' | 'block-device' | 'other';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** sha256 hex of the content (files; a hard link reads as its target's content). */
  sha256?: string;
  /** Symlink target. */
  linkname?: string;
  /** name → hex of the exact value bytes. */
  xattrs: Record<string, string>;
}

export type ExportEntries = Map<string, ExportEntry>;

export interface Difference {
  /** A path in the image (exports), or a config field such as `Config.Env`. */
  path: string;
  field: string;
  a: unknown;
  b: unknown;
}

/** The Engine's own files in every container, whatever the image holds. */
const ENGINE_FILES = new Set(['.dockerenv', 'etc/hosts', 'etc/hostname', 'etc/resolv.conf']);

const TYPES: Record<string, ExportEntry['type']> = {
  file: 'file',
  'contiguous-file': 'file',
  directory: 'dir',
  symlink: 'symlink',
  fifo: 'fifo',
  'character-device': 'char-device',
  'block-device': 'block-device',
};

/** `a/b/`, `./a/b`, `/a/b` → `a/b`; the root is `.`. */
function normalise(name: string): string {
  const clean = name.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
  return clean === '' || clean === '.' ? '.' : clean;
}

/** PAX records with their values' exact bytes (tar-stream decodes them as UTF-8 strings). */
function decodePaxRecords(buf: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let at = 0;
  while (at < buf.length) {
    const space = buf.indexOf(0x20, at);
    if (space < 0) break;
    const length = Number(buf.toString('ascii', at, space));
    if (!length) break;
    const record = buf.subarray(space + 1, at + length - 1);
    const eq = record.indexOf(0x3d);
    if (eq >= 0) records.set(record.toString('utf8', 0, eq), Buffer.from(record.subarray(eq + 1)));
    at += length;
  }
  return records;
}

/**
 * Reads a tar stream into path → entry. Hard links take their target's content; xattrs keep
 * their bytes: tar-stream's extractor hands each PAX header's raw bytes to `_decodeLongHeader`
 * (v3), which is watched here because its own decoding is UTF-8 and lossy for binary values
 * such as security.capability.
 */
export async function readTarEntries(stream: NodeJS.ReadableStream | Readable, ignore: Set<string> = new Set()): Promise<ExportEntries> {
  const extract = tar.extract();
  const internals = extract as unknown as { _decodeLongHeader?: (buf: Buffer) => void; _header?: { type: string } };
  const decodeLongHeader = internals._decodeLongHeader;
  if (typeof decodeLongHeader !== 'function') throw new Error('tar-stream internals changed: _decodeLongHeader is gone (readTarEntries needs raw PAX bytes)');
  let rawPax: Map<string, Buffer> | undefined;
  let rawGlobalPax = new Map<string, Buffer>();
  internals._decodeLongHeader = function (this: typeof internals, buf: Buffer) {
    if (this._header?.type === 'pax-header') rawPax = decodePaxRecords(buf);
    if (this._header?.type === 'pax-global-header') rawGlobalPax = decodePaxRecords(buf);
    return decodeLongHeader.call(this, buf);
  };
  const entries: ExportEntries = new Map();
  const done = new Promise<void>((res, rej) => {
    extract.on('finish', res);
    extract.on('error', rej);
  });
  extract.on('entry', (header, body, next) => {
    const records = new Map([...rawGlobalPax, ...(rawPax ?? [])]);
    rawPax = undefined;
    const path = normalise(header.name);
    const xattrs: Record<string, string> = {};
    for (const [key, value] of [...records].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
      if (key.startsWith('SCHILY.xattr.')) xattrs[key.slice('SCHILY.xattr.'.length)] = value.toString('hex');
    }
    const uid = records.has('uid') ? Number(records.get('uid')!.toString()) : (header.uid ?? 0);
    const gid = records.has('gid') ? Number(records.get('gid')!.toString()) : (header.gid ?? 0);
    const base = { mode: (header.mode ?? 0) & 0o7777, uid, gid, xattrs };
    const hash = createHash('sha256');
    let size = 0;
    body.on('data', (chunk: unknown) => {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    });
    body.on('error', (err: Error) => extract.destroy(err));
    body.on('end', () => {
      if (!ignore.has(path)) {
        if (header.type === 'link') {
          const target = entries.get(normalise(header.linkname ?? ''));
          if (!target) return next(new Error(`hard link ${path} to ${header.linkname}: no such entry before it`));
          entries.set(path, { ...target, ...base });
        } else {
          const type = TYPES[header.type ?? ''] ?? 'other';
          entries.set(path, {
            type,
            ...base,
            size: type === 'file' ? size : 0,
            ...(type === 'file' ? { sha256: hash.digest('hex') } : {}),
            ...(type === 'symlink' ? { linkname: header.linkname ?? '' } : {}),
          });
        }
      }
      next();
    });
    body.resume();
  });
  (stream as Readable).on('error', (err: Error) => extract.destroy(err));
  (stream as Readable).pipe(extract);
  await done;
  return entries;
}

/**
 * The merged filesystem of `image` as the Engine sees it: a container is created (never
 * started), exported, read, and removed whatever happens. The Engine's own files are left out.
 */
export async function exportEntries(engine: Engine, image: string): Promise<ExportEntries> {
  // Cmd only so that create accepts an image without one; the container never runs.
  const container = await engine.createContainer({ Image: image, Cmd: ['true'], NetworkDisabled: true });
  try {
    return await readTarEntries(await container.export(), ENGINE_FILES);
  } finally {
    await container.remove({ force: true, v: true });
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

/** JSON with sorted keys; undefined and null are the same (inspect shows absent fields as null). */
function canonical(value: unknown): string {
  return JSON.stringify(value ?? null, (_, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as object).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) : v,
  );
}

const ENTRY_FIELDS = ['type', 'mode', 'uid', 'gid', 'size', 'sha256', 'linkname', 'xattrs'] as const;

/** Every difference between two exports (path, field, both values); empty when they are equal. */
export function compareExports(a: ExportEntries, b: ExportEntries): Difference[] {
  const differences: Difference[] = [];
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  for (const path of paths) {
    const x = a.get(path);
    const y = b.get(path);
    if (!x || !y) {
      differences.push({ path, field: 'exists', a: x?.type, b: y?.type });
      continue;
    }
    for (const field of ENTRY_FIELDS) {
      if (!sameValue(x[field], y[field])) {
        const show = (v: unknown) => (field === 'mode' && typeof v === 'number' ? `0${v.toString(8)}` : v);
        differences.push({ path, field, a: show(x[field]), b: show(y[field]) });
      }
    }
  }
  return differences;
}

/** The config fields every squash must keep, as `docker image inspect` shows them. */
export const CONFIG_FIELDS = ['Env', 'Entrypoint', 'Cmd', 'User', 'WorkingDir', 'Labels', 'ExposedPorts', 'Volumes', 'StopSignal', 'OnBuild', 'Healthcheck'] as const;

interface InspectLike {
  Architecture?: string;
  Os?: string;
  Config?: Record<string, unknown> | null;
}

/** `docker image inspect` of two images compared field by field over CONFIG_FIELDS, Architecture and Os. */
export function compareConfigs(a: InspectLike, b: InspectLike): Difference[] {
  const differences: Difference[] = [];
  for (const field of CONFIG_FIELDS) {
    const x = a.Config?.[field];
    const y = b.Config?.[field];
    if (!sameValue(x, y)) differences.push({ path: `Config.${field}`, field, a: x, b: y });
  }
  for (const field of ['Architecture', 'Os'] as const) {
    if (!sameValue(a[field], b[field])) differences.push({ path: field, field, a: a[field], b: b[field] });
  }
  return differences;
}
