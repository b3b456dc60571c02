import { failure } from '@imagewright/core';

/** Media types, annotations and blob paths of the image formats (OCI image spec, Docker manifest v2.2), once. */

export const OCI_LAYER = {
  tar: 'application/vnd.oci.image.layer.v1.tar',
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

export const DOCKER_LAYER = {
  tar: 'application/vnd.docker.image.rootfs.diff.tar',
  gzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** Manifests and indexes, in both families. */
export const OCI_MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

/** What an OCI layout (and `docker save` ≥25) is written with. */
export const OCI_TYPES = {
  layout: '1.0.0',
  index: OCI_MEDIA.index,
  manifest: OCI_MEDIA.manifest,
  config: 'application/vnd.oci.image.config.v1+json',
  layer: OCI_LAYER.tar,
} as const;

/** What a registry push is written with (Docker schema 2, gzip layers: what every registry takes). */
export const DOCKER_TYPES = {
  manifest: OCI_MEDIA.dockerManifest,
  config: 'application/vnd.docker.container.image.v1+json',
  layer: DOCKER_LAYER.gzip,
} as const;

export const REF_NAME = 'org.opencontainers.image.ref.name';
export const CONTAINERD_NAME = 'io.containerd.image.name';

const DIGEST = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

/** `blobs/<alg>/<encoded>` of a digest; an invalid digest (read from a layout) is a failure naming `what`. */
export function blobPath(digest: string, what = 'blob'): string {
  const m = DIGEST.exec(digest ?? '');
  if (!m) throw failure(`${what}: invalid digest ${JSON.stringify(digest)}`);
  return `blobs/${m[1]}/${m[2]}`;
}
