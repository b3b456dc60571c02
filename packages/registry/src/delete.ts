import { failure, usageError } from '@imagewright/core';
import { notFoundStatus } from './promote';
import type { Registry } from './registry';
import { MEDIA_TYPES } from './distribution-api';
import { mapLimit } from './limit';
import { isDigest, isTag, repositoryTags, where } from './tags';

/** A manifest that goes, with every tag that goes with it. */
export interface DeletedManifest {
  digest: string;
  tags: string[];
  /** How it is removed: by its digest, or (ECR) by untagging all its tags, which deletes it. */
  by: 'digest' | 'tags';
}

/** ECR only: a tag removed while its manifest stays under other tags. */
export interface RemovedTag {
  tag: string;
  digest: string;
  /** The manifest's tags that stay. */
  stays: string[];
}

/** --untagged: a manifest kept because a tagged index still references it. */
export interface KeptManifest {
  digest: string;
  /** The index referencing it and the index's tags. */
  index: string;
  tags: string[];
}

export interface DeletePlan {
  registry: string;
  repository: string;
  manifests: DeletedManifest[];
  tags: RemovedTag[];
  kept: KeptManifest[];
}

export interface DeleteOptions {
  /** Also every untagged manifest (registries that can list them: ECR). */
  untagged?: boolean;
  /** Remove manifests that tags not named (or tagged indexes) still point to. */
  force?: boolean;
}

/** The arguments, checked before the registry is asked anything: each a tag or a digest. */
export function checkTargets(targets: string[]): string[] {
  for (const target of targets) {
    if (!isTag(target) && !isDigest(target)) {
      throw usageError(`${JSON.stringify(target)} is neither a tag nor a digest: allowed a tag (letters, digits, _ . -) or sha256:<64 hex>`);
    }
  }
  return [...new Set(targets)];
}

const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList]);

/**
 * What deleting `targets` removes, worked out in full before anything is deleted: every target
 * must exist, and no manifest goes while a tag the user did not name still points to it (directly,
 * or through a tagged manifest list / index) unless `force`. On the distribution API a tag cannot
 * be removed alone, so naming a tag removes its manifest and every tag on it; ECR untags.
 */
export async function planDelete(registry: Registry, repository: string, targets: string[], options: DeleteOptions = {}): Promise<DeletePlan> {
  const name = where(registry, repository);
  let untagged: string[] = [];
  if (options.untagged) {
    const listed = await registry.listUntagged(repository);
    if (!listed) {
      throw usageError(`--untagged: registry ${registry.host} speaks the distribution API, which cannot list untagged manifests (ECR can): nothing deleted`);
    }
    untagged = listed;
  }
  const tagList = await repositoryTags(registry, repository);
  const digestOf = new Map(tagList.map((t) => [t.tag, t.digest]));
  const tagsOf = new Map<string, string[]>();
  for (const { tag, digest } of tagList) tagsOf.set(digest, [...(tagsOf.get(digest) ?? []), tag]);
  const untaggedSet = new Set(untagged);

  // Every target is checked before anything is deleted.
  const namedTags = new Set(targets.filter((t) => !isDigest(t)));
  const namedDigests = new Set(targets.filter(isDigest));
  const exists = async (digest: string) => tagsOf.has(digest) || untaggedSet.has(digest) || (await registry.getManifest(repository, digest)) !== undefined;
  const present = await mapLimit([...namedDigests], 8, exists);
  const unknown = [...[...namedTags].filter((t) => !digestOf.has(t)), ...[...namedDigests].filter((_, i) => !present[i])];
  if (unknown.length) throw failure(`${name}: no such tag or digest${notFoundStatus(registry)}: ${unknown.join(', ')}; nothing deleted`);

  const going = new Map<string, DeletedManifest>();
  const removedTags: RemovedTag[] = [];
  for (const digest of namedDigests) going.set(digest, { digest, tags: tagsOf.get(digest) ?? [], by: 'digest' });
  for (const tag of namedTags) {
    const digest = digestOf.get(tag)!;
    if (going.has(digest)) continue;
    const all = tagsOf.get(digest)!;
    const stays = all.filter((t) => !namedTags.has(t));
    if (registry.kind === 'ecr' && stays.length) removedTags.push({ tag, digest, stays });
    else going.set(digest, { digest, tags: all, by: registry.kind === 'ecr' ? 'tags' : 'digest' });
  }
  const fromUntagged = new Set<string>();
  for (const digest of untagged) {
    if (going.has(digest)) continue;
    going.set(digest, { digest, tags: [], by: 'digest' });
    fromUntagged.add(digest);
  }

  const refusals: string[] = [];
  if (!options.force) {
    for (const m of going.values()) {
      const unnamed = m.tags.filter((t) => !namedTags.has(t));
      if (unnamed.length) refusals.push(`${m.digest} is also tagged ${unnamed.join(', ')}`);
    }
  }

  // Manifests that tagged indexes reference: pulling those tags needs them (ECR lists them as untagged).
  const kept: KeptManifest[] = [];
  if (going.size && !options.force) {
    const removed = new Set(removedTags.map((t) => t.tag));
    const surviving = [...tagsOf.keys()].filter((d) => !going.has(d) && tagsOf.get(d)!.some((t) => !removed.has(t)));
    const manifests = await mapLimit(surviving, 8, (d) => registry.getManifest(repository, d));
    for (const [i, index] of surviving.entries()) {
      const manifest = manifests[i];
      if (!manifest || !INDEX_TYPES.has(manifest.mediaType)) continue;
      const tags = tagsOf.get(index)!.filter((t) => !removed.has(t));
      for (const child of childDigests(manifest.body)) {
        if (!going.has(child)) continue;
        if (fromUntagged.has(child)) {
          going.delete(child);
          kept.push({ digest: child, index, tags });
        } else {
          refusals.push(`${child} is part of the manifest list ${index} tagged ${tags.join(', ')}`);
        }
      }
    }
  }
  if (refusals.length) {
    throw failure(`${name}: refusing to delete: ${refusals.join('; ')}: name those tags too, or --force; nothing deleted`);
  }
  // In the order the user named them, --untagged's after; but a manifest list before the manifests
  // it lists that go with it (ECR refuses to delete a manifest a list still refers to).
  const rank = (digest: string) => {
    const i = targets.findIndex((t) => t === digest || digestOf.get(t) === digest);
    return i < 0 ? targets.length : i;
  };
  const byRank = [...going.values()].sort((a, b) => rank(a.digest) - rank(b.digest));
  const parents = await listParents(registry, repository, byRank.map((m) => m.digest));
  const manifests: DeletedManifest[] = [];
  const placed = new Set<string>();
  while (byRank.length) {
    // The first in order whose lists are placed (the first left, should lists ever form a cycle).
    const i = Math.max(0, byRank.findIndex((m) => parents.get(m.digest)!.every((p) => placed.has(p))));
    const [next] = byRank.splice(i, 1);
    manifests.push(next);
    placed.add(next.digest);
  }
  return { registry: registry.host, repository, manifests, tags: removedTags, kept };
}

/** For each of `digests`, the manifest lists among them that list it. */
async function listParents(registry: Registry, repository: string, digests: string[]): Promise<Map<string, string[]>> {
  const docs = await mapLimit(digests, 8, (d) => registry.getManifest(repository, d));
  const parents = new Map(digests.map((d) => [d, [] as string[]]));
  for (const [i, doc] of docs.entries()) {
    if (!doc || !INDEX_TYPES.has(doc.mediaType)) continue;
    for (const child of childDigests(doc.body)) if (child !== digests[i]) parents.get(child)?.push(digests[i]);
  }
  return parents;
}

function childDigests(body: Buffer): string[] {
  try {
    const index = JSON.parse(body.toString('utf8')) as { manifests?: { digest?: unknown }[] };
    return (index.manifests ?? []).map((m) => m.digest).filter((d): d is string => typeof d === 'string');
  } catch {
    return [];
  }
}

/** The plan as printed before anything is deleted: one line per manifest or tag that goes. */
export function planLines(plan: DeletePlan): string[] {
  const name = `${plan.registry}/${plan.repository}`;
  return [
    ...plan.manifests.map((m) => `delete ${name}@${m.digest}  ${m.tags.length ? `tags: ${m.tags.join(', ')}` : 'untagged'}`),
    ...plan.tags.map((t) => `untag  ${name}:${t.tag}  (${t.digest} stays, tagged ${t.stays.join(', ')})`),
  ];
}

/** Lines for manifests --untagged leaves alone. */
export function keptLines(plan: DeletePlan): string[] {
  const name = `${plan.registry}/${plan.repository}`;
  return plan.kept.map((k) => `kept   ${name}@${k.digest}: part of the manifest list ${k.index} tagged ${k.tags.join(', ')} (--force deletes it)`);
}

/** Carries the plan out in order; a failure says what was already deleted. */
export async function executeDelete(registry: Registry, plan: DeletePlan): Promise<void> {
  const done: string[] = [];
  const steps: [string, () => Promise<void>][] = [
    ...plan.manifests.map((m): [string, () => Promise<void>] => [
      m.digest,
      async () => {
        if (m.by === 'digest') return registry.deleteImage(plan.repository, { digest: m.digest });
        // ECR: removing a manifest's last tag deletes it; by tag, as the user named it.
        for (const tag of m.tags) await registry.deleteImage(plan.repository, { tag });
      },
    ]),
    ...plan.tags.map((t): [string, () => Promise<void>] => [`tag ${t.tag}`, () => registry.deleteImage(plan.repository, { tag: t.tag })]),
  ];
  for (const [what, step] of steps) {
    try {
      await step();
    } catch (error) {
      const message = (error as Error).message;
      throw failure(`${message}${done.length ? ` (already deleted: ${done.join(', ')})` : ' (nothing deleted)'}`, error);
    }
    done.push(what);
  }
}
