import type { Readable } from 'node:stream';

/**
 * A stream's bytes in a private temp file: for a tar header (or an HTTP body) that needs the size
 * before the bytes. Only the sinks that cannot seek back use it (stdout, `docker load`).
 */
export interface Spooled {
  readonly path: string;
  readonly size: number;
  /** The bytes again, from the start. */
  open(): Readable;
  /** Deletes the file and its folder; safe to call twice. */
  remove(): void;
}

const doomed = new Set<string>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function removeAllSync(): void {
  const { rmSync } = require('node:fs') as typeof import('node:fs');
  for (const path of doomed) rmSync(path, { recursive: true, force: true });
  doomed.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  removeAllSync();
  unhook();
  // Die of the signal as we would have without this handler, unless someone else handles it.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function unhook(): void {
  process.removeListener('exit', removeAllSync);
  for (const signal of SIGNALS) process.removeListener(signal, onSignal);
}

/**
 * Removes `path` (file or folder) when the process exits or is killed by SIGINT/SIGTERM/SIGHUP
 * before the returned function is called (which removes it too). SIGKILL leaves it: hence temp
 * files live in the temp folder and partial outputs carry a `.partial` name.
 */
export function removeOnExit(path: string): () => void {
  if (doomed.size === 0) {
    process.on('exit', removeAllSync);
    for (const signal of SIGNALS) process.on(signal, onSignal);
  }
  doomed.add(path);
  return () => {
    const { rmSync } = require('node:fs') as typeof import('node:fs');
    rmSync(path, { recursive: true, force: true });
    if (doomed.delete(path) && doomed.size === 0) unhook();
  };
}

/** Writes `stream` to a file in a fresh private folder (mode 0700) of the temp dir, removed on exit at the latest. */
export async function spool(stream: Readable, options: { tmpdir?: string } = {}): Promise<Spooled> {
  const fs = require('node:fs') as typeof import('node:fs');
  const { join } = require('node:path') as typeof import('node:path');
  const { pipeline } = require('node:stream/promises') as typeof import('node:stream/promises');
  const dir = fs.mkdtempSync(join(options.tmpdir ?? (require('node:os') as typeof import('node:os')).tmpdir(), 'imagewright-spool-'));
  const remove = removeOnExit(dir);
  const path = join(dir, 'data');
  let size = 0;
  try {
    fs.chmodSync(dir, 0o700);
    const { Transform } = require('node:stream') as typeof import('node:stream');
    const count = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        done(null, chunk);
      },
    });
    await pipeline(stream, count, fs.createWriteStream(path, { mode: 0o600 }));
  } catch (error) {
    remove();
    throw error;
  }
  return { path, size, open: () => fs.createReadStream(path), remove };
}
