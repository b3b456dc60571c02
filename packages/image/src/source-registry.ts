import type { Readable } from 'node:stream';
import { failure, usageError } from '@imagewright/core';
import type { DistributionRegistry } from '@imagewright/registry';
import { readAll, uncompressedLayer } from './layer-stream';
import { type Descriptor, type Image, knownImage, type Layer } from './model';
import { parseConfig } from './source-archive';
import { OCI_MEDIA } from './media';
import { choosePlatform, parsePlatform } from './source-oci';

/** A registry reference split as docker splits it. */
export interface RegistryRef {
  /** host[:port]; docker.io when the reference names none. */
  host: string;
  /** The repository on that host (`library/x` for Docker Hub's official images). */
  repository: string;
  tag?: string;
  digest?: string;
  /** What GET manifests/… takes: the digest when given, else the tag (latest by default). */
  reference: string;
}

/** `[host/]repo[:tag][@digest]` → its parts, `what` naming it in errors. */
export function splitRegistryRef(ref: string, what = 'IMAGE'): RegistryRef {
  const bad = (why: string) => usageError(`${what} ${JSON.stringify(ref)}: ${why}; allowed docker://[HOST[:PORT]/]REPO[:TAG][@sha256:…]`);
  const at = ref.indexOf('@');
  const digest = at < 0 ? undefined : ref.slice(at + 1);
  const named = at < 0 ? ref : ref.slice(0, at);
  if (digest !== undefined && !/^sha(256:[a-f0-9]{64}|512:[a-f0-9]{128})$/.test(digest)) throw bad('invalid digest');
  const { registryOf } = require('@imagewright/docker') as typeof import('@imagewright/docker');
  const host = registryOf(named);
  let rest = host === 'docker.io' && !named.startsWith('docker.io/') ? named : named.slice(named.indexOf('/') + 1);
  const colon = rest.lastIndexOf(':');
  const tag = colon > rest.lastIndexOf('/') ? rest.slice(colon + 1) : undefined;
  if (tag !== undefined) rest = rest.slice(0, colon);
  if (tag !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(tag)) throw bad('invalid tag');
  if (!rest || !rest.split('/').every((c) => /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/.test(c))) throw bad('invalid repository name');
  const repository = host === 'docker.io' && !rest.includes('/') ? `library/${rest}` : rest;
  return { host, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}), reference: digest ?? tag ?? 'latest' };
}

/**
 * An image in a registry (docker://REF) through the distribution client: manifest (Docker v2 or
 * OCI; an index → the platform's), config, layer blobs streamed and verified. No Engine, no disk.
 */
export async function openRegistryImage(ref: string, options: { env?: NodeJS.ProcessEnv; platform?: string; what: string; client?: DistributionRegistry }): Promise<Image> {
  const { what } = options;
  const parts = splitRegistryRef(ref, what);
  const platform = parsePlatform(options.platform);
  const { distributionRegistry } = require('@imagewright/registry') as typeof import('@imagewright/registry');
  const client = options.client ?? distributionRegistry(parts.host, { env: options.env });
  const { repository } = parts;

  let doc = await client.getManifest(repository, parts.reference);
  if (!doc) throw usageError(`${what}: no such manifest in ${parts.host}/${repository}; allowed an existing tag or digest`);
  for (let depth = 0; depth < 4 && (doc.mediaType === OCI_MEDIA.index || doc.mediaType === OCI_MEDIA.dockerList); depth++) {
    const index = JSON.parse(doc.body.toString('utf8')) as { manifests?: Descriptor[] };
    const child = choosePlatform(index.manifests ?? [], platform, what);
    doc = await client.getManifest(repository, child.digest);
    if (!doc) throw failure(`${what}: the index names ${child.digest}, which the registry lacks`);
  }
  if (doc.mediaType !== OCI_MEDIA.manifest && doc.mediaType !== OCI_MEDIA.dockerManifest) {
    throw usageError(`${what}: a manifest of type ${doc.mediaType}; allowed Docker v2 schema 2 or OCI image manifests and indexes`);
  }
  const manifest = JSON.parse(doc.body.toString('utf8')) as { config?: Descriptor; layers?: Descriptor[] };
  if (!manifest.config || !Array.isArray(manifest.layers)) throw failure(`${what}: the manifest has no config or layers`);
  const configBytes = await readAll(await client.getBlob(repository, manifest.config.digest), 64 * 1024 * 1024, `${what} config`);
  const config = parseConfig(configBytes, what);
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) throw failure(`${what}: the manifest lists ${manifest.layers.length} layers, the config ${diffIds.length} diff_ids`);

  const open = new Set<Readable>();
  const track = (stream: Readable) => {
    open.add(stream);
    stream.once('close', () => open.delete(stream));
    return stream;
  };
  const layers: Layer[] = manifest.layers.map((d, i) => {
    const name = `${what} layer ${i + 1}/${diffIds.length} (${d.digest})`;
    return {
      diffId: diffIds[i],
      digest: d.digest,
      mediaType: d.mediaType,
      size: typeof d.size === 'number' ? d.size : -1,
      open: async () => track(await uncompressedLayer(await client.getBlob(repository, d.digest), diffIds[i], name)),
      openBlob: async () => track(await client.getBlob(repository, d.digest)),
    };
  });
  const hub = parts.host === 'docker.io';
  const tagged = parts.tag && (hub ? `${repository.replace(/^library\//, '')}:${parts.tag}` : `${parts.host}/${repository}:${parts.tag}`);
  return knownImage({
    name: what,
    tags: tagged ? [tagged] : [],
    configBytes,
    layers,
    close: async () => {
      for (const stream of open) stream.destroy();
    },
  });
}
