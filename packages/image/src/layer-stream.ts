import type { Readable, Transform } from 'node:stream';
import { failure, usageError } from '@imagewright/core';

/** How a stored layer blob is compressed, from its first bytes. */
export type Compression = 'none' | 'gzip' | 'zstd';

export function compressionOf(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

const HASHES: Record<string, string> = { sha256: 'sha256', sha512: 'sha512' };

/**
 * A pass-through that hashes what flows and, at the end, errors with a failure naming `what`
 * unless the bytes' digest is `expected`. Digests of an algorithm we lack pass unchecked.
 */
export function digestCheck(expected: string, what: string): Transform {
  const { Transform } = require('node:stream') as typeof import('node:stream');
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  const algorithm = expected.split(':')[0];
  const hash = HASHES[algorithm] ? createHash(HASHES[algorithm]) : undefined;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash?.update(chunk);
      done(null, chunk);
    },
    flush(done) {
      const actual = hash && `${algorithm}:${hash.digest('hex')}`;
      done(actual && actual !== expected ? failure(`${what}: its bytes' digest is ${actual}, not ${expected} (corrupt or mismatching)`) : null);
    },
  });
}

/**
 * The first `n` bytes of `raw` (fewer at its end), left in the stream for its reader.
 */
export async function peekStream(raw: Readable, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  let ended = false;
  const onEnd = () => (ended = true);
  raw.once('end', onEnd);
  try {
    while (length < n && !ended) {
      const chunk = raw.read() as Buffer | null;
      if (chunk !== null) {
        chunks.push(chunk);
        length += chunk.length;
        continue;
      }
      if (raw.readableEnded || raw.destroyed) break;
      await new Promise<void>((resolve, reject) => {
        const done = () => {
          raw.off('readable', done);
          raw.off('end', done);
          raw.off('close', done);
          raw.off('error', fail);
          resolve();
        };
        const fail = (error: Error) => {
          done();
          reject(error);
        };
        raw.once('readable', done);
        raw.once('end', done);
        raw.once('close', done);
        raw.once('error', fail);
      });
    }
  } finally {
    raw.off('end', onEnd);
  }
  const head = Buffer.concat(chunks);
  if (head.length) raw.unshift(head);
  return head;
}

/**
 * The uncompressed tar of a stored layer blob (plain, or gzip by its first bytes), checked at its
 * end against `diffId`: the stream errors with a failure naming `what` on a mismatch. zstd is
 * refused (Node has no zstd). Destroying the result destroys `raw`.
 */
export async function uncompressedLayer(raw: Readable, diffId: string, what: string): Promise<Readable> {
  let compression: Compression;
  try {
    compression = compressionOf(await peekStream(raw, 4));
  } catch (error) {
    raw.destroy();
    throw failure(`${what}: ${(error as Error).message}`, error);
  }
  if (compression === 'zstd') {
    raw.destroy();
    throw usageError(`${what}: a zstd-compressed layer; allowed uncompressed or gzip layers (convert with skopeo copy --dest-compress-format gzip)`);
  }
  const check = digestCheck(diffId, what);
  if (compression === 'gzip') {
    const { createGunzip } = require('node:zlib') as typeof import('node:zlib');
    return chain([raw, createGunzip(), check], what);
  }
  return chain([raw, check], what);
}

/**
 * Pipes `streams` into one another and returns the last; an error anywhere destroys the last
 * with a failure naming `what` (the last's own errors pass as they are), and destroying the last
 * destroys the others.
 */
function chain(streams: Readable[], what: string): Readable {
  const last = streams[streams.length - 1];
  for (let i = 0; i + 1 < streams.length; i++) {
    const stream = streams[i];
    stream.pipe(streams[i + 1] as unknown as NodeJS.WritableStream);
    stream.once('error', (error: Error) => {
      const named = (error as { exitCode?: number }).exitCode !== undefined ? error : failure(`${what}: ${error.message}`, error);
      if (!last.destroyed) last.destroy(named);
    });
  }
  last.once('close', () => {
    for (const stream of streams) if (!stream.destroyed) stream.destroy();
  });
  return last;
}

/** A stored blob checked against its digest at the end. */
export function verifiedBlob(raw: Readable, digest: string, what: string): Readable {
  return chain([raw, digestCheck(digest, what)], what);
}

/** Reads a whole (small) stream; errors beyond `limit` bytes. */
export async function readAll(stream: Readable, limit = 64 * 1024 * 1024, what = 'stream'): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    length += (chunk as Buffer).length;
    if (length > limit) {
      stream.destroy();
      throw failure(`${what}: larger than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

