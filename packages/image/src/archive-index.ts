import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { failure, usageError } from '@imagewright/core';

export type ArchiveEntryType = 'file' | 'link' | 'symlink' | 'directory' | 'other';

/** One entry of a tar file: where its data starts and how long it is. */
export interface ArchiveEntry {
  /** Normalised: no leading `./` or `/`, no trailing `/`. */
  name: string;
  type: ArchiveEntryType;
  /** Byte offset of the entry's data in the file. */
  offset: number;
  size: number;
  linkname: string;
}

const BLOCK = 512;

function normalise(name: string): string {
  let n = name;
  while (n.startsWith('./')) n = n.slice(2);
  n = n.replace(/^\/+/, '').replace(/\/+$/, '');
  return n;
}

function cString(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? field.length : nul).toString('utf8');
}

/** A numeric header field: octal text, or GNU base-256 when the high bit of its first byte is set. */
function number(block: Buffer, start: number, length: number): number {
  const field = block.subarray(start, start + length);
  if (field[0] & 0x80) {
    let value = field[0] & 0x7f;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i];
    return value;
  }
  const text = cString(block, start, length).trim();
  return text ? parseInt(text, 8) : 0;
}

function checksumOk(block: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i];
  return sum === number(block, 148, 8);
}

/** PAX records `len key=value\n`. */
function paxRecords(data: Buffer): Record<string, string> {
  const records: Record<string, string> = {};
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space < 0) break;
    const length = parseInt(data.subarray(at, space).toString('ascii'), 10);
    if (!(length > 0)) break;
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) records[record.slice(0, eq)] = record.slice(eq + 1);
    at += length;
  }
  return records;
}

function typeOf(flag: string): ArchiveEntryType {
  switch (flag) {
    case '0':
    case '\0':
    case '':
    case '7':
      return 'file';
    case '1':
      return 'link';
    case '2':
      return 'symlink';
    case '5':
      return 'directory';
    default:
      return 'other';
  }
}

/**
 * Random access to the entries of a tar file without extracting it: the headers are walked once
 * (seeking over contents), then each entry opens as a stream over its byte range.
 */
export class ArchiveIndex {
  private readonly streams = new Set<Readable>();
  private closed = false;

  private constructor(
    /** The file, for messages and for read streams. */
    readonly file: string,
    /** Entries by normalised name (a later entry of the same name wins, as on extraction). */
    readonly entries: Map<string, ArchiveEntry>,
    private readonly handle: FileHandle,
  ) {}

  /** Indexes `file`; `what` names it in errors (`docker-archive:FILE`). */
  static async open(file: string, what: string): Promise<ArchiveIndex> {
    const { open } = require('node:fs/promises') as typeof import('node:fs/promises');
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw usageError(`${what}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory, not a tar file' : (error as Error).message}; allowed a tar file`);
    }
    try {
      return new ArchiveIndex(file, await walk(handle, what), handle);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** The entry under `name`, following symlinks (relative to the entry's folder) and hard links. */
  resolve(name: string): ArchiveEntry | undefined {
    const { posix } = require('node:path') as typeof import('node:path');
    let entry = this.entries.get(normalise(name));
    for (let hops = 0; entry && hops < 16; hops++) {
      if (entry.type === 'symlink') {
        const target = entry.linkname.startsWith('/') ? entry.linkname : posix.join(posix.dirname(entry.name), entry.linkname);
        entry = this.entries.get(normalise(posix.normalize(target)));
      } else if (entry.type === 'link') {
        entry = this.entries.get(normalise(entry.linkname));
      } else {
        return entry;
      }
    }
    return undefined;
  }

  has(name: string): boolean {
    return this.resolve(name) !== undefined;
  }

  private need(name: string): ArchiveEntry {
    const entry = this.resolve(name);
    if (!entry || entry.type !== 'file') throw failure(`${this.file}: no file ${JSON.stringify(name)} in the archive`);
    return entry;
  }

  /** The whole content of a (small) entry. */
  async read(name: string, limit = 64 * 1024 * 1024): Promise<Buffer> {
    const entry = this.need(name);
    if (entry.size > limit) throw failure(`${this.file}: ${name} is larger than ${limit} bytes`);
    return this.readAt(entry.offset, entry.size);
  }

  /** The first `n` bytes of an entry (fewer when it is shorter). */
  async peek(name: string, n: number): Promise<Buffer> {
    const entry = this.need(name);
    return this.readAt(entry.offset, Math.min(n, entry.size));
  }

  private async readAt(position: number, length: number): Promise<Buffer> {
    const buffer = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(buffer, done, length - done, position + done);
      if (!bytesRead) throw failure(`${this.file}: truncated (ends inside an entry)`);
      done += bytesRead;
    }
    return buffer;
  }

  /** The entry's content as a stream of its byte range; destroyed by close(). */
  stream(name: string): Readable {
    if (this.closed) throw failure(`${this.file}: already closed`);
    const entry = this.need(name);
    const { createReadStream } = require('node:fs') as typeof import('node:fs');
    const { Readable } = require('node:stream') as typeof import('node:stream');
    const stream = entry.size ? createReadStream(this.file, { start: entry.offset, end: entry.offset + entry.size - 1 }) : Readable.from([]);
    this.streams.add(stream);
    stream.once('close', () => this.streams.delete(stream));
    return stream;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stream of this.streams) stream.destroy();
    await this.handle.close();
  }
}

async function walk(handle: FileHandle, what: string): Promise<Map<string, ArchiveEntry>> {
  const { size: fileSize } = await handle.stat();
  const entries = new Map<string, ArchiveEntry>();
  const block = Buffer.alloc(BLOCK);
  const readExactly = async (buffer: Buffer, position: number) => {
    let done = 0;
    while (done < buffer.length) {
      const { bytesRead } = await handle.read(buffer, done, buffer.length - done, position + done);
      if (!bytesRead) return false;
      done += bytesRead;
    }
    return true;
  };
  let position = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  let global: Record<string, string> = {};
  let first = true;
  const head = Buffer.alloc(Math.min(2, fileSize));
  await readExactly(head, 0);
  if (head[0] === 0x1f && head[1] === 0x8b) {
    throw usageError(`${what}: a gzip-compressed file; allowed an uncompressed tar file (gunzip it first: reading needs random access)`);
  }
  while (position + BLOCK <= fileSize) {
    await readExactly(block, position);
    if (block.every((b) => b === 0)) break;
    if (!checksumOk(block)) {
      if (first) throw usageError(`${what}: not a tar file; allowed a tar file (docker save, skopeo copy …-archive:)`);
      throw failure(`${what}: corrupt tar header at byte ${position}`);
    }
    first = false;
    const flag = String.fromCharCode(block[156]);
    const size = number(block, 124, 12);
    const dataAt = position + BLOCK;
    const next = dataAt + Math.ceil(size / BLOCK) * BLOCK;
    if (dataAt + size > fileSize) throw failure(`${what}: truncated (an entry runs past the end of the file)`);
    const meta = async () => {
      const data = Buffer.alloc(size);
      await readExactly(data, dataAt);
      return data;
    };
    if (flag === 'x' || flag === 'g') {
      const records = paxRecords(await meta());
      if (flag === 'x') pax = records;
      else global = { ...global, ...records };
    } else if (flag === 'L') {
      longName = cString(await meta(), 0, size);
    } else if (flag === 'K') {
      longLink = cString(await meta(), 0, size);
    } else {
      const records = { ...global, ...pax };
      const magic = block.subarray(257, 263).toString('latin1');
      const prefix = magic === 'ustar\0' ? cString(block, 345, 155) : '';
      const raw = records.path ?? longName ?? (prefix ? `${prefix}/${cString(block, 0, 100)}` : cString(block, 0, 100));
      const linkname = records.linkpath ?? longLink ?? cString(block, 157, 100);
      const realSize = records.size !== undefined ? Number(records.size) : size;
      let type = typeOf(flag);
      if (type === 'file' && raw.endsWith('/')) type = 'directory';
      const name = normalise(raw);
      if (name) entries.set(name, { name, type, offset: dataAt, size: type === 'file' ? realSize : 0, linkname });
      pax = {};
      longName = longLink = undefined;
      if (realSize !== size) {
        // A PAX size overrides the header's (files over 8 GiB in old writers).
        position = dataAt + Math.ceil(realSize / BLOCK) * BLOCK;
        continue;
      }
    }
    position = next;
  }
  if (first) throw usageError(`${what}: ${fileSize ? 'not a tar file' : 'an empty file'}; allowed a tar file (docker save, skopeo copy …-archive:)`);
  return entries;
}
