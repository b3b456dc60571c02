/**
 * What the package index exports of the distribution-API client without loading it (bins load
 * the index for --help too): its types, the manifest media types, and a factory that loads the
 * client on first use.
 */
import type { DistributionOptions, DistributionRegistry as Client } from './distribution';

export type { BlobInfo, DistributionOptions, ManifestInfo } from './distribution';
export type DistributionRegistry = Client;

export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const;

/** Every manifest kind we keep: without them in Accept a registry may convert or refuse. */
export const MANIFEST_ACCEPT = Object.values(MEDIA_TYPES).join(', ');

/** A client of the registry `host[:port][/path]` (REGISTRY's form), loaded on first call. */
export function distributionRegistry(registry: string, options?: DistributionOptions): Client {
  const { DistributionRegistry } = require('./distribution') as typeof import('./distribution');
  return new DistributionRegistry(registry, options);
}
