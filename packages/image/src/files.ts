import type { Readable } from 'node:stream';
import { failure, humanSize } from '@imagewright/core';
import { readEntries } from './entries';
import { eachLayer, type Image } from './model';

/**
 * The merged view of selected paths of an image, read from its layers without a container:
 * what `/opt/patches`, the package databases and os-release look like in the final filesystem.
 */

export interface ImageFile {
  /** Root-relative, normalised like LayerEntry.name ('etc/os-release'). */
  path: string;
  kind: 'file' | 'dir' | 'symlink' | 'link' | 'other';
  /** Permission bits incl. setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  mtime?: Date;
  /** Symlink: the target as stored; hard link: the normalised target path. */
  linkname?: string;
  /** Index (bottom → top, 0-based) of the layer this version comes from. */
  layer: number;
  /** Regular files; a hard link gets its target's bytes when the target was read. */
  content?: Buffer;
}

export interface ReadFilesOptions {
  /** A selected regular file bigger than this is a failure. Default 64 MiB. */
  maxFileBytes?: number;
}

export const DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024;

/** A selected entry as one layer holds it; `tooBig` is its size when it was too big to be read. */
interface Version extends ImageFile {
  tooBig?: number;
  /** A parent directory the layer has no entry for: Docker's applier makes it (MkdirAll 0755, root). */
  implicit?: boolean;
}

/** What one layer says about the paths: its selected entries, and what it hides below it. */
interface LayerView {
  selected: Map<string, Version>;
  /** Paths of every non-directory entry: they hide whatever lower layers have under them. */
  nonDirs: Set<string>;
  whiteouts: Set<string>;
  opaques: Set<string>;
}

/** Strict ancestors of a normalised path, nearest first, ending with the root ''. */
function ancestorsOf(path: string): string[] {
  const up: string[] = [];
  for (let slash = path.lastIndexOf('/'); slash > 0; slash = path.lastIndexOf('/', slash - 1)) up.push(path.slice(0, slash));
  up.push('');
  return up;
}

async function viewOf(tar: Readable, select: (path: string) => boolean, max: number, label: string): Promise<LayerView> {
  const view: LayerView = { selected: new Map(), nonDirs: new Set(), whiteouts: new Set(), opaques: new Set() };
  let lastParent: string | undefined;
  for await (const entry of readEntries(tar, { label })) {
    // Every entry (whiteouts and opaque markers too) makes its missing parents in its layer, and
    // an upper directory's metadata is what the merged view shows: selected ones are recorded.
    const slash = entry.name.lastIndexOf('/');
    const parent = slash === -1 ? '' : entry.name.slice(0, slash);
    if (parent !== lastParent) {
      lastParent = parent;
      for (const dir of parent ? [parent, ...ancestorsOf(parent)] : []) {
        if (dir === '' || view.selected.has(dir) || !select(dir)) continue;
        view.selected.set(dir, { path: dir, kind: 'dir', mode: 0o755, uid: 0, gid: 0, layer: -1, implicit: true });
      }
    }
    if (entry.kind === 'whiteout') {
      view.whiteouts.add(entry.target);
      continue;
    }
    if (entry.kind === 'opaque') {
      view.opaques.add(entry.target);
      continue;
    }
    const path = entry.name;
    if (path === '') continue;
    if (entry.kind !== 'dir') view.nonDirs.add(path);
    // Duplicate paths in one layer: the first counts, as in the merge; an explicit entry replaces a made parent.
    if (!select(path) || (view.selected.has(path) && !view.selected.get(path)!.implicit)) continue;
    const header = entry.header;
    const version: Version = {
      path,
      kind: entry.kind,
      mode: (header.mode ?? 0) & 0o7777,
      uid: header.uid ?? 0,
      gid: header.gid ?? 0,
      mtime: header.mtime,
      layer: -1,
    };
    if (entry.kind === 'symlink') version.linkname = header.linkname ?? '';
    if (entry.kind === 'link') version.linkname = entry.target;
    if (entry.kind === 'file') {
      const size = header.size ?? 0;
      // Too big to hold: fatal only if this version turns out to be the visible one.
      if (size > max) version.tooBig = size;
      else {
        const chunks: Buffer[] = [];
        for await (const chunk of entry.body) chunks.push(chunk);
        version.content = Buffer.concat(chunks);
      }
    }
    view.selected.set(path, version);
  }
  return view;
}

/**
 * The version of `path` visible through layers `top` … 0, or undefined when none holds it or an
 * upper layer hides it. A layer's whiteouts and opaque markers hide lower layers only.
 */
function visibleVersion(views: LayerView[], path: string, top: number): Version | undefined {
  const up = ancestorsOf(path);
  for (let index = top; index >= 0; index--) {
    const view = views[index];
    const version = view.selected.get(path);
    if (version) return { ...version, layer: index };
    if (view.nonDirs.has(path)) return undefined; // there, but not read (not selected)
    if (view.whiteouts.has(path)) return undefined;
    for (const dir of up) {
      if (view.opaques.has(dir) || view.whiteouts.has(dir) || view.nonDirs.has(dir)) return undefined;
    }
  }
  return undefined;
}

function tooBig(image: Image, path: string, size: number, max: number): Error {
  return failure(`${image.name}: ${path} is ${humanSize(size)} (${size} bytes), more than the ${humanSize(max)} (${max} bytes) a file read from an image may have`);
}

/**
 * The selected paths of `image` as its final filesystem holds them, read from its layers in
 * one pass (any order, no spooling). Whiteouts and opaque markers count whether or not their
 * own paths are selected; only selected regular files' bytes are held. A visible selected file
 * bigger than `maxFileBytes` is a failure naming the image, path and size.
 */
export async function readFiles(image: Image, select: (path: string) => boolean, options: ReadFilesOptions = {}): Promise<Map<string, ImageFile>> {
  const max = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  // eachLayer may visit layers in any order: messages name the image only.
  const views = await eachLayer(image, (tar) => viewOf(tar, select, max, image.name));
  return mergedView(image, views, views.length - 1, max);
}

/**
 * The merged views of the selected paths through each layer, from one pass over the layers:
 * element `i` is what readFiles would give for the image cut after layer `i` (bottom → top; the
 * last one is readFiles' own). For "which layer brought this": a file rewritten by every layer
 * (a package database) compared view by view. Each view's too-big visible file is a failure, as
 * in readFiles; file contents are shared between views, not copied.
 */
export async function readFilesByLayer(image: Image, select: (path: string) => boolean, options: ReadFilesOptions = {}): Promise<Map<string, ImageFile>[]> {
  const max = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const views = await eachLayer(image, (tar) => viewOf(tar, select, max, image.name));
  return views.map((_, top) => mergedView(image, views, top, max));
}

/** The visible selected files through layers `top` … 0. */
function mergedView(image: Image, views: LayerView[], top: number, max: number): Map<string, ImageFile> {
  const paths = new Set<string>();
  for (const view of views.slice(0, top + 1)) for (const path of view.selected.keys()) paths.add(path);
  const files = new Map<string, ImageFile>();
  for (const path of [...paths].sort()) {
    const version = visibleVersion(views, path, top);
    if (!version) continue;
    if (version.tooBig !== undefined) throw tooBig(image, path, version.tooBig, max);
    const { tooBig: _, implicit: __, ...file } = version;
    if (file.kind === 'link') {
      // A hard link shares the inode its target had in the link's own layer.
      const target = visibleVersion(views, file.linkname ?? '', file.layer);
      if (target?.tooBig !== undefined) throw tooBig(image, target.path, target.tooBig, max);
      if (target?.content) file.content = target.content;
    }
    files.set(path, file);
  }
  return files;
}

/** Symlinks followed at most this many times, as Linux does (ELOOP). */
const MAX_HOPS = 40;

/**
 * The file `path` stands for in `files`, symlinks resolved (relative and absolute targets,
 * chains, symlinked directories along the way) as the kernel would inside the image; `..` stops
 * at the root. Undefined when a path along the way is not in the map, or after 40 hops (a loop).
 * Components not in the map are taken as plain directories.
 */
export function followLink(files: Map<string, ImageFile>, path: string): ImageFile | undefined {
  let hops = 0;
  // Components still to walk, and the resolved directory so far.
  let pending = path.split('/');
  let resolved: string[] = [];
  while (pending.length) {
    const part = pending.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const here = [...resolved, part].join('/');
    const file = files.get(here);
    if (file?.kind === 'symlink') {
      if (++hops > MAX_HOPS) return undefined;
      const target = file.linkname ?? '';
      if (target.startsWith('/')) resolved = [];
      pending = [...target.split('/'), ...pending];
      continue;
    }
    resolved.push(part);
  }
  const final = resolved.join('/');
  return files.get(final);
}
