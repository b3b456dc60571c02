import type { Readable } from 'node:stream';
import type { Engine } from '@imagewright/docker';
import { usageError } from '@imagewright/core';
import { type Image, type ImageConfig, knownImage, serializeConfig, unreadLayer } from './model';

/** What the Engine puts into every container (its init layer): never part of the image. */
export const ENGINE_FILES = new Set(['.dockerenv']);

interface Inspect {
  Id: string;
  RepoTags?: string[] | null;
  Created?: string;
  Author?: string;
  Architecture?: string;
  Variant?: string;
  Os?: string;
  Config?: Record<string, unknown>;
  RootFS?: { Layers?: string[] };
  Size?: number;
}

/** `docker image inspect`; a missing image is a usage error naming it. */
export async function inspectImage(engine: Engine, ref: string): Promise<Inspect> {
  try {
    return (await engine.getImage(ref).inspect()) as unknown as Inspect;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) throw usageError(`image ${ref}: no such image in the Engine`);
    throw error;
  }
}

/**
 * An image's config as the Engine reports it (`docker image inspect` + history), for when its
 * exact bytes are not needed: a full squash writes a new history anyway. Reading the exact
 * bytes would mean a `docker save` of the whole image.
 */
export function configFromInspect(info: Inspect): ImageConfig {
  return {
    ...(info.Architecture ? { architecture: info.Architecture } : {}),
    ...(info.Variant ? { variant: info.Variant } : {}),
    os: info.Os ?? 'linux',
    ...(info.Created ? { created: info.Created } : {}),
    ...(info.Author ? { author: info.Author } : {}),
    ...(info.Config ? { config: info.Config } : {}),
    rootfs: { type: 'layers', diff_ids: info.RootFS?.Layers ?? [] },
  };
}

/**
 * An Engine image read through a container's export: the Engine merges the layers itself and
 * streams the result once, in walk order (no `docker save`, whose layers arrive in no useful
 * order). One layer, the merged filesystem, with the Engine's init-layer files in it (see
 * ENGINE_FILES). Its diffId is unknown until read: this source is only for a full squash.
 */
export async function exportedImage(engine: Engine, ref: string): Promise<Image & { inspect: Inspect }> {
  const info = await inspectImage(engine, ref);
  await removeOrphans(engine);
  const config = configFromInspect(info);
  const containers = new Set<string>();
  const removeAll = async () => {
    await Promise.all([...containers].map((id) => engine.getContainer(id).remove({ force: true }).catch(() => undefined)));
    containers.clear();
  };
  const open = async (): Promise<Readable> => {
    // Created, never started: a command is required by the API but never runs.
    const container = await engine.createContainer({ Image: info.Id, Cmd: ['/imagewright-export'], Entrypoint: [], Labels: { [EXPORT_LABEL]: owner() } });
    containers.add(container.id);
    const exported = (await container.export()) as unknown as Readable;
    // A deep buffer lets the Engine keep writing the export while the merge hashes (two cores,
    // two busy processes): without it each waits for the other at every 16 KiB.
    const { PassThrough } = require('node:stream') as typeof import('node:stream');
    const stream = new PassThrough({ highWaterMark: READ_AHEAD });
    exported.once('error', (error) => stream.destroy(error));
    stream.once('close', () => exported.destroy());
    exported.pipe(stream);
    const done = () => {
      containers.delete(container.id);
      void engine.getContainer(container.id).remove({ force: true }).catch(() => undefined);
    };
    stream.once('close', done);
    stream.once('end', done);
    stream.once('error', done);
    return stream;
  };
  const layer = unreadLayer(open);
  return { ...knownImage({ name: ref, tags: info.RepoTags ?? [], configBytes: serializeConfig(config), layers: [layer], close: removeAll }), inspect: info };
}

const EXPORT_LABEL = 'imagewright.export';
/** Bytes of the export read ahead of the merge. */
const READ_AHEAD = 8 * 1024 * 1024;
const owner = () => `${(require('node:os') as typeof import('node:os')).hostname()}:${process.pid}`;

/**
 * Export containers whose process is gone (a `kill -9` gives no chance to clean up): they are
 * only ever created, never started, so removing them loses nothing.
 */
async function removeOrphans(engine: Engine): Promise<void> {
  const host = (require('node:os') as typeof import('node:os')).hostname();
  const containers = await engine.listContainers({ all: true, filters: JSON.stringify({ label: [EXPORT_LABEL] }) });
  for (const c of containers) {
    const [where, pid] = (c.Labels?.[EXPORT_LABEL] ?? '').split(':');
    if (where !== host || !pid || alive(Number(pid))) continue;
    await engine.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
