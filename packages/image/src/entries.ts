import type { Readable } from 'node:stream';
import type { Header } from 'tar-stream';
import { failure, usageError } from '@imagewright/core';
import { loadTar, normalizeName, parseWhiteout, type PaxRecords, unsafeLink, unsafeName } from './tar-rules';

export type EntryKind = 'file' | 'dir' | 'symlink' | 'link' | 'whiteout' | 'opaque' | 'other';

/** One entry of a layer tar, its rules applied (names normalised, whiteouts recognised, escapes refused). */
export interface LayerEntry {
  /** Root-relative path, normalised ('' = the root). */
  readonly name: string;
  /** The header as read; `uid`/`gid` taken from PAX records when present (big ids). */
  readonly header: Header;
  /** 'other': fifos and devices. `contiguous-file` counts as 'file'. */
  readonly kind: EntryKind;
  /**
   * For a whiteout: the path it hides; for an opaque marker: the directory whose lower children
   * it hides; for a hard link: the normalised target. Otherwise ''.
   */
  readonly target: string;
  /** The content (regular files only carry bytes). Consume it or leave it: it is drained after. */
  readonly body: AsyncIterable<Buffer>;
}

export interface ReadEntriesOptions {
  /** Prefix for messages, e.g. "layer 2 (sha256:…)". */
  label?: string;
}

/**
 * The entries of one layer tar, in tar order. An entry that escapes the root (`../x`, an absolute
 * or escaping hard-link target) is a usage error naming it; an entry type the image model cannot
 * carry (GNU sparse, unknown typeflags) is a failure naming it. AUFS metadata is skipped.
 *
 * Duplicate paths (the spec forbids them) are passed on as they come: the merge keeps the first.
 */
export async function* readEntries(tar: Readable, options: ReadEntriesOptions = {}): AsyncGenerator<LayerEntry> {
  const label = options.label ? `${options.label}: ` : '';
  const extract = loadTar().extract();
  tar.on('error', (error) => extract.destroy(error));
  tar.pipe(extract as unknown as NodeJS.WritableStream);
  try {
    for await (const body of extract) {
      const header = body.header;
      const raw = header.name;
      const pax = header.pax as PaxRecords | null | undefined;
      if (header.type === null) throw failure(`${label}entry ${raw} has a tar entry type the image model cannot carry`);
      if (pax && Object.keys(pax).some((key) => key.startsWith('GNU.sparse.'))) {
        throw failure(`${label}entry ${raw} is a sparse file; layers must not use sparse entries`);
      }
      if (unsafeName(raw)) throw usageError(`${label}entry ${raw} escapes the image root`);
      if (unsafeLink(raw, header.linkname ?? '', header.type)) {
        throw usageError(`${label}entry ${raw} escapes the image root (hard link to ${header.linkname})`);
      }
      if (pax) {
        for (const id of ['uid', 'gid'] as const) {
          const value = pax[id];
          if (typeof value === 'string' && /^\d+$/.test(value)) header[id] = Number(value);
        }
      }
      const name = normalizeName(raw);
      const entry = classify(name, header, label);
      let ended = false;
      body.once('end', () => {
        ended = true;
      });
      if (entry) yield { ...entry, body: body as unknown as AsyncIterable<Buffer> };
      // Whatever the consumer left unread is skipped, so the next header can be parsed.
      if (!ended) {
        await new Promise<void>((resolve, reject) => {
          body.once('end', resolve);
          body.once('close', resolve);
          body.once('error', reject);
          body.resume();
        });
      }
    }
  } finally {
    tar.unpipe(extract as unknown as NodeJS.WritableStream);
    if (!extract.destroyed) extract.destroy();
    if (!tar.destroyed) tar.destroy();
  }
}

function classify(name: string, header: Header, label: string): Omit<LayerEntry, 'body'> | null {
  const whiteout = parseWhiteout(name);
  if (whiteout) {
    switch (whiteout.kind) {
      case 'aufs-meta':
        return null;
      case 'invalid':
        throw usageError(`${label}entry ${header.name} is not a valid whiteout: ${whiteout.reason}`);
      case 'whiteout':
      case 'opaque':
        return { name, header, kind: whiteout.kind, target: whiteout.target };
    }
  }
  switch (header.type) {
    case 'file':
    case 'contiguous-file':
      if (name === '') throw usageError(`${label}entry ${header.name} replaces the image root with a file`);
      return { name, header, kind: 'file', target: '' };
    case 'directory':
      return { name, header, kind: 'dir', target: '' };
    case 'symlink':
      if (name === '') throw usageError(`${label}entry ${header.name} replaces the image root with a symlink`);
      return { name, header, kind: 'symlink', target: '' };
    case 'link':
      if (name === '') throw usageError(`${label}entry ${header.name} replaces the image root with a hard link`);
      return { name, header, kind: 'link', target: normalizeName(header.linkname ?? '') };
    default:
      if (name === '') throw usageError(`${label}entry ${header.name} replaces the image root`);
      return { name, header, kind: 'other', target: '' };
  }
}
