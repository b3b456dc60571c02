import { createHash } from 'node:crypto';
import { ENVIRONMENTS, failure, usageError, type Config } from '@imagewright/core';
import { PROMOTION, type Registry } from './registry';
import { checkTag, isDigest, isTag, where } from './tags';

export interface Promotion {
  from: string;
  to: string;
}

export interface PromoteResult {
  registry: string;
  repository: string;
  from: string;
  to: string;
  digest: string;
  mediaType: string;
  /** What TO pointed at before (null: it did not exist). Equal to `digest`: nothing was put. */
  previous: string | null;
}

/**
 * The original's promotion with no arguments: `<IMAGE_TAG>-<ENVIRONMENT>` to the next
 * environment's tag (dev → test → prod). Environments with no next one are a usage error.
 */
export function defaultPromotion(config: Pick<Config, 'IMAGE_TAG' | 'ENVIRONMENT'>): Promotion {
  const next = PROMOTION[config.ENVIRONMENT];
  if (!next) {
    const from = ENVIRONMENTS.filter((e) => PROMOTION[e]);
    throw usageError(
      `ENVIRONMENT=${config.ENVIRONMENT} has no next environment to promote to: allowed ${from.map((e) => `${e} (→ ${PROMOTION[e]})`).join(' or ')}, or give FROM_TAG TO_TAG`,
    );
  }
  const promotion = { from: `${config.IMAGE_TAG}-${config.ENVIRONMENT}`, to: `${config.IMAGE_TAG}-${next}` };
  // A long IMAGE_TAG can make a tag docker refuses once suffixed.
  if (!isTag(promotion.to)) {
    throw usageError(`IMAGE_TAG=${JSON.stringify(config.IMAGE_TAG)} is too long to promote (${promotion.to}): allowed at most ${128 - next.length - 1} characters`);
  }
  return promotion;
}

/** FROM (a tag or digest) and TO (a tag) as given, checked before the registry is asked anything. */
export function checkPromotion(from: string, to: string): Promotion {
  if (!isTag(from) && !isDigest(from)) checkTag(from, 'FROM_TAG');
  checkTag(to, 'TO_TAG');
  if (from === to) throw usageError(`FROM_TAG and TO_TAG are both ${from}: allowed two different tags`);
  return { from, to };
}

const sha256 = (body: Buffer) => `sha256:${createHash('sha256').update(body).digest('hex')}`;

/**
 * Puts FROM's manifest under TO without pulling: the exact bytes and media type, so the digest
 * stays (Docker v2 and OCI manifests, manifest lists and indexes alike). Nothing else moves.
 */
export async function promote(registry: Registry, repository: string, { from, to }: Promotion): Promise<PromoteResult> {
  const name = where(registry, repository);
  const source = await registry.getManifest(repository, from);
  if (!source) throw failure(`${name}: ${isDigest(from) ? `manifest ${from}` : `tag ${from}`} not found${notFoundStatus(registry)}: nothing promoted`);
  // The bytes are what gets put: they must be what the digest names.
  if (source.digest.startsWith('sha256:') && sha256(source.body) !== source.digest) {
    throw failure(`${name}: ${from}: the manifest received does not match its digest ${source.digest}: nothing promoted`);
  }
  const current = await registry.getManifest(repository, to);
  const result = { registry: registry.host, repository, from, to, digest: source.digest, mediaType: source.mediaType, previous: current?.digest ?? null };
  // Already there: putting it again is pointless, and ECR refuses it (ImageAlreadyExistsException).
  if (current?.digest === source.digest) return result;
  const put = await registry.putManifest(repository, to, { mediaType: source.mediaType, body: source.body });
  if (put !== source.digest) {
    throw failure(`${name}: ${to}: the registry stored digest ${put}, not ${source.digest} of ${from}`);
  }
  return result;
}

/** How a registry says "none": the distribution API answers 404; ECR names no HTTP status. */
export const notFoundStatus = (registry: Pick<Registry, 'kind'>): string => (registry.kind === 'distribution' ? ' (HTTP 404)' : '');
