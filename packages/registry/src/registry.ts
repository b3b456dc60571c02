/**
 * One registry, as the commands need it: the OCI distribution API (any registry) or AWS ECR
 * (through its own API, as the originals used it). Manifests travel as the exact bytes the
 * registry stores, so a manifest put under a new tag keeps its digest.
 */

/** A manifest as stored: its media type, digest and exact bytes. */
export interface ManifestDoc {
  mediaType: string;
  /** sha256:… of `body`. */
  digest: string;
  body: Buffer;
}

export interface TagDigest {
  tag: string;
  digest: string;
}

/** Basic credentials for a registry (ECR: AWS and an authorization token). Never printed. */
export interface Credentials {
  username: string;
  password: string;
}

export interface Registry {
  readonly kind: 'distribution' | 'ecr';
  /** host[:port][/path] as it prefixes image references (ECR: the proxy endpoint's host). */
  readonly host: string;
  /** The manifest of repository:reference (tag or digest); undefined when there is none. */
  getManifest(repository: string, reference: string): Promise<ManifestDoc | undefined>;
  /** Puts manifest bytes, unchanged, under `tag`; resolves to the digest the registry reports. */
  putManifest(repository: string, tag: string, manifest: { mediaType: string; body: Buffer }): Promise<string>;
  /**
   * Deletes by digest (the manifest and every tag on it) or, where the registry can, by tag
   * alone (ECR untags; the distribution API has no tag delete, so it deletes the digest).
   */
  deleteImage(repository: string, target: { digest: string } | { tag: string }): Promise<void>;
  /** Every tag with the digest it points at, through all pages. */
  listTags(repository: string): Promise<TagDigest[]>;
  /** Digests of manifests without a tag (ECR); undefined when the registry cannot enumerate them. */
  listUntagged(repository: string): Promise<string[] | undefined>;
}

/** The promotion order of environments: `latest-dev` → `latest-test` → `latest-prod`. */
export const PROMOTION: Readonly<Record<string, string | undefined>> = { dev: 'test', test: 'prod' };
