import type { Readable } from 'node:stream';
import type { Engine } from '@imagewright/docker';
import { failure, usageError } from '@imagewright/core';
import { mergeLayers, type MergeStats } from './merge';
import { type Image, type ImageConfig, type ImageInProgress, serializeConfig, unreadLayer } from './model';
import { squashConfig, sharedLayers } from './mutate';
import { openImage } from './open';
import { formatLocation, type ImageLocation, parseLocation } from './reference';
import { configFromInspect, ENGINE_FILES, exportedImage, inspectImage } from './source-export';

/**
 * Squash as one streaming pass: a source (any transport), the merge of its upper layers into one
 * (whiteouts honoured, duplicates hard-linked), and a sink. The parts are the image model's;
 * this file only chooses them.
 */

export interface SquashRequest {
  source: string;
  /** Keep the bottom N layers (--keep-base). */
  keepBase?: number;
  /** Keep the layers shared with this image (--onto). */
  onto?: string;
  /** true: every path; a list: only these paths; false: none. */
  crosslink: boolean | string[];
  env?: NodeJS.ProcessEnv;
  /** Bytes of layer data read so far, of `total` when known. */
  onProgress?: (read: number, total: number) => void;
  engine?: () => Promise<Engine>;
}

export interface SquashPlan {
  location: ImageLocation;
  image: Image;
  /** How many bottom layers stay. */
  keep: number;
  layers: number;
  /** The Engine merged the layers through a container export. */
  viaExport: boolean;
  /** Bytes to read (for progress), 0 when unknown. */
  total: number;
}

/** A made image whose new layer is being merged; `stats` resolve when it has been read. */
export interface Merged extends ImageInProgress {
  stats: Promise<MergeStats>;
}

export interface SquashResult extends Merged {
  plan: SquashPlan;
}

/** The one Engine connection of a request: the caller's, else made on first use. */
function connector(request: Pick<SquashRequest, 'env' | 'engine'>): () => Promise<Engine> {
  return memo(request.engine ?? (() => (require('@imagewright/docker') as typeof import('@imagewright/docker')).connectEngine(request.env)));
}

/** Layer diff ids of an image reference: an Engine image's from inspect (no save), others' from their config. */
async function diffIdsOf(location: ImageLocation, input: string, request: SquashRequest, engine: () => Promise<Engine>): Promise<string[]> {
  if (location.transport === 'engine') return (await inspectImage(await engine(), location.ref)).RootFS?.Layers ?? [];
  const image = await openImage(location, { env: request.env, input });
  try {
    return (await image.config()).rootfs.diff_ids;
  } finally {
    await image.close();
  }
}

export async function planSquash(request: SquashRequest): Promise<SquashPlan> {
  const location = parseLocation(request.source, 'IMAGE');
  const engine = connector(request);
  // An Engine image is inspected (cheap) before choosing how to read it; any other is opened once.
  const opened = location.transport === 'engine' ? undefined : await openImage(location, { env: request.env });
  try {
    const diffIds = opened ? (await opened.config()).rootfs.diff_ids : await diffIdsOf(location, 'IMAGE', request, engine);
    let keep = 0;
    if (request.keepBase !== undefined) {
      keep = request.keepBase;
      if (keep >= diffIds.length) throw usageError(`--keep-base ${keep}: ${request.source} has ${diffIds.length} layer${diffIds.length === 1 ? '' : 's'}; allowed 0 to ${diffIds.length - 1}`);
    } else if (request.onto !== undefined) {
      keep = sharedLayers(diffIds, await diffIdsOf(parseLocation(request.onto, '--onto'), '--onto', request, engine));
      if (keep >= diffIds.length) throw usageError(`--onto ${request.onto}: ${request.source} has no layer of its own above it; nothing to squash`);
      if (keep === 0) throw usageError(`--onto ${request.onto}: shares no layer with ${request.source}; allowed a base image the image was built on`);
    }
    const env = request.env ?? process.env;
    if (location.transport === 'engine' && keep === 0 && env.IMAGEWRIGHT_SQUASH_VIA !== 'layers') {
      // The Engine merges its own layers in a container export: one read, in order, and no spool
      // (`docker save` streams layers in no useful order). bench/squash measures both
      // (IMAGEWRIGHT_SQUASH_VIA=layers reads the saved layers instead).
      const image = await exportedImage(await engine(), location.ref);
      return { location, image, keep, layers: diffIds.length, viaExport: true, total: image.inspect.Size ?? 0 };
    }
    const image = opened ?? (await openImage(location, { env: request.env }));
    const layers = await image.layers();
    const total = layers.slice(keep).reduce((sum, l) => sum + Math.max(0, l.size), 0);
    return { location, image, keep, layers: layers.length, viaExport: false, total };
  } catch (error) {
    await opened?.close();
    throw error;
  }
}

/** The squashed image, in progress: read it once through a sink. */
export async function squash(plan: SquashPlan, request: Pick<SquashRequest, 'crosslink' | 'onProgress'>): Promise<SquashResult> {
  const config = await plan.image.config();
  const layers = await plan.image.layers();
  const merged = mergeLayers(layers, {
    keep: plan.keep,
    crosslink: request.crosslink,
    ...(plan.viaExport ? { drop: (name: string) => ENGINE_FILES.has(name) } : {}),
    onProgress: request.onProgress && ((read: number) => request.onProgress!(read, plan.total)),
  });
  const squashed = plan.layers - plan.keep;
  const comment = `squashed ${squashed} layer${squashed === 1 ? '' : 's'} of ${formatLocation(plan.location)}${request.crosslink === false ? '' : ', duplicates hard-linked'}`;
  const created = new Date();
  return {
    name: plan.image.name,
    base: layers.slice(0, plan.keep),
    baseInEngine: plan.location.transport === 'engine',
    top: { stream: merged.stream, done: merged.done },
    stats: merged.stats,
    plan,
    configFor: ({ diffId }) => serializeConfig(squashConfig(config, { keep: plan.keep, diffId, created, comment })),
  };
}

function memo<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => (value ??= make());
}

/** The source's config, cheaply for the Engine (inspect: no save of the whole image). */
export async function configOf(text: string, input: string, request: Pick<SquashRequest, 'env' | 'engine'>): Promise<ImageConfig> {
  const location = parseLocation(text, input);
  if (location.transport === 'engine') {
    return configFromInspect(await inspectImage(await connector(request)(), location.ref));
  }
  const image = await openImage(location, { env: request.env, input });
  try {
    return await image.config();
  } finally {
    await image.close();
  }
}

/**
 * A filesystem tar stream (squash-export's, docker export's) as a one-layer image with all of
 * `from`'s metadata. It goes through the merge too: names normalised, escapes refused.
 */
export function importFilesystem(tar: Readable, from: ImageConfig, options: { name: string; crosslink?: boolean | string[] }): Merged {
  let opened = false;
  const layer = unreadLayer(async () => {
    if (opened) throw failure(`${options.name}: a stream can be read once`);
    opened = true;
    return tar;
  });
  const merged = mergeLayers([layer], { keep: 0, crosslink: options.crosslink ?? false });
  const created = new Date();
  return {
    name: options.name,
    base: [],
    baseInEngine: false,
    top: { stream: merged.stream, done: merged.done },
    stats: merged.stats,
    configFor: ({ diffId }) => serializeConfig(squashConfig(from, { keep: 0, diffId, created, comment: `imported from ${options.name}` })),
  };
}

/**
 * SIGINT/SIGTERM while an image is read: close it (an export container, a spool) and exit 130/143.
 * Tags move only at the very end, after verification, so an interrupted run leaves them as they
 * were. Returns the function that takes the handlers off again.
 */
export function closeOnSignals(image: Image): () => void {
  const stop = (signal: NodeJS.Signals) => {
    void image
      .close()
      .catch(() => undefined)
      .finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  };
}
