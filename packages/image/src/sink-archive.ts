import type { FileHandle } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { failure, ImagewrightError, usageError } from '@imagewright/core';
import { type Descriptor, type Image, type ImageConfig, type ImageInProgress, type Layer, sha256Of } from './model';
import { removeOnExit, spool } from './spool';
import { blobPath, CONTAINERD_NAME, OCI_TYPES, REF_NAME } from './media';

/**
 * `docker save` archives (Docker ≥25's combined layout: an OCI image layout plus manifest.json,
 * which `docker load` of older Engines reads too, as it only follows manifest.json's paths), and
 * the tar and blob writing that the other sinks share. Layers are stored uncompressed, named by
 * their diffId. Nothing here writes a temporary copy of the whole archive: a file target is
 * patched in place, only a stream target spools what it cannot size (the new top layer).
 */



/** A sink's input: a finished image, or one whose top layer is still being made. */
export type AnyImage = Image | ImageInProgress;

export function isInProgress(image: AnyImage): image is ImageInProgress {
  return 'top' in image && typeof (image as ImageInProgress).configFor === 'function';
}

// ---- tar -------------------------------------------------------------------------------------

const BLOCK = 512;
const ZEROS = Buffer.alloc(2 * BLOCK);
/** Same length as every blob name: the top layer's header is rewritten in place once its digest is known. */
const PLACEHOLDER = `blobs/sha256/${'0'.repeat(64)}`;


const octal = (value: number, width: number) => `${value.toString(8).padStart(width - 1, '0')}\0`;

/**
 * A ustar header for a regular file or a directory. Our names are short (`blobs/sha256/<hex>`),
 * so no PAX; sizes of 8 GiB and more take GNU base-256, which Go's archive/tar (docker load,
 * skopeo) reads.
 */
export function tarHeader(name: string, size: number, type: 'file' | 'directory' = 'file'): Buffer {
  const header = Buffer.alloc(BLOCK);
  if (Buffer.byteLength(name) > 100) throw failure(`tar entry ${name}: name longer than 100 bytes`);
  header.write(name, 0, 100, 'utf8');
  header.write(octal(type === 'directory' ? 0o755 : 0o644, 8), 100);
  header.write(octal(0, 8), 108);
  header.write(octal(0, 8), 116);
  if (size < 8 ** 11) header.write(octal(size, 12), 124);
  else {
    header[124] = 0x80;
    for (let i = 135, rest = size; i > 124; i--, rest = Math.floor(rest / 256)) header[i] = rest % 256;
  }
  header.write(octal(0, 12), 136);
  header.fill(' ', 148, 156);
  header.write(type === 'directory' ? '5' : '0', 156);
  header.write('ustar\0', 257, 'latin1');
  header.write('00', 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return header;
}

const padding = (size: number) => ZEROS.subarray(0, (BLOCK - (size % BLOCK)) % BLOCK);

/** A small tar held in memory (manifests and configs only). */
export function tarOf(files: Array<{ name: string; body: Buffer }>): Buffer {
  return Buffer.concat([...files.flatMap((f) => [tarHeader(f.name, f.body.length), f.body, padding(f.body.length)]), ZEROS]);
}

/** One file to write: its name and size may be known only once its bytes are read (the top layer). */
export interface Entry {
  name: string | (() => Promise<string>);
  /** Absent: learnt by reading the bytes. */
  size?: number;
  body: Buffer | (() => Promise<Readable>);
}

/** Where entries go: a tar file, a tar stream, a folder. */
export interface EntrySink {
  /** Writes the entry; resolves to its size. */
  add(entry: Entry): Promise<number>;
  /** The size of a blob already there (a folder reused), to skip it. */
  existing?(name: string): Promise<number | undefined>;
}

const nameOf = async (entry: Entry) => (typeof entry.name === 'string' ? entry.name : entry.name());

function checkSize(name: string, expected: number | undefined, actual: number): void {
  if (expected !== undefined && expected !== actual) throw failure(`${name}: the source gave ${actual} bytes, not the ${expected} it announced`);
}

/** A tar file: entries whose size or name come at their end get their header rewritten in place. */
export class FileTar implements EntrySink {
  private position = 0;
  constructor(private readonly file: FileHandle) {}

  private async write(buffers: Buffer[]): Promise<void> {
    let rest = buffers.filter((b) => b.length);
    while (rest.length) {
      const { bytesWritten } = await this.file.writev(rest, this.position);
      this.position += bytesWritten;
      // A short write: carry on from the first byte not written.
      let skip = bytesWritten;
      while (rest.length && skip >= rest[0].length) skip -= rest.shift()!.length;
      if (skip) rest[0] = rest[0].subarray(skip);
    }
  }

  async add(entry: Entry): Promise<number> {
    const at = this.position;
    const known = typeof entry.name === 'string' ? entry.name : undefined;
    if (Buffer.isBuffer(entry.body)) {
      await this.write([tarHeader(known ?? (await nameOf(entry)), entry.body.length), entry.body, padding(entry.body.length)]);
      return entry.body.length;
    }
    const sized = known !== undefined && entry.size !== undefined;
    await this.write([tarHeader(known ?? PLACEHOLDER, entry.size ?? 0)]);
    let size = 0;
    let batch: Buffer[] = [];
    let batched = 0;
    // Large positioned writes: one per MiB rather than one per 64 KiB chunk.
    for await (const chunk of await entry.body()) {
      batch.push(chunk as Buffer);
      batched += (chunk as Buffer).length;
      if (batched >= 1 << 20) {
        await this.write(batch);
        size += batched;
        batch = [];
        batched = 0;
      }
    }
    await this.write(batch);
    size += batched;
    const name = known ?? (await nameOf(entry));
    checkSize(name, entry.size, size);
    await this.write([padding(size)]);
    if (!sized) await this.file.write(tarHeader(name, size), 0, BLOCK, at);
    return size;
  }

  async addDirectory(name: string): Promise<void> {
    await this.write([tarHeader(name, 0, 'directory')]);
  }

  /** The end-of-archive blocks. */
  async finish(): Promise<void> {
    await this.write([ZEROS]);
  }
}

/** Resolves when `out` has taken `data` (backpressure); rejects when it fails or closes first. */
function writeTo(out: Writable, data: Buffer): Promise<void> {
  if (out.destroyed || out.writableEnded) return Promise.reject(out.errored ?? failure('the output closed before the archive was written'));
  if (out.write(data)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      out.off('drain', onDrain);
      out.off('error', done);
      out.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(out.errored ?? failure('the output closed before the archive was written'));
    out.on('drain', onDrain);
    out.once('error', done);
    out.once('close', onClose);
  });
}

/** A tar stream (stdout, a request body): what has no size up front is spooled first. */
export class StreamTar implements EntrySink {
  private error: Error | undefined;
  constructor(private readonly out: Writable) {
    // Kept until a write looks at it: an unhandled 'error' would crash the process.
    out.on('error', (error) => (this.error ??= error));
  }

  private async write(data: Buffer): Promise<void> {
    if (this.error) throw this.error;
    if (data.length) await writeTo(this.out, data);
  }

  private async copy(name: string, size: number, body: Readable): Promise<void> {
    await this.write(tarHeader(name, size));
    let copied = 0;
    for await (const chunk of body) {
      copied += (chunk as Buffer).length;
      // More bytes than the header said would shift every later entry: stop at once.
      if (copied > size) break;
      await this.write(chunk as Buffer);
    }
    checkSize(name, size, copied);
    await this.write(padding(size));
  }

  async add(entry: Entry): Promise<number> {
    if (Buffer.isBuffer(entry.body)) {
      await this.write(tarHeader(await nameOf(entry), entry.body.length));
      await this.write(entry.body);
      await this.write(padding(entry.body.length));
      return entry.body.length;
    }
    if (typeof entry.name === 'string' && entry.size !== undefined) {
      await this.copy(entry.name, entry.size, await entry.body());
      return entry.size;
    }
    const spooled = await spool(await entry.body());
    try {
      const name = await nameOf(entry);
      checkSize(name, entry.size, spooled.size);
      await this.copy(name, spooled.size, spooled.open());
      return spooled.size;
    } finally {
      spooled.remove();
    }
  }

  async addDirectory(name: string): Promise<void> {
    await this.write(tarHeader(name, 0, 'directory'));
  }

  async finish(): Promise<void> {
    await this.write(ZEROS);
  }
}

// ---- the image's blobs -----------------------------------------------------------------------

/** What writeBlobs wrote: the config and every layer, uncompressed, bottom → top. */
export interface WrittenImage {
  configBytes: Buffer;
  config: Descriptor;
  /** Uncompressed layers (digest = diffId); size -1 for an omitted layer whose size is unknown. */
  layers: Descriptor[];
}

/** A layer's uncompressed bytes as an entry named by its diffId. */
function layerEntry(layer: Layer): Entry {
  const plain = layer.digest === layer.diffId && layer.size >= 0;
  return { name: blobPath(layer.diffId), size: plain ? layer.size : undefined, body: () => layer.open() };
}

/**
 * Writes an image's layers (uncompressed, `blobs/sha256/<diffId hex>`) and config blob into
 * `sink`. An image in progress has its new top layer written first, so that whatever makes it
 * streams on at once. `omitBase`: the kept layers of an image in progress are not written (the
 * Engine has them). Each blob is written once, however often it occurs.
 */
export async function writeBlobs(image: AnyImage, sink: EntrySink, options: { omitBase?: boolean } = {}): Promise<WrittenImage> {
  const sizes = new Map<string, number>();
  const put = async (entry: Entry & { name: string }): Promise<number> => {
    let size = sizes.get(entry.name) ?? (await sink.existing?.(entry.name));
    if (size === undefined) size = await sink.add(entry);
    sizes.set(entry.name, size);
    return size;
  };
  let layers: Descriptor[];
  let configBytes: Buffer;
  if (isInProgress(image)) {
    const { top } = image;
    let done: { diffId: string; size: number } | undefined;
    const topSize = await sink.add({
      name: async () => {
        done = await top.done;
        return blobPath(done.diffId);
      },
      body: async () => top.stream,
    });
    done ??= await top.done;
    checkSize(`${image.name}: the new top layer`, done.size, topSize);
    sizes.set(blobPath(done.diffId), topSize);
    layers = [];
    for (const layer of image.base) {
      const size = options.omitBase ? (layer.digest === layer.diffId ? layer.size : -1) : await put(layerEntry(layer) as Entry & { name: string });
      layers.push({ mediaType: OCI_TYPES.layer, digest: layer.diffId, size });
    }
    layers.push({ mediaType: OCI_TYPES.layer, digest: done.diffId, size: done.size });
    configBytes = image.configFor({ diffId: done.diffId });
  } else {
    layers = [];
    for (const layer of await image.layers()) {
      layers.push({ mediaType: OCI_TYPES.layer, digest: layer.diffId, size: await put(layerEntry(layer) as Entry & { name: string }) });
    }
    configBytes = await image.configBytes();
  }
  checkDiffIds(image.name, configBytes, layers.map((l) => l.digest));
  const config: Descriptor = { mediaType: OCI_TYPES.config, digest: sha256Of(configBytes), size: configBytes.length };
  await put({ name: blobPath(config.digest), body: configBytes });
  return { configBytes, config, layers };
}

/** Fails unless the config's rootfs.diff_ids are `diffIds` (what was written), in order. */
export function checkDiffIds(name: string, configBytes: Buffer, layerIds: string[]): void {
  let config: ImageConfig;
  try {
    config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
  } catch {
    throw failure(`${name}: the image config is not JSON`);
  }
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== layerIds.length || diffIds.some((d, i) => d !== layerIds[i])) {
    throw failure(`${name}: the config's diff_ids (${diffIds.length}) do not match the layers written (${layerIds.length})`);
  }
}

/** The OCI image manifest of what writeBlobs wrote. */
export function ociManifest(written: WrittenImage): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_TYPES.manifest, config: written.config, layers: written.layers }));
}

// ---- tags ------------------------------------------------------------------------------------

export interface ArchiveTag {
  /** As `docker images` shows it (RepoTags): busybox:latest, 127.0.0.1:5000/app:1. */
  familiar: string;
  /** Fully qualified (io.containerd.image.name): docker.io/library/busybox:latest. */
  full: string;
  repository: string;
  tag: string;
}

const HOST = /^(?:localhost|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|[A-Za-z0-9.-]+:\d+|\[[0-9A-Fa-f:.]+\](?::\d+)?)$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** Parses `repo[:tag]` as docker does (a missing tag is `latest`); `input` names it in errors. */
export function parseTag(text: string, input = '-t'): ArchiveTag {
  const bad = () => usageError(`${input} ${JSON.stringify(text)}: allowed [HOST[:PORT]/]NAME[:TAG] (NAME lower-case letters, digits and . _ - in /-separated parts)`);
  const slash = text.lastIndexOf('/');
  const colon = text.lastIndexOf(':');
  const [name, tag] = colon > slash ? [text.slice(0, colon), text.slice(colon + 1)] : [text, 'latest'];
  const parts = name.split('/');
  const host = parts.length > 1 && HOST.test(parts[0]) ? parts.shift()! : undefined;
  if (!TAG.test(tag) || !parts.every((p) => PATH_COMPONENT.test(p))) throw bad();
  let path = parts.join('/');
  if ((host === undefined || host === 'docker.io') && !path.includes('/')) path = `library/${path}`;
  const fullRepository = `${host ?? 'docker.io'}/${path}`;
  const repository = host && host !== 'docker.io' ? fullRepository : path.replace(/^library\//, '');
  return { familiar: `${repository}:${tag}`, full: `${fullRepository}:${tag}`, repository, tag };
}

// ---- docker save archives --------------------------------------------------------------------

export interface ArchiveOptions {
  /** RepoTags of the image: `repo[:tag]`. */
  tags: string[];
}

/** The index descriptors for `manifest`: one per tag, annotated; one plain one without tags. */
function indexOf(manifest: Descriptor, annotations: Array<Record<string, string>>): Buffer {
  const manifests = annotations.length ? annotations.map((a) => ({ ...manifest, annotations: a })) : [manifest];
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_TYPES.index, manifests }));
}

/** The Docker ≥25 combined layout into `sink`: blobs, oci-layout, index.json, manifest.json, repositories. */
export async function writeDockerArchive(image: AnyImage, sink: FileTar | StreamTar, tags: ArchiveTag[]): Promise<WrittenImage> {
  await sink.addDirectory('blobs/');
  await sink.addDirectory('blobs/sha256/');
  const written = await writeBlobs(image, sink);
  const manifest = ociManifest(written);
  const manifestDescriptor: Descriptor = { mediaType: OCI_TYPES.manifest, digest: sha256Of(manifest), size: manifest.length };
  await sink.add({ name: blobPath(manifestDescriptor.digest), body: manifest });
  await sink.add({ name: 'oci-layout', body: Buffer.from(JSON.stringify({ imageLayoutVersion: OCI_TYPES.layout })) });
  await sink.add({ name: 'index.json', body: indexOf(manifestDescriptor, tags.map((t) => ({ [CONTAINERD_NAME]: t.full, [REF_NAME]: t.tag }))) });
  await sink.add({ name: 'manifest.json', body: dockerManifest(written, tags.map((t) => t.familiar)) });
  if (tags.length) {
    // Kept for old readers only; docker load follows manifest.json.
    const top = written.layers[written.layers.length - 1]?.digest.split(':')[1] ?? '';
    const repositories: Record<string, Record<string, string>> = {};
    for (const t of tags) (repositories[t.repository] ??= {})[t.tag] = top;
    await sink.add({ name: 'repositories', body: Buffer.from(JSON.stringify(repositories)) });
  }
  await sink.finish();
  return written;
}

/** manifest.json of `docker save`: config and layer paths into blobs/. */
export function dockerManifest(written: WrittenImage, repoTags: string[]): Buffer {
  return Buffer.from(JSON.stringify([{ Config: blobPath(written.config.digest), RepoTags: repoTags, Layers: written.layers.map((l) => blobPath(l.digest)) }]));
}

/**
 * Writes to `FILE.partial` beside FILE, renamed to FILE when complete: an interrupted run (error,
 * SIGINT/SIGTERM, exit) leaves no FILE and no partial file.
 */
export async function writeTarFile<T>(file: string, image: AnyImage, write: (tar: FileTar) => Promise<T>): Promise<T> {
  const { open, rename } = require('node:fs/promises') as typeof import('node:fs/promises');
  const stat = (require('node:fs') as typeof import('node:fs')).statSync(file, { throwIfNoEntry: false });
  // Renaming FILE.partial over a device or fifo would replace it (/dev/null!) with a plain file.
  if (stat && !stat.isFile()) throw usageError(`${file}: not a regular file; allowed a new file or one to replace (or - for stdout)`);
  const partial = `${file}.partial`;
  const forget = removeOnExit(partial);
  let handle: FileHandle | undefined;
  try {
    handle = await open(partial, 'w', 0o644);
    const result = await write(new FileTar(handle));
    await handle.close();
    handle = undefined;
    await rename(partial, file);
    return result;
  } catch (error) {
    await handle?.close().catch(() => undefined);
    throw failed(image, file, error);
  } finally {
    forget();
  }
}

/** Stops whatever makes the top layer, and names the output in the error. */
function failed(image: AnyImage, target: string, error: unknown): Error {
  if (isInProgress(image) && !image.top.stream.destroyed) image.top.stream.destroy();
  if (error instanceof ImagewrightError) return error;
  return failure(`writing ${target}: ${(error as Error)?.message ?? String(error)}`);
}

/** Writes `image` to a `docker save`-compatible archive: a file, or a stream (stdout). */
export async function writeArchive(image: AnyImage, target: { file: string } | { stream: Writable }, options: ArchiveOptions): Promise<WrittenImage> {
  const tags = options.tags.map((t) => parseTag(t));
  // A failure before the top layer is read must still not leave it unhandled.
  if (isInProgress(image)) image.top.done.catch(() => undefined);
  if ('file' in target) return writeTarFile(target.file, image, (tar) => writeDockerArchive(image, tar, tags));
  return writeTarStream(target.stream, image, (tar) => writeDockerArchive(image, tar, tags));
}

/** Writes a tar to `out` and ends it (not stdout/stderr, which stay open). */
export async function writeTarStream<T>(out: Writable, image: AnyImage, write: (tar: StreamTar) => Promise<T>, what?: string): Promise<T> {
  try {
    const result = await write(new StreamTar(out));
    if (out !== process.stdout && out !== process.stderr) {
      const { finished } = require('node:stream/promises') as typeof import('node:stream/promises');
      out.end();
      await finished(out);
    }
    return result;
  } catch (error) {
    throw failed(image, what ?? (out === process.stdout ? 'standard output' : 'the output stream'), error);
  }
}
