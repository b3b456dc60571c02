import type { Header } from 'tar-stream';
import { type PaxRecords, xattrsOf } from './tar-rules';

/** Writes one tar entry; a regular file's content comes from `body`. Resolves when it is written. */
export interface EntryWriter {
  write(header: Header, body?: Buffer | AsyncIterable<Buffer>): Promise<void>;
}

export interface CrosslinkOptions {
  /** Only files under these normalised paths are linked ('' or absent: every path). */
  prefixes?: string[];
  /** Content of a file held in memory while hashing; beyond it spills to a private temp file. */
  memoryLimit?: number;
}

interface Written {
  name: string;
  mtime: Date;
  paxTimes: PaxRecords;
}

const DEFAULT_MEMORY_LIMIT = 8 * 1024 * 1024;
const TIME_KEYS = ['mtime', 'atime', 'ctime'];

/**
 * Content dedupe in one pass: each regular file is written once, and a later file with the same
 * content becomes a hard link to the first. A file whose size no earlier file had streams straight
 * through (hashed on the way); one whose size was seen is held (memory, then a temp file) until
 * its hash is known, then written or linked.
 *
 * The key is (sha256, size) AND mode, uid, gid and xattrs: the files of a hard link share one
 * inode, so linking files that differ in metadata would change one of them. Link entries carry
 * the first file's times too (an applier sets them on the shared inode). Empty files are never
 * linked: nothing to save, and separate empty files (locks, markers) stay separate.
 */
export class Crosslinker {
  linksMade = 0;
  bytesSaved = 0;
  private readonly sizes = new Set<number>();
  private readonly byKey = new Map<string, Written>();
  private readonly prefixes: string[] | null;
  private readonly memoryLimit: number;
  private tempDir: string | null = null;
  private spills = 0;

  constructor(private readonly writer: EntryWriter, options: CrosslinkOptions = {}) {
    const prefixes = options.prefixes?.filter((prefix) => prefix !== '');
    this.prefixes = prefixes && prefixes.length > 0 && prefixes.length === options.prefixes?.length ? prefixes : null;
    this.memoryLimit = options.memoryLimit ?? DEFAULT_MEMORY_LIMIT;
  }

  /**
   * Writes the regular file `header` (a header for pack, named `name`) with content `body`, or a
   * hard link to an earlier identical file. Returns the name of the regular file that holds the
   * content (`name` itself, or the earlier file's): links to this file should point there.
   */
  async file(header: Header, name: string, body: AsyncIterable<Buffer>): Promise<string> {
    const size = header.size ?? 0;
    if (size === 0 || !this.eligible(name)) {
      await this.writer.write(header, body);
      return name;
    }
    const { createHash } = require('node:crypto') as typeof import('node:crypto');
    const hash = createHash('sha256');
    if (!this.sizes.has(size)) {
      this.sizes.add(size);
      await this.writer.write(header, hashing(body, hash));
      this.byKey.set(this.key(header, hash.digest('base64')), written(header, name));
      return name;
    }
    const held = await this.hold(body, hash, size);
    try {
      const key = this.key(header, hash.digest('base64'));
      const first = this.byKey.get(key);
      if (first) {
        const pax: PaxRecords = { ...((header.pax as PaxRecords | undefined) ?? {}) };
        for (const time of TIME_KEYS) delete pax[time];
        Object.assign(pax, first.paxTimes);
        const link: Header = { ...header, type: 'link', linkname: first.name, size: 0, mtime: first.mtime };
        if (Object.keys(pax).length > 0) link.pax = pax;
        else delete link.pax;
        await this.writer.write(link);
        this.linksMade++;
        this.bytesSaved += size;
        return first.name;
      }
      await this.writer.write(header, held.content());
      this.byKey.set(key, written(header, name));
      return name;
    } finally {
      await held.release();
    }
  }

  /** Removes the temp directory, if one was made. Safe to call twice. */
  async close(): Promise<void> {
    const dir = this.tempDir;
    this.tempDir = null;
    if (dir) await (require('node:fs/promises') as typeof import('node:fs/promises')).rm(dir, { recursive: true, force: true });
  }

  private eligible(name: string): boolean {
    if (!this.prefixes) return true;
    return this.prefixes.some((prefix) => name === prefix || name.startsWith(`${prefix}/`));
  }

  private key(header: Header, digest: string): string {
    const xattrs = xattrsOf(header);
    let xattrKey = '';
    if (xattrs.length > 0) {
      const { createHash } = require('node:crypto') as typeof import('node:crypto');
      const hash = createHash('sha256');
      for (const [name, value] of xattrs) hash.update(`${name.length}:${name}=`).update(typeof value === 'string' ? Buffer.from(value) : value).update('\0');
      xattrKey = hash.digest('base64');
    }
    return `${digest} ${header.size} ${header.mode & 0o7777} ${header.uid} ${header.gid} ${xattrKey}`;
  }

  /** Reads the whole body while hashing: in memory up to the limit, else into a temp file. */
  private async hold(body: AsyncIterable<Buffer>, hash: import('node:crypto').Hash, size: number): Promise<Held> {
    if (size <= this.memoryLimit) {
      const chunks: Buffer[] = [];
      for await (const chunk of body) {
        hash.update(chunk);
        chunks.push(chunk);
      }
      const content = Buffer.concat(chunks);
      return { content: () => content, release: async () => undefined };
    }
    const fs = require('node:fs') as typeof import('node:fs');
    const { join } = require('node:path') as typeof import('node:path');
    const { pipeline } = require('node:stream/promises') as typeof import('node:stream/promises');
    const { Readable } = require('node:stream') as typeof import('node:stream');
    if (!this.tempDir) {
      const { tmpdir } = require('node:os') as typeof import('node:os');
      this.tempDir = await fs.promises.mkdtemp(join(tmpdir(), 'imagewright-crosslink-'));
      await fs.promises.chmod(this.tempDir, 0o700);
    }
    const file = join(this.tempDir, String(this.spills++));
    await pipeline(Readable.from(hashing(body, hash)), fs.createWriteStream(file, { mode: 0o600 }));
    return {
      content: () => fs.createReadStream(file, { highWaterMark: 1024 * 1024 }),
      release: () => fs.promises.rm(file, { force: true }),
    };
  }
}

interface Held {
  content(): Buffer | AsyncIterable<Buffer>;
  release(): Promise<void>;
}

function written(header: Header, name: string): Written {
  const pax = (header.pax as PaxRecords | undefined) ?? {};
  const paxTimes: PaxRecords = {};
  for (const time of TIME_KEYS) if (pax[time] !== undefined) paxTimes[time] = pax[time];
  return { name, mtime: header.mtime, paxTimes };
}

async function* hashing(body: AsyncIterable<Buffer>, hash: import('node:crypto').Hash): AsyncGenerator<Buffer> {
  for await (const chunk of body) {
    hash.update(chunk);
    yield chunk;
  }
}
