import type { Readable, Transform, Writable } from 'node:stream';
import { failure, usageError } from '@imagewright/core';
import type { Engine } from '@imagewright/docker';
import { digestCheck } from './layer-stream';
import { DOCKER_LAYER } from './media';
import { type Image, type ImageConfig, type Layer, sha256Of } from './model';

/**
 * The Engine as an image source: `docker image inspect` for what is known up front (diff ids,
 * tags), and the save stream (`GET /images/{id}/get`) for the config and the layers' bytes.
 *
 * The save stream comes in no useful order (Docker ≤24 writes layer folders sorted by random v1
 * ids, manifest.json last), so:
 * - eachLayer visits every layer.tar as it arrives, hashing it to learn which layer it is;
 * - layer.open() streams a layer straight through when it is asked for before it arrives, and
 *   spools layers that arrive before they are asked for (memory up to a budget, then files in a
 *   private temp folder). A layer opened again after it was read costs a new save stream.
 */

export interface EngineImageOptions {
  /** The message name of the image (`IMAGE "x"`). */
  what: string;
  env?: NodeJS.ProcessEnv;
  /** An Engine client already connected. */
  engine?: Engine;
  /** Bytes of spooled layers kept in memory, all layers together; past it, spools go to disk. Default 64 MiB. */
  spoolMemoryBytes?: number;
  /** Where the private spool folder is made; os.tmpdir() by default. */
  spoolParent?: string;
}

/** The Engine source with what only it offers. */
export interface EngineImage extends Image {
  /** The image ID (sha256 of the config). */
  readonly id: string;
  /**
   * Declares which layers (indexes, bottom = 0) will be opened, so that others arriving early in
   * the save stream are skipped instead of spooled (squash --keep-base reads only the top ones).
   * Default: all. Layers outside it can still be opened (then through a new save stream).
   */
  willRead(indexes: number[]): void;
  /** What reading has cost so far: save streams started, layers streamed straight through, layers spooled (to disk). */
  stats(): EngineReadStats;
}

export interface EngineReadStats {
  saves: number;
  streamed: number;
  spooled: number;
  spooledToDisk: number;
  spooledBytes: number;
}

interface TarHeader {
  name: string;
  type: string | null;
  size: number;
}

/** tar-stream's entry stream (streamx): only what is used here. */
interface TarEntry {
  on(event: 'data', listener: (chunk: Buffer) => void): TarEntry;
  on(event: 'end' | 'close', listener: () => void): TarEntry;
  on(event: 'error', listener: (error: Error) => void): TarEntry;
  once(event: string, listener: (...args: unknown[]) => void): TarEntry;
  pause(): void;
  resume(): void;
  destroy(error?: Error): void;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Nobody may be waiting when a pass fails: no unhandled rejection then.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

const EPOCH = '1970-01-01T00:00:00Z';

/**
 * Feeds an entry into `out` with back-pressure; resolves when the entry has been read to its end
 * (the rest is discarded when `out` is destroyed early) and ends `out` unless `keepOpen`.
 */
function pump(entry: TarEntry, out: Writable, onChunk?: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let waiting = false;
    const resume = () => {
      if (waiting) {
        waiting = false;
        entry.resume();
      }
    };
    out.once('close', resume);
    entry.on('data', (chunk: Buffer) => {
      onChunk?.(chunk);
      if (out.destroyed || out.writableEnded) return;
      if (!out.write(chunk)) {
        waiting = true;
        entry.pause();
        out.once('drain', resume);
      }
    });
    entry.on('end', () => {
      out.off('close', resume);
      if (!out.destroyed && !out.writableEnded) out.end();
      resolve();
    });
    entry.on('error', (error: Error) => {
      if (!out.destroyed) out.destroy(error);
      reject(error);
    });
  });
}

function drain(entry: TarEntry): Promise<void> {
  return new Promise((resolve, reject) => {
    entry.on('end', resolve);
    entry.on('error', reject);
    entry.resume();
  });
}

function readEntry(entry: TarEntry, limit: number, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    entry.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length <= limit) chunks.push(chunk);
    });
    entry.on('end', () => (length > limit ? reject(failure(`${what}: larger than ${limit} bytes`)) : resolve(Buffer.concat(chunks))));
    entry.on('error', reject);
  });
}

/** A layer's bytes kept until read: in memory or in a file of the spool folder. */
class Spool {
  private readers = 0;
  private retired = false;
  constructor(
    readonly size: number,
    private chunks: Buffer[] | undefined,
    readonly file: string | undefined,
    private readonly release: (spool: Spool) => void,
  ) {}

  reader(): Readable {
    const { Readable } = require('node:stream') as typeof import('node:stream');
    const { createReadStream } = require('node:fs') as typeof import('node:fs');
    const stream = this.chunks ? Readable.from(this.chunks, { objectMode: false }) : createReadStream(this.file!);
    this.readers++;
    stream.once('close', () => {
      this.readers--;
      this.maybeRelease();
    });
    return stream;
  }

  /** No new readers: the bytes go once the current readers are done. */
  retire(): void {
    this.retired = true;
    this.maybeRelease();
  }

  private maybeRelease(): void {
    if (!this.retired || this.readers > 0 || (!this.chunks && !this.file)) return;
    this.chunks = undefined;
    this.release(this);
  }
}

let spoolNumber = 0;

class EngineSaveImage implements EngineImage {
  readonly tags: string[];
  private readonly positions = new Map<string, number[]>();
  private readonly spools = new Map<string, Spool>();
  private readonly reads = new Map<string, number>();
  private wanted: Set<string>;
  private current: SavePass | undefined;
  private readonly passes = new Set<SavePass>();
  private configValue: Buffer | undefined;
  memoryUsed = 0;
  readonly counts: EngineReadStats = { saves: 0, streamed: 0, spooled: 0, spooledToDisk: 0, spooledBytes: 0 };
  private spoolDir: string | undefined;
  private closed = false;
  private readonly removeSpoolDir = () => {
    if (this.spoolDir) (require('node:fs') as typeof import('node:fs')).rmSync(this.spoolDir, { recursive: true, force: true });
  };

  constructor(
    readonly name: string,
    readonly id: string,
    readonly diffIds: string[],
    tags: string[],
    readonly engine: Engine,
    readonly memoryBudget: number,
    private readonly spoolParent: string | undefined,
  ) {
    this.tags = tags;
    diffIds.forEach((d, i) => this.positions.set(d, [...(this.positions.get(d) ?? []), i]));
    this.wanted = new Set(diffIds);
  }

  stats(): EngineReadStats {
    return { ...this.counts };
  }

  willRead(indexes: number[]): void {
    this.wanted = new Set(indexes.map((i) => this.diffIds[i]).filter(Boolean));
  }

  /** Whether a layer arriving now is worth spooling: wanted, not spooled, not yet opened at every position. */
  needs(diffId: string): boolean {
    return this.wanted.has(diffId) && !this.spools.has(diffId) && (this.reads.get(diffId) ?? 0) < (this.positions.get(diffId)?.length ?? 0);
  }

  isLayer(diffId: string): boolean {
    return this.positions.has(diffId);
  }

  private activePass(careful = false): SavePass {
    if (this.closed) throw failure(`${this.name}: already closed`);
    if (!this.current || this.current.finished || (careful && !this.current.careful)) {
      const pass = new SavePass(this, careful);
      this.current = pass;
      this.passes.add(pass);
      void pass.done.finally(() => this.passes.delete(pass)).catch(() => undefined);
    }
    return this.current;
  }

  setConfig(bytes: Buffer): void {
    this.configValue ??= bytes;
  }

  async configBytes(): Promise<Buffer> {
    // A closed image answers nothing, whether or not its config had arrived (no race on timing).
    if (this.closed) throw failure(`${this.name}: already closed`);
    if (this.configValue) return this.configValue;
    return this.activePass().config.promise;
  }

  async config(): Promise<ImageConfig> {
    return JSON.parse((await this.configBytes()).toString('utf8')) as ImageConfig;
  }

  async layers(): Promise<Layer[]> {
    return this.diffIds.map((diffId, i) => ({
      diffId,
      digest: diffId,
      mediaType: DOCKER_LAYER.tar,
      size: -1,
      open: () => this.openLayer(i),
      openBlob: () => this.openLayer(i),
    }));
  }

  private async openLayer(index: number): Promise<Readable> {
    const diffId = this.diffIds[index];
    this.reads.set(diffId, (this.reads.get(diffId) ?? 0) + 1);
    const spool = this.spools.get(diffId);
    if (spool) return this.readSpool(diffId, spool);
    const pass = this.activePass();
    // Streamed or skipped in this pass already: a new save stream.
    if (pass.arrived.has(diffId) && !pass.spooling.has(diffId)) return this.retry(diffId);
    return pass.want(diffId);
  }

  /** The layer from a new save stream (it was read or skipped in the current one). */
  retry(diffId: string, careful = false): Promise<Readable> {
    this.current = undefined;
    return this.activePass(careful).want(diffId);
  }

  readSpool(diffId: string, spool: Spool): Readable {
    const reader = spool.reader();
    if ((this.reads.get(diffId) ?? 0) >= (this.positions.get(diffId)?.length ?? 1)) {
      // Every position has been opened: the spool goes once its readers are done.
      this.spools.delete(diffId);
      spool.retire();
    }
    return reader;
  }

  /** A finished spool: served to those waiting, kept when the layer will be read, else dropped. */
  offerSpool(diffId: string, spool: Spool, waiting: Deferred<Readable>[]): void {
    const kept = this.spools.get(diffId);
    if (kept) spool.retire();
    else if (waiting.length || this.needs(diffId)) this.spools.set(diffId, spool);
    else spool.retire();
    const from = kept ?? spool;
    for (const w of waiting) w.resolve(this.readSpool(diffId, from));
  }

  /** A spool for an entry of `size` bytes: in memory while the budget lasts, else a file. */
  newSpool(size: number): { spool: Spool; out: Writable } {
    const { PassThrough } = require('node:stream') as typeof import('node:stream');
    this.counts.spooled++;
    this.counts.spooledBytes += size;
    if (this.memoryUsed + size <= this.memoryBudget) {
      this.memoryUsed += size;
      const chunks: Buffer[] = [];
      const out = new PassThrough();
      out.on('data', (chunk: Buffer) => chunks.push(chunk));
      return { spool: new Spool(size, chunks, undefined, () => (this.memoryUsed -= size)), out };
    }
    const fs = require('node:fs') as typeof import('node:fs');
    const { join } = require('node:path') as typeof import('node:path');
    if (!this.spoolDir) {
      const { tmpdir } = require('node:os') as typeof import('node:os');
      this.spoolDir = fs.mkdtempSync(join(this.spoolParent ?? tmpdir(), 'imagewright-spool-'));
      process.once('exit', this.removeSpoolDir);
    }
    this.counts.spooledToDisk++;
    const file = join(this.spoolDir, `layer-${++spoolNumber}.tar`);
    const out = fs.createWriteStream(file, { mode: 0o600 });
    return { spool: new Spool(size, undefined, file, (s) => fs.rmSync(s.file!, { force: true })), out };
  }

  async eachLayer<T>(visit: (tar: Readable) => Promise<T>): Promise<T[]> {
    // A pass that has not reached a layer yet serves (config() often comes first); else a new one.
    let pass = this.current && !this.current.finished && !this.current.sawLayers && !this.current.hasWaiters() ? this.current : undefined;
    if (pass) this.current = undefined;
    else {
      if (this.closed) throw failure(`${this.name}: already closed`);
      pass = new SavePass(this, false);
      this.passes.add(pass);
    }
    const visiting = pass;
    pass.visitor = visit as (tar: Readable) => Promise<unknown>;
    try {
      await pass.done;
    } finally {
      this.passes.delete(visiting);
    }
    return this.diffIds.map((diffId) => {
      if (!visiting.visited.has(diffId)) throw failure(`${this.name}: the Engine's save stream had no layer ${diffId}`);
      return visiting.visited.get(diffId) as T;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const pass of this.passes) pass.abort(failure(`${this.name}: closed while reading`));
    await Promise.all([...this.passes].map((p) => p.done.catch(() => undefined)));
    for (const spool of this.spools.values()) spool.retire();
    this.spools.clear();
    this.removeSpoolDir();
    process.removeListener('exit', this.removeSpoolDir);
  }
}

/** One read of the save stream. */
class SavePass {
  readonly config = deferred<Buffer>();
  /** Resolves when the stream has been read to its end; rejects on its failure. */
  readonly done: Promise<void>;
  finished = false;
  sawLayers = false;
  /** Layers (diff ids) whose entry has come in this pass. */
  readonly arrived = new Set<string>();
  /** Layers being spooled now. */
  readonly spooling = new Set<string>();
  visitor: ((tar: Readable) => Promise<unknown>) | undefined;
  readonly visited = new Map<string, unknown>();
  /** Layer entries skipped without learning which layer they were. */
  private skippedUnknown = false;
  private readonly waiters = new Map<string, Deferred<Readable>[]>();
  private readonly outs = new Set<Readable>();
  private source: NodeJS.ReadableStream | undefined;
  private extract: { destroy(error?: Error): void } | undefined;
  private aborted: Error | undefined;
  private readonly idHex: string;
  // Docker ≤24: which layer a v1 folder holds, learned from the folders' `json` (parent links, the top's config).
  private readonly parentOf = new Map<string, string | null>();
  private readonly childOf = new Map<string, string>();
  private readonly positionOf = new Map<string, number>();

  /** Which v1 folders' json says they are not the top layer (no config, created at the epoch). */
  private readonly notTop = new Set<string>();

  /** `careful`: skip no layer of unknown identity on a guess (a retry after such a skip). */
  constructor(
    private readonly image: EngineSaveImage,
    readonly careful: boolean,
  ) {
    image.counts.saves++;
    this.idHex = image.id.replace(/^sha256:/, '');
    this.done = this.run();
    this.done.catch(() => undefined);
  }

  hasWaiters(): boolean {
    return this.waiters.size > 0;
  }

  want(diffId: string): Promise<Readable> {
    const wait = deferred<Readable>();
    this.waiters.set(diffId, [...(this.waiters.get(diffId) ?? []), wait]);
    return wait.promise;
  }

  abort(error: Error): void {
    this.aborted ??= error;
    // Streams handed out end without an error: whoever closes the image has stopped reading them.
    for (const out of this.outs) out.destroy();
    this.extract?.destroy(error);
    (this.source as unknown as Readable | undefined)?.destroy?.();
  }

  private async run(): Promise<void> {
    const what = this.image.name;
    try {
      let source: NodeJS.ReadableStream;
      try {
        source = await this.image.engine.getImage(this.image.id).get();
      } catch (error) {
        throw failure(`${what}: the Engine would not save the image (${(error as Error).message})`, error);
      }
      this.source = source;
      if (this.aborted) throw this.aborted;
      const tar = require('tar-stream') as typeof import('tar-stream');
      const extract = tar.extract();
      this.extract = extract;
      await new Promise<void>((resolve, reject) => {
        source.once('error', (error: Error) => extract.destroy(failure(`${what}: the Engine's save stream failed (${error.message})`, error)));
        extract.on('entry', (header, entry, next) => {
          this.entry(header as TarHeader, entry as unknown as TarEntry).then(
            () => next(),
            (error: Error) => {
              extract.destroy(error);
            },
          );
        });
        extract.once('finish', resolve);
        extract.once('error', reject);
        extract.once('close', () => reject(this.aborted ?? failure(`${what}: the Engine's save stream ended early`)));
        source.pipe(extract as unknown as NodeJS.WritableStream);
      });
      this.finished = true;
      const missing = this.aborted ?? failure(`${what}: the Engine's save stream had no config ${this.image.id}`);
      this.config.reject(missing);
      for (const [diffId, waits] of this.waiters) {
        for (const w of waits) {
          // A layer skipped unrecognised may be it: read it from a new save stream.
          // (Once, and carefully: spooling every unrecognised layer.)
          if (this.skippedUnknown && !this.careful && !this.arrived.has(diffId)) this.image.retry(diffId, true).then(w.resolve, w.reject);
          else w.reject(failure(`${what}: the Engine's save stream had no layer ${diffId}`));
        }
      }
      this.waiters.clear();
    } catch (error) {
      this.finished = true;
      const named = (error as { exitCode?: number }).exitCode !== undefined ? (error as Error) : failure(`${what}: reading the Engine's save stream failed (${(error as Error).message})`, error);
      this.config.reject(named);
      for (const waits of this.waiters.values()) for (const w of waits) w.reject(named);
      this.waiters.clear();
      for (const out of this.outs) out.destroy(named);
      (this.source as unknown as Readable | undefined)?.destroy?.();
      throw named;
    }
  }

  private async entry(header: TarHeader, entry: TarEntry): Promise<void> {
    const what = this.image.name;
    const name = header.name.replace(/^(\.\/)+/, '').replace(/^\/+/, '');
    if (header.type !== 'file' && header.type !== 'contiguous-file') return drain(entry);
    if (name === `${this.idHex}.json` || name === `blobs/sha256/${this.idHex}`) {
      const bytes = await readEntry(entry, 64 * 1024 * 1024, `${what} config`);
      if (sha256Of(bytes) !== this.image.id) throw failure(`${what}: the Engine's save stream has a config whose digest is ${sha256Of(bytes)}, not ${this.image.id}`);
      this.image.setConfig(bytes);
      this.config.resolve(bytes);
      return;
    }
    const legacy = /^([0-9a-f]{64})\/(json|layer\.tar)$/.exec(name);
    if (legacy && legacy[2] === 'json') {
      this.learn(legacy[1], await readEntry(entry, 16 * 1024 * 1024, `${what} ${name}`));
      return;
    }
    if (legacy) {
      const position = this.positionOf.get(legacy[1]);
      return this.layer(entry, header.size, position === undefined ? undefined : this.image.diffIds[position], legacy[1]);
    }
    const blob = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(name);
    if (blob && this.image.isLayer(`sha256:${blob[1]}`)) return this.layer(entry, header.size, `sha256:${blob[1]}`);
    return drain(entry);
  }

  /** Records a v1 folder's place from its json: no parent = bottom; a config or a creation time = top. */
  private learn(v1: string, json: Buffer): void {
    let doc: { parent?: string; config?: unknown; created?: string };
    try {
      doc = JSON.parse(json.toString('utf8'));
    } catch {
      return;
    }
    const parent = typeof doc.parent === 'string' && doc.parent ? doc.parent.replace(/^sha256:/, '') : null;
    this.parentOf.set(v1, parent);
    if (parent) this.childOf.set(parent, v1);
    const count = this.image.diffIds.length;
    const epoch = !doc.created || doc.created === EPOCH;
    if (!parent) this.positionOf.set(v1, 0);
    else if (doc.config || !epoch) this.positionOf.set(v1, count - 1);
    else this.notTop.add(v1);
    // Spread what is known along the parent links, both ways (a few dozen layers: a plain loop).
    for (let changed = true; changed; ) {
      changed = false;
      for (const [id, up] of this.parentOf) {
        const known = this.positionOf.get(id);
        if (known === undefined && up !== null && this.positionOf.get(up) !== undefined) {
          this.positionOf.set(id, this.positionOf.get(up)! + 1);
          changed = true;
        } else if (known !== undefined && up !== null && this.positionOf.get(up) === undefined && known > 0) {
          this.positionOf.set(up, known - 1);
          changed = true;
        }
      }
    }
  }

  /** A layer entry: visited, handed to the one waiting for it, spooled, or skipped. */
  /** The layers a legacy folder of unknown place may hold: the places no other folder has, less what its json rules out. */
  private candidates(v1: string): string[] {
    const count = this.image.diffIds.length;
    const claimed = new Set<number>();
    for (const [id, position] of this.positionOf) if (id !== v1) claimed.add(position);
    const out: string[] = [];
    for (let p = 0; p < count; p++) {
      if (claimed.has(p)) continue;
      if (p === 0 && this.parentOf.get(v1)) continue;
      if (p === count - 1 && !this.careful && this.notTop.has(v1)) continue;
      out.push(this.image.diffIds[p]);
    }
    return out;
  }

  private async layer(entry: TarEntry, size: number, hint: string | undefined, v1?: string): Promise<void> {
    const image = this.image;
    const what = image.name;
    this.sawLayers = true;
    if (hint) this.arrived.add(hint);
    const { createHash } = require('node:crypto') as typeof import('node:crypto');

    if (this.visitor) {
      if (hint && this.visited.has(hint)) return drain(entry);
      const { PassThrough } = require('node:stream') as typeof import('node:stream');
      const hash = createHash('sha256');
      const out = new PassThrough();
      this.outs.add(out);
      const visitor = this.visitor;
      // The visit learns which layer it read only at the end: it gets the stream now, its result is filed then.
      const visiting = Promise.resolve().then(() => visitor(out));
      const pumped = pump(entry, out, (chunk) => hash.update(chunk));
      const [outcome] = await Promise.allSettled([visiting]);
      out.resume(); // what the visit left unread
      this.outs.delete(out);
      await pumped;
      if (outcome.status === 'rejected') throw outcome.reason;
      const diffId = `sha256:${hash.digest('hex')}`;
      if (hint && diffId !== hint) throw failure(`${what}: a layer of the Engine's save stream has digest ${diffId}, expected ${hint}`);
      if (!image.isLayer(diffId)) throw failure(`${what}: the Engine's save stream has a layer ${diffId} that the image does not list`);
      this.visited.set(diffId, outcome.value);
      return;
    }

    const waits = hint ? this.waiters.get(hint) : undefined;
    if (hint && waits?.length === 1) {
      // Asked for before it arrived: straight through, no spool.
      this.waiters.delete(hint);
      const out = digestCheck(hint, `${what} layer ${hint}`) as Transform;
      this.outs.add(out);
      out.once('close', () => this.outs.delete(out));
      waits[0].resolve(out);
      image.counts.streamed++;
      return pump(entry, out);
    }
    if (hint && !waits && !image.needs(hint)) return drain(entry);
    const possible = hint ? [] : v1 ? this.candidates(v1) : [...new Set(image.diffIds)];
    if (!hint && !possible.some((d) => this.waiters.has(d) || image.needs(d))) {
      this.skippedUnknown = true;
      return drain(entry);
    }

    // Arrived before it is asked for (or not known yet): spool it, hashing it on the way.
    const { spool, out } = image.newSpool(size);
    const hash = createHash('sha256');
    const finished = new Promise<void>((resolve, reject) => {
      out.once('finish', resolve);
      out.once('error', reject);
    });
    if (hint) this.spooling.add(hint);
    try {
      try {
        await pump(entry, out, (chunk) => hash.update(chunk));
        await finished;
      } catch (error) {
        spool.retire();
        throw failure(`${what}: spooling a layer failed (${(error as Error).message})`, error);
      }
      const diffId = `sha256:${hash.digest('hex')}`;
      if ((hint && diffId !== hint) || !image.isLayer(diffId)) {
        spool.retire();
        throw failure(`${what}: a layer of the Engine's save stream has digest ${diffId}, ${hint ? `expected ${hint}` : 'which the image does not list'}`);
      }
      this.arrived.add(diffId);
      const waiting = this.waiters.get(diffId) ?? [];
      this.waiters.delete(diffId);
      image.offerSpool(diffId, spool, waiting);
    } finally {
      if (hint) this.spooling.delete(hint);
    }
  }
}

/**
 * Opens an image of the Engine (docker-daemon:REF or a bare REF): inspect now, the save stream on
 * first need.
 */
export async function openEngineImage(ref: string, options: EngineImageOptions): Promise<EngineImage> {
  const { what } = options;
  let engine = options.engine;
  if (!engine) {
    const { connectEngine } = require('@imagewright/docker') as typeof import('@imagewright/docker');
    engine = await connectEngine(options.env);
  }
  let info: { Id: string; RepoTags?: string[] | null; RootFS?: { Layers?: string[] } };
  try {
    info = (await engine.getImage(ref).inspect()) as typeof info;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) {
      throw usageError(`${what}: no such image in the Engine; allowed a local image (REF or docker-daemon:REF), docker://REF, docker-archive:FILE, oci:DIR, oci-archive:FILE`);
    }
    const { engineMessage } = require('@imagewright/docker') as typeof import('@imagewright/docker');
    throw failure(`${what}: docker image inspect failed: ${engineMessage(error)}`, error);
  }
  const diffIds = info.RootFS?.Layers ?? [];
  return new EngineSaveImage(what, info.Id, diffIds, info.RepoTags ?? [], engine, options.spoolMemoryBytes ?? 64 * 1024 * 1024, options.spoolParent);
}

