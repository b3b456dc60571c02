import type { Stats } from 'node:fs';
import { usageError } from '@imagewright/core';

/**
 * crosslink's logic: find files with the same content under some directories (inside a
 * container or on an unpacked root filesystem) and replace the copies with hard links.
 */

/** One inode met in the walk, with every path (walk order) that names it. */
export interface InodeFiles {
  dev: number;
  ino: number;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  /** Links the inode has in all (paths outside the walked directories included). */
  nlink: number;
  paths: string[];
}

/** Inodes with the same content: sha256 and size. */
export interface ContentGroup {
  digest: string;
  size: number;
  /** Walk order: the first inode's first path is the master. */
  inodes: InodeFiles[];
}

export interface Survey {
  dirs: string[];
  /** Regular files (paths) met. */
  files: number;
  /** Distinct inodes among them. */
  inodes: number;
  /** Σ size over distinct inodes: what the files take now. */
  unsquashed: number;
  /** Σ size over distinct contents: what they would take with every copy linked. */
  squashed: number;
  /** Contents held by more than one inode, in walk order. */
  groups: ContentGroup[];
  /** Directories not entered because they are on another filesystem (mount points). */
  otherFilesystems: string[];
  /** Directories or files that could not be read (path: reason). */
  unreadable: string[];
}

const BLOCK = 1 << 20;
const HASHERS = 4;

/** sha256 of a file, read in 1 MiB blocks. */
export async function fileDigest(path: string): Promise<string> {
  const { createReadStream } = require('node:fs') as typeof import('node:fs');
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  const hash = createHash('sha256');
  for await (const block of createReadStream(path, { highWaterMark: BLOCK })) hash.update(block as Buffer);
  return hash.digest('hex');
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Walks `dirs` (sorted, symlinks not followed, never into another filesystem than each DIR's
 * own) and groups regular files by content. Only files whose size another inode shares are
 * hashed. A DIR that is missing or not a directory is a usage error.
 */
export async function surveyDirs(dirs: string[]): Promise<Survey> {
  const { lstat, readdir, stat } = require('node:fs/promises') as typeof import('node:fs/promises');
  const { join } = require('node:path') as typeof import('node:path');
  const roots: { dir: string; stats: Stats }[] = [];
  for (const dir of dirs) {
    let stats: Stats;
    try {
      stats = await stat(dir);
    } catch (error) {
      throw usageError(`DIR ${dir}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (error as Error).message}; allowed: existing directories`);
    }
    if (!stats.isDirectory()) throw usageError(`DIR ${dir}: not a directory; allowed: existing directories`);
    roots.push({ dir, stats });
  }

  const inodes = new Map<string, InodeFiles>();
  const visited = new Set<string>();
  const otherFilesystems: string[] = [];
  const unreadable: string[] = [];
  let files = 0;
  const walk = async (dir: string, dev: number): Promise<void> => {
    let names: string[];
    try {
      names = (await readdir(dir)).sort(byName);
    } catch (error) {
      unreadable.push(`${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      let st: Stats;
      try {
        st = await lstat(path);
      } catch (error) {
        unreadable.push(`${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
        continue;
      }
      if (st.isDirectory()) {
        if (st.dev !== dev) otherFilesystems.push(path);
        else if (!visited.has(`${st.dev}:${st.ino}`)) {
          visited.add(`${st.dev}:${st.ino}`);
          await walk(path, dev);
        }
      } else if (st.isFile()) {
        files++;
        const key = `${st.dev}:${st.ino}`;
        const known = inodes.get(key);
        if (known) known.paths.push(path);
        else inodes.set(key, { dev: st.dev, ino: st.ino, size: st.size, mode: st.mode, uid: st.uid, gid: st.gid, nlink: st.nlink, paths: [path] });
      }
    }
  };
  for (const { dir, stats } of roots) {
    // A DIR inside one already walked (or given twice) is not walked again.
    if (visited.has(`${stats.dev}:${stats.ino}`)) continue;
    visited.add(`${stats.dev}:${stats.ino}`);
    await walk(dir, stats.dev);
  }

  // Only sizes that more than one inode has can hold copies: hash those, nothing else.
  const bySize = new Map<number, InodeFiles[]>();
  for (const inode of inodes.values()) {
    const same = bySize.get(inode.size);
    if (same) same.push(inode);
    else bySize.set(inode.size, [inode]);
  }
  const toHash = [...bySize.values()].filter((same) => same.length > 1).flat();
  const digests = new Map<InodeFiles, string>();
  let next = 0;
  const hasher = async () => {
    while (next < toHash.length) {
      const inode = toHash[next++];
      try {
        digests.set(inode, await fileDigest(inode.paths[0]));
      } catch (error) {
        unreadable.push(`${inode.paths[0]}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: HASHERS }, hasher));

  let unsquashed = 0;
  let squashed = 0;
  const contents = new Map<string, ContentGroup>();
  for (const inode of inodes.values()) {
    unsquashed += inode.size;
    const digest = digests.get(inode);
    if (digest === undefined) {
      // A size of its own (or unreadable): its own content.
      squashed += inode.size;
      continue;
    }
    const key = `${digest}:${inode.size}`;
    const group = contents.get(key);
    if (group) group.inodes.push(inode);
    else {
      contents.set(key, { digest: `sha256:${digest}`, size: inode.size, inodes: [inode] });
      squashed += inode.size;
    }
  }
  return {
    dirs,
    files,
    inodes: inodes.size,
    unsquashed,
    squashed,
    groups: [...contents.values()].filter((g) => g.inodes.length > 1),
    otherFilesystems,
    unreadable,
  };
}

export interface LinkReport {
  /** Paths replaced by a hard link to their master. */
  linked: number;
  /** Inodes none of whose links is left: their data is freed. */
  inodesFreed: number;
  /** Bytes those inodes held. */
  saved: number;
  notLinked: {
    /** Mode, owner or group differ from the master's: left alone. */
    metadata: string[];
    /** On another filesystem than the master: a hard link cannot cross. */
    otherFilesystem: string[];
    /** Changed since the survey (another inode or size now): left alone. */
    changed: string[];
  };
  failed: { path: string; error: string }[];
}

/**
 * Replaces every copy in `survey.groups` with a hard link to the group's master (its first
 * path). Each link is made under a temporary name beside the copy and renamed over it, so a
 * path is never missing. Empty files are left alone: linking them saves nothing.
 */
export async function crosslink(survey: Survey, options: { onLink?: (path: string, master: string) => void } = {}): Promise<LinkReport> {
  const { lstat, link, rename, unlink } = require('node:fs/promises') as typeof import('node:fs/promises');
  const { dirname, join } = require('node:path') as typeof import('node:path');
  const report: LinkReport = { linked: 0, inodesFreed: 0, saved: 0, notLinked: { metadata: [], otherFilesystem: [], changed: [] }, failed: [] };
  let serial = 0;
  const same = (st: Stats, inode: InodeFiles) => st.dev === inode.dev && st.ino === inode.ino && st.size === inode.size;
  for (const group of survey.groups) {
    if (group.size === 0) continue;
    const [first, ...copies] = group.inodes;
    const master = first.paths[0];
    for (const inode of copies) {
      let relinked = 0;
      for (const path of inode.paths) {
        if (inode.dev !== first.dev) {
          report.notLinked.otherFilesystem.push(path);
          continue;
        }
        if (inode.mode !== first.mode || inode.uid !== first.uid || inode.gid !== first.gid) {
          report.notLinked.metadata.push(path);
          continue;
        }
        try {
          if (!same(await lstat(path), inode) || !same(await lstat(master), first)) {
            report.notLinked.changed.push(path);
            continue;
          }
        } catch {
          report.notLinked.changed.push(path);
          continue;
        }
        const temporary = join(dirname(path), `.crosslink-${process.pid}-${serial++}.tmp`);
        try {
          await link(master, temporary);
          await rename(temporary, path);
        } catch (error) {
          await unlink(temporary).catch(() => undefined);
          report.failed.push({ path, error: (error as NodeJS.ErrnoException).code ?? (error as Error).message });
          continue;
        }
        relinked++;
        report.linked++;
        options.onLink?.(path, master);
      }
      // The data is freed only when no link to the old inode is left, here or elsewhere.
      if (relinked === inode.paths.length && inode.nlink === relinked) {
        report.inodesFreed++;
        report.saved += inode.size;
      }
    }
  }
  return report;
}

/** The original crosslink's sizes: over 1e12/1e9/1e6/1e3 one decimal and T/G/M/K, else the integer; right-aligned to 7. */
export function crosslinkSize(bytes: number): string {
  for (const [limit, unit] of [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'K']] as const) {
    if (bytes > limit) return `${(bytes / limit).toFixed(1)} ${unit}`.padStart(7);
  }
  return String(bytes).padStart(7);
}

/** Python's str.center(width, fill), which the original's banners used (odd padding: the extra on the right unless width is odd). */
export function pyCenter(text: string, width: number, fill = ' '): string {
  const margin = width - text.length;
  if (margin <= 0) return text;
  const left = Math.floor(margin / 2) + (margin & width & 1);
  return fill.repeat(left) + text + fill.repeat(margin - left);
}
