import type { Readable } from 'node:stream';
import { failure, ImagewrightError, usageError } from '@imagewright/core';
import type { DistributionRegistry } from '@imagewright/registry';
import { type Descriptor, type Layer, sha256Of } from './model';
import { type AnyImage, checkDiffIds, isInProgress } from './sink-archive';
import { DOCKER_LAYER, DOCKER_TYPES, OCI_LAYER } from './media';

/**
 * A registry as a sink (Docker v2 schema 2 manifest, gzip layers). Kept layers are skipped when
 * the repository has them, mounted from the source repository on the same registry, else copied
 * as stored; the new top layer is gzipped while it streams to the registry. Nothing touches the
 * local disk.
 */


const GZIP_LAYERS = new Set<string>([DOCKER_LAYER.gzip, OCI_LAYER.gzip]);

export interface PushOptions {
  env?: NodeJS.ProcessEnv;
  /** Where the image's layers came from: blobs are mounted from there when it is the same registry. */
  sourceRegistry?: { host: string; repository: string };
  /** A client to use (credentials of its own); default: one for the reference's host. */
  registry?: DistributionRegistry;
}

/** `host[:port]/repo` → the registry client and the repository; the host is required. */
export function registryFor(repo: string, env?: NodeJS.ProcessEnv): { registry: DistributionRegistry; repository: string; host: string } {
  const slash = repo.indexOf('/');
  const host = slash < 0 ? '' : repo.slice(0, slash);
  if (!host || !(host.includes('.') || host.includes(':') || host === 'localhost')) {
    throw usageError(`docker://${repo}: allowed HOST[:PORT]/REPOSITORY[:TAG] (the registry host first)`);
  }
  const { distributionRegistry } = require('@imagewright/registry') as typeof import('@imagewright/registry');
  return { registry: distributionRegistry(host, { env }), repository: repo.slice(slash + 1), host };
}

/** `host/repo:tag` → its parts; a digest cannot be pushed to. */
function parsePushRef(ref: string): { repo: string; tag: string } {
  if (ref.includes('@')) throw usageError(`docker://${ref}: allowed HOST/REPOSITORY:TAG (a tag to write to, not a digest)`);
  const colon = ref.lastIndexOf(':');
  return colon > ref.lastIndexOf('/') ? { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) } : { repo: ref, tag: 'latest' };
}

function gzipped(source: Readable): Readable {
  const { createGzip } = require('node:zlib') as typeof import('node:zlib');
  const { pipeline } = require('node:stream') as typeof import('node:stream');
  // An error on either side ends the gzip stream with it, and so the upload.
  return pipeline(source, createGzip({ level: 6 }), () => undefined);
}

/** Pushes `image` to `ref` (host/repo:tag); resolves to the manifest's digest. */
export async function pushToRegistry(image: AnyImage, ref: string, options: PushOptions = {}): Promise<{ digest: string }> {
  const { repo, tag } = parsePushRef(ref);
  const target = registryFor(repo, options.env);
  const registry = options.registry ?? target.registry;
  const { repository } = target;
  const source = options.sourceRegistry;
  const mountFrom = source && source.host === target.host && source.repository !== repository ? source.repository : undefined;

  const pushLayer = async (layer: Layer): Promise<Descriptor> => {
    if (GZIP_LAYERS.has(layer.mediaType)) {
      const known = await registry.headBlob(repository, layer.digest);
      if (known) return { mediaType: DOCKER_TYPES.layer, digest: layer.digest, size: layer.size >= 0 ? layer.size : known.size };
      if (mountFrom && (await registry.mountBlob(repository, layer.digest, mountFrom))) {
        const size = layer.size >= 0 ? layer.size : ((await registry.headBlob(repository, layer.digest))?.size ?? -1);
        return { mediaType: DOCKER_TYPES.layer, digest: layer.digest, size };
      }
      if (layer.size >= 0) {
        await registry.uploadBlob(repository, layer.digest, await layer.openBlob(), layer.size);
        return { mediaType: DOCKER_TYPES.layer, digest: layer.digest, size: layer.size };
      }
      const sent = await registry.uploadBlobStream(repository, await layer.openBlob());
      if (sent.digest !== layer.digest) throw failure(`${image.name}: layer ${layer.diffId}: the stored blob's digest is ${sent.digest}, not ${layer.digest}`);
      return { mediaType: DOCKER_TYPES.layer, ...sent };
    }
    // Uncompressed (an Engine or an archive source) or compressed otherwise: gzip on the way.
    const sent = await registry.uploadBlobStream(repository, gzipped(await layer.open()));
    return { mediaType: DOCKER_TYPES.layer, ...sent };
  };

  if (isInProgress(image)) image.top.done.catch(() => undefined);
  try {
    let layers: Descriptor[];
    let diffIds: string[];
    let configBytes: Buffer;
    if (isInProgress(image)) {
      // The top layer streams from the start, so whatever makes it never waits on the kept layers.
      const top = registry.uploadBlobStream(repository, gzipped(image.top.stream));
      top.catch(() => undefined);
      const base: Descriptor[] = [];
      for (const layer of image.base) base.push(await pushLayer(layer));
      const sent = await top;
      const done = await image.top.done;
      layers = [...base, { mediaType: DOCKER_TYPES.layer, ...sent }];
      diffIds = [...image.base.map((l) => l.diffId), done.diffId];
      configBytes = image.configFor({ diffId: done.diffId });
    } else {
      const all = await image.layers();
      layers = [];
      for (const layer of all) layers.push(await pushLayer(layer));
      diffIds = all.map((l) => l.diffId);
      configBytes = await image.configBytes();
    }
    checkDiffIds(image.name, configBytes, diffIds);
    const config: Descriptor = { mediaType: DOCKER_TYPES.config, digest: sha256Of(configBytes), size: configBytes.length };
    await registry.uploadBlob(repository, config.digest, configBytes, configBytes.length);
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_TYPES.manifest, config, layers }));
    return { digest: await registry.putManifest(repository, tag, { mediaType: DOCKER_TYPES.manifest, body: manifest }) };
  } catch (error) {
    if (isInProgress(image) && !image.top.stream.destroyed) image.top.stream.destroy();
    if (error instanceof ImagewrightError) throw error;
    throw failure(`pushing ${image.name} to docker://${ref}: ${(error as Error)?.message ?? String(error)}`);
  }
}
