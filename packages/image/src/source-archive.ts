import { failure, usageError } from '@imagewright/core';
import type { ArchiveIndex } from './archive-index';
import { compressionOf, uncompressedLayer } from './layer-stream';
import { DOCKER_LAYER } from './media';
import { type Image, type ImageConfig, knownImage, type Layer, SHA256, sha256Of } from './model';

/** One entry of a `docker save` archive's manifest.json. */
export interface SaveManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/**
 * A repo:tag as docker shows it in RepoTags: without `docker.io/` and `library/`, `:latest`
 * added when no tag or digest is given.
 */
export function normaliseTag(ref: string): string {
  let r = ref.replace(/^(?:docker\.io|index\.docker\.io)\//, '');
  if (r.startsWith('library/') && r.indexOf('/', 'library/'.length) < 0) r = r.slice('library/'.length);
  const lastPart = r.slice(r.lastIndexOf('/') + 1);
  if (!r.includes('@') && !lastPart.includes(':')) r = `${r}:latest`;
  return r;
}

/**
 * The entry REF names among `entries` (by RepoTags, or `@N` for the N-th as skopeo does); the
 * only entry when no REF is given. Usage errors name the choices.
 */
export function chooseSaveEntry(entries: SaveManifestEntry[], ref: string | undefined, what: string): SaveManifestEntry {
  const tags = entries.flatMap((e) => e.RepoTags ?? []);
  const choices = tags.length ? `; it holds ${tags.join(', ')}` : '';
  if (!entries.length) throw usageError(`${what}: manifest.json lists no image; allowed a docker save archive`);
  if (ref === undefined) {
    if (entries.length === 1) return entries[0];
    throw usageError(`${what}: holds ${entries.length} images; name one as ${what}:REF (REF a repo:tag or @N)${choices}`);
  }
  const at = /^@(\d+)$/.exec(ref);
  if (at) {
    const entry = entries[Number(at[1])];
    if (!entry) throw usageError(`${what}:${ref}: no such image; allowed @0…@${entries.length - 1}${choices}`);
    return entry;
  }
  const wanted = normaliseTag(ref);
  const found = entries.filter((e) => (e.RepoTags ?? []).some((t) => normaliseTag(t) === wanted));
  if (found.length === 1) return found[0];
  if (!found.length) throw usageError(`${what}:${ref}: no image tagged ${wanted} in the archive; allowed a tag it holds or @N${choices || '; it holds no tags'}`);
  throw usageError(`${what}:${ref}: ${found.length} images are tagged ${wanted}; name one as @N`);
}

/** The digest a blob path names (`blobs/sha256/<hex>` or a legacy `<hex>.json`), if any. */
function digestOfPath(path: string): string | undefined {
  const blob = /^(?:\.\/)?blobs\/(sha256)\/([0-9a-f]{64})$/.exec(path);
  if (blob) return `${blob[1]}:${blob[2]}`;
  const legacy = /^(?:\.\/)?([0-9a-f]{64})\.json$/.exec(path);
  return legacy ? `sha256:${legacy[1]}` : undefined;
}

async function hashEntry(index: ArchiveIndex, path: string): Promise<string> {
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  const hash = createHash('sha256');
  for await (const chunk of index.stream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

export function parseConfig(bytes: Buffer, what: string): ImageConfig {
  let config: ImageConfig;
  try {
    config = JSON.parse(bytes.toString('utf8')) as ImageConfig;
  } catch (error) {
    throw failure(`${what}: the image config is not JSON (${(error as Error).message})`);
  }
  const diffIds = config?.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || !diffIds.every((d) => typeof d === 'string' && SHA256.test(d))) {
    throw failure(`${what}: the image config has no valid rootfs.diff_ids (sha256:… each)`);
  }
  return config;
}

/**
 * A `docker save` archive (Docker ≤24: `<id>.json`, `<v1id>/layer.tar`, symlinked repeats;
 * Docker ≥25: OCI layout blobs) read through its manifest.json, with random access into the file.
 * Takes over `index` (closes it on close()).
 */
export async function openDockerArchive(index: ArchiveIndex, ref: string | undefined, what: string): Promise<Image> {
  try {
    if (!index.has('manifest.json')) {
      const hint = index.has('index.json') ? `an OCI layout without manifest.json: use oci-archive:${index.file}` : 'not a docker save archive';
      throw usageError(`${what}: no manifest.json (${hint}); allowed a docker save archive`);
    }
    let entries: SaveManifestEntry[];
    try {
      entries = JSON.parse((await index.read('manifest.json')).toString('utf8')) as SaveManifestEntry[];
      if (!Array.isArray(entries) || !entries.every((e) => e && typeof e.Config === 'string' && Array.isArray(e.Layers))) throw new Error('not an array of {Config, Layers}');
    } catch (error) {
      throw usageError(`${what}: manifest.json is invalid (${(error as Error).message}); allowed a docker save archive`);
    }
    const entry = chooseSaveEntry(entries, ref, what);
    if (!index.has(entry.Config)) throw failure(`${what}: the config ${entry.Config} named in manifest.json is missing`);
    const configBytes = await index.read(entry.Config);
    const named = digestOfPath(entry.Config);
    if (named && sha256Of(configBytes) !== named) throw failure(`${what}: the config ${entry.Config} has digest ${sha256Of(configBytes)} (corrupt)`);
    const config = parseConfig(configBytes, what);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== entry.Layers.length) {
      throw failure(`${what}: manifest.json lists ${entry.Layers.length} layers, the config ${diffIds.length} diff_ids`);
    }
    const layers: Layer[] = [];
    for (const [i, path] of entry.Layers.entries()) {
      const stored = index.resolve(path);
      if (!stored || stored.type !== 'file') throw failure(`${what}: layer ${path} named in manifest.json is missing`);
      const diffId = diffIds[i];
      const compression = compressionOf(await index.peek(stored.name, 4));
      // An uncompressed layer's digest is its diffId; a compressed one in the legacy layout is hashed once here.
      const digest = compression === 'none' ? diffId : (digestOfPath(stored.name) ?? (await hashEntry(index, stored.name)));
      const name = `${what} layer ${i + 1}/${diffIds.length} (${path})`;
      layers.push({
        diffId,
        digest,
        mediaType: compression === 'gzip' ? DOCKER_LAYER.gzip : DOCKER_LAYER.tar,
        size: stored.size,
        open: async () => uncompressedLayer(index.stream(stored.name), diffId, name),
        openBlob: async () => index.stream(stored.name),
      });
    }
    return knownImage({ name: what, tags: [...(entry.RepoTags ?? [])], configBytes, layers, close: () => index.close() });
  } catch (error) {
    await index.close();
    throw error;
  }
}
