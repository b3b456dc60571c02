import type { Readable, Transform } from 'node:stream';
import { failure, ImagewrightError } from '@imagewright/core';
import type { Engine } from '@imagewright/docker';
import { type ImageInProgress, sha256Of } from './model';
import { blobPath, OCI_TYPES } from './media';
import { type AnyImage, checkDiffIds, dockerManifest, isInProgress, type StreamTar, tarOf, writeBlobs, writeTarStream } from './sink-archive';

/**
 * The Engine as a sink. The image is loaded UNTAGGED: callers tag it once they have checked it,
 * so a failed or wrong load never moves a tag.
 *
 * - A full squash (an image in progress on an empty base) streams its layer into the Engine's
 *   import, which applies the layer while it arrives (`docker load` first stores its whole input
 *   on the Engine's disk), then gives the image its exact config with a metadata-only load: a
 *   manifest.json and config whose layer path is not in the tar — the Engine skips reading a layer
 *   whose ChainID it has, so the image gets our config bytes (its ID is their sha256).
 * - Anything else is a `docker load` of a tar stream; kept layers the Engine has are left out.
 */

export interface LoadOptions {
  /** Told the bytes sent to the Engine so far. */
  onProgress?: (sentBytes: number) => void;
}

export interface Loaded {
  /** sha256:… of the config: the new image's ID. */
  id: string;
  /** The loaded image's layers as the Engine reports them (RootFS.Layers), bottom → top. */
  diffIds: string[];
}

const LOADED_ID = /Loaded image ID: (sha256:[0-9a-f]{64})/;

function counter(onProgress: ((sent: number) => void) | undefined): Transform {
  const { Transform } = require('node:stream') as typeof import('node:stream');
  let sent = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sent += chunk.length;
      onProgress?.(sent);
      done(null, chunk);
    },
  });
}

function engineFailure(what: string, error: unknown): Error {
  if (error instanceof ImagewrightError) return error;
  const { engineMessage } = require('@imagewright/docker') as typeof import('@imagewright/docker');
  return failure(`${what}: ${engineMessage(error)}`);
}

/** Reads a load answer; the loaded image's ID as the Engine says it. */
async function loadedId(answer: Readable, what: string): Promise<string | undefined> {
  const { followProgress } = require('@imagewright/docker') as typeof import('@imagewright/docker');
  const { messages } = await followProgress(answer).catch((error) => {
    throw engineFailure(what, error);
  });
  for (const message of messages) {
    const match = LOADED_ID.exec(message.stream ?? '');
    if (match) return match[1];
  }
  return undefined;
}

/** The image `id` must exist and have exactly `diffIds`. */
async function verify(engine: Engine, name: string, id: string, reported: string | undefined, diffIds: string[]): Promise<Loaded> {
  if (reported && reported !== id) throw failure(`${name}: the Engine loaded image ${reported}, not ${id} (the config's digest)`);
  let layers: string[];
  try {
    layers = (await engine.getImage(id).inspect()).RootFS?.Layers ?? [];
  } catch (error) {
    throw engineFailure(`${name}: inspecting the loaded image ${id}`, error);
  }
  if (layers.length !== diffIds.length || layers.some((l, i) => l !== diffIds[i])) {
    throw failure(`${name}: the loaded image ${id} has layers ${layers.join(', ')}; expected ${diffIds.join(', ')}`);
  }
  return { id, diffIds: layers };
}

/** Loads `image` into the Engine, untagged; resolves to its ID and layers, checked. */
export async function loadIntoEngine(engine: Engine, image: AnyImage, options: LoadOptions = {}): Promise<Loaded> {
  if (isInProgress(image)) image.top.done.catch(() => undefined);
  if (isInProgress(image) && image.base.length === 0) return importSquashed(engine, image, options);
  return loadArchive(engine, image, options);
}

async function importSquashed(engine: Engine, image: ImageInProgress, options: LoadOptions): Promise<Loaded> {
  const { pipeline } = require('node:stream') as typeof import('node:stream');
  const body = pipeline(image.top.stream, counter(options.onProgress), () => undefined);
  let importId: string | undefined;
  let loaded: string | undefined;
  try {
    let answer: Readable;
    try {
      answer = (await engine.importImage(body as unknown as NodeJS.ReadableStream)) as unknown as Readable;
    } catch (error) {
      throw engineFailure(`${image.name}: import into the Engine`, error);
    }
    const { followProgress } = require('@imagewright/docker') as typeof import('@imagewright/docker');
    importId = (
      await followProgress(answer).catch((error) => {
        throw engineFailure(`${image.name}: import into the Engine`, error);
      })
    ).imageId;
    // A merge error ends the stream early: the Engine may have imported a truncated layer.
    const done = await image.top.done;
    const configBytes = image.configFor({ diffId: done.diffId });
    checkDiffIds(image.name, configBytes, [done.diffId]);
    loaded = sha256Of(configBytes);
    return await loadConfig(engine, configBytes, image.name);
  } catch (error) {
    if (!image.top.stream.destroyed) image.top.stream.destroy();
    throw error;
  } finally {
    // The layer stays: the loaded image holds it.
    if (importId && importId !== loaded) await removeIntermediate(engine, importId);
  }
}

/**
 * Gives the Engine an image whose layers it already has, with these exact config bytes (its ID is
 * their sha256): a metadata-only `docker load` — manifest.json names layer files that are not in
 * the tar, and the Engine skips reading a layer whose ChainID it has. Untagged; checked.
 */
export async function loadConfig(engine: Engine, configBytes: Buffer, name: string): Promise<Loaded> {
  const id = sha256Of(configBytes);
  const diffIds = (JSON.parse(configBytes.toString('utf8')) as { rootfs?: { diff_ids?: string[] } }).rootfs?.diff_ids ?? [];
  const written = {
    configBytes,
    config: { mediaType: OCI_TYPES.config, digest: id, size: configBytes.length },
    layers: diffIds.map((diffId) => ({ mediaType: OCI_TYPES.layer, digest: diffId, size: 0 })),
  };
  const metadata = tarOf([
    { name: 'manifest.json', body: dockerManifest(written, []) },
    { name: blobPath(id), body: configBytes },
  ]);
  let reported: string | undefined;
  try {
    reported = await loadedId((await engine.loadImage(metadata as unknown as NodeJS.ReadableStream)) as unknown as Readable, `${name}: load into the Engine`);
  } catch (error) {
    throw engineFailure(`${name}: load into the Engine (does it have layers ${diffIds.join(', ')}?)`, error);
  }
  return verify(engine, name, id, reported, diffIds);
}

async function removeIntermediate(engine: Engine, importId: string): Promise<void> {
  try {
    // Never one someone tagged meanwhile.
    if (((await engine.getImage(importId).inspect()).RepoTags ?? []).length === 0) await engine.getImage(importId).remove();
  } catch {
    /* gone already, or in use: nothing of ours to clean */
  }
}

async function loadArchive(engine: Engine, image: AnyImage, options: LoadOptions): Promise<Loaded> {
  const what = `${image.name}: load into the Engine`;
  const body = counter(options.onProgress);
  let refused: unknown;
  const answer = (engine.loadImage(body as unknown as NodeJS.ReadableStream) as unknown as Promise<Readable>).catch((error: unknown) => {
    refused ??= error;
    // Stops the writer, which would wait for the Engine to read on.
    body.destroy(error as Error);
    throw engineFailure(what, error);
  });
  answer.catch(() => undefined);
  let written: Awaited<ReturnType<typeof writeBlobs>>;
  try {
    written = await writeTarStream(body, image, async (tar: StreamTar) => {
      const blobs = await writeBlobs(image, tar, { omitBase: isInProgress(image) && image.baseInEngine });
      await tar.add({ name: 'manifest.json', body: dockerManifest(blobs, []) });
      await tar.finish();
      return blobs;
    }, `${image.name} into the Engine`);
  } catch (error) {
    // The Engine's own complaint explains more than the broken pipe it leaves.
    await new Promise((r) => setImmediate(r));
    if (refused) throw engineFailure(what, refused);
    // Aborts the request: a body that just stops would leave the Engine waiting.
    body.destroy(error as Error);
    throw error;
  }
  const reported = await loadedId(await answer, what);
  return verify(
    engine,
    image.name,
    sha256Of(written.configBytes),
    reported,
    written.layers.map((l) => l.digest),
  );
}
