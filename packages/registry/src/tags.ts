import { INPUTS, usageError } from '@imagewright/core';
import type { Registry, TagDigest } from './registry';

/** A tag as docker allows it (the rule of the config's IMAGE_TAG). */
export const isTag = (text: string): boolean => INPUTS.IMAGE_TAG.pattern.test(text);

/** A manifest digest as registries name them (sha256, or the OCI spec's sha512). */
export const isDigest = (text: string): boolean => /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/.test(text);

/** A repository name (the rule of IMAGE_REPO), else a usage error naming `what`. */
export function checkRepository(repository: string, what = 'REPO'): string {
  if (!INPUTS.IMAGE_REPO.pattern.test(repository)) {
    throw usageError(`${what} ${JSON.stringify(repository)} is invalid: allowed ${INPUTS.IMAGE_REPO.allowed}`);
  }
  return repository;
}

/** A tag argument, else a usage error naming it. */
export function checkTag(tag: string, what: string): string {
  if (!isTag(tag)) throw usageError(`${what} ${JSON.stringify(tag)} is invalid: allowed ${INPUTS.IMAGE_TAG.allowed}`);
  return tag;
}

/** host[/path]/repository, as it prefixes references in output. */
export const repositoryName = (registry: Pick<Registry, 'host'>, repository: string): string => `${registry.host}/${repository}`;

/** The start of an error line, as the Registry implementations write theirs: `registry HOST: REPO`, `ECR HOST: REPO`. */
export const where = (registry: Pick<Registry, 'host' | 'kind'>, repository: string): string => `${registry.kind === 'ecr' ? 'ECR' : 'registry'} ${registry.host}: ${repository}`;

/** Every tag of the repository with its digest (the registry pages), sorted by tag for stable output. */
export async function repositoryTags(registry: Registry, repository: string): Promise<TagDigest[]> {
  const tags = await registry.listTags(repository);
  return [...tags].sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
}
