import type { Readable } from 'node:stream';
import { failure, usageError } from '@imagewright/core';
import type { ArchiveIndex } from './archive-index';
import { uncompressedLayer, verifiedBlob } from './layer-stream';
import { blobPath, CONTAINERD_NAME, OCI_LAYER, OCI_MEDIA, REF_NAME } from './media';
import { type Descriptor, type Image, knownImage, type Layer } from './model';
import { parseConfig } from './source-archive';


const INDEXES = new Set<string>([OCI_MEDIA.index, OCI_MEDIA.dockerList]);
const MANIFESTS = new Set<string>([OCI_MEDIA.manifest, OCI_MEDIA.dockerManifest]);

/** What an OCI image layout is read through: a directory or an archive's index. */
export interface LayoutFiles {
  has(path: string): Promise<boolean>;
  read(path: string): Promise<Buffer>;
  stream(path: string): Readable;
  close(): Promise<void>;
}

export function layoutDirectory(dir: string): LayoutFiles {
  const { join } = require('node:path') as typeof import('node:path');
  const fs = require('node:fs') as typeof import('node:fs');
  const streams = new Set<Readable>();
  return {
    has: async (path) => fs.promises.stat(join(dir, path)).then((s) => s.isFile(), () => false),
    read: (path) => fs.promises.readFile(join(dir, path)),
    stream: (path) => {
      const stream = fs.createReadStream(join(dir, path));
      streams.add(stream);
      stream.once('close', () => streams.delete(stream));
      return stream;
    },
    close: async () => {
      for (const stream of streams) stream.destroy();
    },
  };
}

export function layoutArchive(index: ArchiveIndex): LayoutFiles {
  return {
    has: async (path) => index.resolve(path)?.type === 'file',
    read: (path) => index.read(path),
    stream: (path) => index.stream(path),
    close: () => index.close(),
  };
}

/** `os/arch[/variant]`; linux/amd64 by default. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export function parsePlatform(text: string | undefined, input = '--platform'): Platform {
  if (!text) return { os: 'linux', architecture: 'amd64' };
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/i.test(p))) {
    throw usageError(`${input} ${JSON.stringify(text)}: allowed os/arch[/variant] (linux/amd64, linux/arm64/v8)`);
  }
  return { os: parts[0], architecture: parts[1], ...(parts[2] ? { variant: parts[2] } : {}) };
}

const formatPlatform = (p: Partial<Platform> | undefined) => (p ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : 'no platform');

/**
 * The child of an index for `platform`: os and architecture equal, the variant equal when one is
 * asked for (else one without a variant first). Children of unknown media types are skipped, as
 * the spec asks; a lone child without a platform is taken.
 */
export function choosePlatform(children: Descriptor[], platform: Platform, what: string): Descriptor {
  const known = children.filter((c) => !c.mediaType || INDEXES.has(c.mediaType) || MANIFESTS.has(c.mediaType));
  const matches = known.filter((c) => c.platform && c.platform.os === platform.os && c.platform.architecture === platform.architecture && (!platform.variant || c.platform.variant === platform.variant));
  const best = matches.find((c) => !c.platform?.variant) ?? matches[0];
  if (best) return best;
  if (known.length === 1 && !known[0].platform) return known[0];
  throw usageError(`${what}: no image for ${formatPlatform(platform)}; it has ${known.map((c) => formatPlatform(c.platform)).join(', ') || 'none'} (choose with --platform os/arch[/variant])`);
}

interface ManifestJson {
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

function kindOf(mediaType: string | undefined, doc: ManifestJson): 'index' | 'manifest' | undefined {
  const type = mediaType || doc.mediaType;
  if (type && INDEXES.has(type)) return 'index';
  if (type && MANIFESTS.has(type)) return 'manifest';
  if (type) return undefined;
  if (Array.isArray(doc.manifests)) return 'index';
  if (doc.config && Array.isArray(doc.layers)) return 'manifest';
  return undefined;
}


function refNames(d: Descriptor): string[] {
  return [d.annotations?.[REF_NAME], d.annotations?.[CONTAINERD_NAME]].filter((n): n is string => Boolean(n));
}

/**
 * An OCI image layout (oci:DIR, oci-archive:FILE): index.json, nested indexes, the image named
 * `ref` (org.opencontainers.image.ref.name, or `@N`), the platform's manifest, blobs by digest.
 * Takes over `files` (closes them on close()).
 */
export async function openOciLayout(files: LayoutFiles, options: { ref?: string; platform?: string; what: string }): Promise<Image> {
  const { what, ref } = options;
  try {
    const platform = parsePlatform(options.platform);
    if (!(await files.has('index.json'))) {
      const hint = (await files.has('manifest.json')) ? ': a docker save archive? use docker-archive:' : '';
      throw usageError(`${what}: no index.json${hint}; allowed an OCI image layout (oci-layout, index.json, blobs/)`);
    }
    const readJson = async (path: string, digest?: string): Promise<ManifestJson> => {
      let bytes: Buffer;
      try {
        bytes = await files.read(path);
      } catch {
        throw failure(`${what}: ${path} is missing`);
      }
      if (digest) {
        const { createHash } = require('node:crypto') as typeof import('node:crypto');
        const [algorithm] = digest.split(':');
        if (algorithm === 'sha256' || algorithm === 'sha512') {
          const actual = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
          if (actual !== digest) throw failure(`${what}: blob ${digest} has digest ${actual} (corrupt)`);
        }
      }
      try {
        return JSON.parse(bytes.toString('utf8')) as ManifestJson;
      } catch (error) {
        throw failure(`${what}: ${path} is not JSON (${(error as Error).message})`);
      }
    };
    const top = await readJson('index.json');
    if (!Array.isArray(top.manifests)) throw usageError(`${what}: index.json is not an image index; allowed an OCI image layout`);
    const names = top.manifests.flatMap((d) => d.annotations?.[REF_NAME] ?? []);
    const choices = names.length ? `; it holds ${names.join(', ')}` : '; it holds no named images';

    let chosen: Descriptor;
    if (ref === undefined) {
      if (top.manifests.length === 1) chosen = top.manifests[0];
      else if (top.manifests.some((d) => d.platform)) chosen = choosePlatform(top.manifests, platform, what);
      else throw usageError(`${what}: holds ${top.manifests.length} images; name one as ${what}:REF (REF a ref name or @N)${choices}`);
    } else if (/^@\d+$/.test(ref)) {
      const d = top.manifests[Number(ref.slice(1))];
      if (!d) throw usageError(`${what}:${ref}: no such image; allowed @0…@${top.manifests.length - 1}${choices}`);
      chosen = d;
    } else {
      const found = top.manifests.filter((d) => refNames(d).includes(ref));
      if (!found.length) throw usageError(`${what}:${ref}: no image with that ref name; allowed a ref name or @N${choices}`);
      chosen = found.length === 1 ? found[0] : choosePlatform(found, platform, `${what}:${ref}`);
    }
    const tags = refNames(chosen);

    // Follow nested indexes down to one manifest.
    let manifest: ManifestJson | undefined;
    let descriptor = chosen;
    for (let depth = 0; depth < 8 && !manifest; depth++) {
      const doc = await readJson(blobPath(descriptor.digest, what), descriptor.digest);
      const kind = kindOf(descriptor.mediaType, doc);
      if (kind === 'manifest') manifest = doc;
      else if (kind === 'index') descriptor = choosePlatform(doc.manifests ?? [], platform, what);
      else throw usageError(`${what}: ${descriptor.digest} has media type ${descriptor.mediaType ?? doc.mediaType}; allowed an image manifest or index`);
    }
    if (!manifest?.config || !Array.isArray(manifest.layers)) throw failure(`${what}: no image manifest found (indexes nested too deep, or a manifest without config/layers)`);

    const configPath = blobPath(manifest.config.digest, what);
    if (!(await files.has(configPath))) throw failure(`${what}: the config blob ${manifest.config.digest} is missing`);
    const configBytes = await files.read(configPath);
    const { createHash } = require('node:crypto') as typeof import('node:crypto');
    if (manifest.config.digest.startsWith('sha256:') && `sha256:${createHash('sha256').update(configBytes).digest('hex')}` !== manifest.config.digest) {
      throw failure(`${what}: the config blob ${manifest.config.digest} is corrupt (its digest differs)`);
    }
    const config = parseConfig(configBytes, what);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== manifest.layers.length) throw failure(`${what}: the manifest lists ${manifest.layers.length} layers, the config ${diffIds.length} diff_ids`);

    const layers: Layer[] = [];
    for (const [i, d] of manifest.layers.entries()) {
      const path = blobPath(d.digest, what);
      if (!(await files.has(path))) throw failure(`${what}: layer blob ${d.digest} is missing (a layout that refers to blobs elsewhere cannot be read)`);
      const diffId = diffIds[i];
      const name = `${what} layer ${i + 1}/${diffIds.length} (${d.digest})`;
      layers.push({
        diffId,
        digest: d.digest,
        mediaType: d.mediaType ?? OCI_LAYER.tar,
        size: typeof d.size === 'number' ? d.size : -1,
        open: async () => uncompressedLayer(files.stream(path), diffId, name),
        openBlob: async () => verifiedBlob(files.stream(path), d.digest, name),
      });
    }
    return knownImage({ name: what, tags, configBytes, layers, close: () => files.close() });
  } catch (error) {
    await files.close();
    throw error;
  }
}

