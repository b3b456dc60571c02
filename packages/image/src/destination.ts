import type { Writable } from 'node:stream';
import type { Engine } from '@imagewright/docker';
import { failure, usageError } from '@imagewright/core';
import { type Image, type ImageInProgress, sha256Of } from './model';
import { formatLocation, type ImageLocation, parseLocation } from './reference';
import { writeArchive } from './sink-archive';
import { loadIntoEngine } from './sink-engine';
import { writeOciArchive, writeOciLayout } from './sink-oci';
import { pushToRegistry, registryFor } from './sink-registry';
import { removeOnExit } from './spool';

/**
 * Where a made image goes: the Engine (default), a registry, an archive or an OCI layout. A tag
 * moves only after the written image is verified (its diff ids are what was written), and the
 * image it pointed at before keeps a backup tag `<repo>:<backupTag>` written first.
 */

/** `output`: a docker-archive file or `-` (stdout), naming the image `tags` inside. */
export type Destination = { location: ImageLocation } | { output: string; tags?: string[] };

export interface WriteOptions {
  env?: NodeJS.ProcessEnv;
  engine: () => Promise<Engine>;
  /** `pre-squash`, `pre-patch-…`: the tag the image DEST pointed at keeps. */
  backupTag: string;
  stdout?: Writable;
}

export interface WriteResult {
  /** Where it went, as text. */
  where: string;
  /** Image ID (sha256 of the config). */
  id: string;
  diffIds: string[];
  /** Registry manifest digest. */
  digest?: string;
  /** What DEST pointed at before, now under the backup tag. */
  backup?: { ref: string; id: string };
}

function isInProgress(image: Image | ImageInProgress): image is ImageInProgress {
  return 'top' in image;
}

async function expectedIds(image: Image | ImageInProgress): Promise<{ diffIds: string[]; config: Buffer }> {
  if (isInProgress(image)) {
    const top = await image.top.done;
    return { diffIds: [...image.base.map((l) => l.diffId), top.diffId], config: image.configFor(top) };
  }
  return { diffIds: (await image.config()).rootfs.diff_ids, config: await image.configBytes() };
}

/** repo and tag of an Engine or registry reference (`host:5000/a/b:tag`, default tag latest). */
export function splitTag(ref: string): { repo: string; tag: string | undefined } {
  const at = ref.indexOf('@');
  if (at >= 0) return { repo: ref.slice(0, at), tag: undefined };
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  if (/^(sha256:)?[0-9a-f]{12,64}$/.test(ref)) return { repo: ref, tag: undefined };
  return { repo: ref, tag: 'latest' };
}

export async function writeImage(image: Image | ImageInProgress, destination: Destination, options: WriteOptions): Promise<WriteResult> {
  if ('output' in destination) {
    const target =
      destination.output === '-'
        ? { stream: options.stdout ?? process.stdout }
        : notRegular(destination.output)
          ? { stream: (require('node:fs') as typeof import('node:fs')).createWriteStream(destination.output) }
          : { file: destination.output };
    await writeArchive(image, target, { tags: destination.tags ?? (isInProgress(image) ? [] : image.tags.filter((t) => !t.includes('<none>'))) });
    const { diffIds, config } = await expectedIds(image);
    return { where: destination.output === '-' ? 'stdout' : destination.output, id: sha256Of(config), diffIds };
  }
  const location = destination.location;
  switch (location.transport) {
    case 'engine':
      return toEngine(image, location.ref, options);
    case 'registry':
      return toRegistry(image, location.ref, options);
    case 'docker-archive': {
      const fs = require('node:fs') as typeof import('node:fs');
      await writeArchive(image, notRegular(location.path) ? { stream: fs.createWriteStream(location.path) } : { file: location.path }, { tags: location.ref ? [location.ref] : [] });
      break;
    }
    case 'oci': {
      await writeOciLayout(image, location.path, { tag: location.ref });
      break;
    }
    case 'oci-archive': {
      await writeOciArchive(image, location.path, { tag: location.ref });
      break;
    }
  }
  const { diffIds, config } = await expectedIds(image);
  return { where: formatLocation(location), id: sha256Of(config), diffIds };
}

async function toEngine(image: Image | ImageInProgress, ref: string, options: WriteOptions): Promise<WriteResult> {
  const engine = await options.engine();
  // The sink has checked the loaded image: its ID is the config's sha256, its layers those written.
  const { id, diffIds } = await loadIntoEngine(engine, image, {});
  const { repo, tag } = splitTag(ref);
  if (!tag) return { where: id, id, diffIds };
  const { promoteTag } = require('@imagewright/docker') as typeof import('@imagewright/docker');
  const moved = await promoteTag(engine, id, `${repo}:${tag}`, options.backupTag);
  const backup = moved.backup && moved.previous ? { ref: moved.backup, id: moved.previous } : undefined;
  return { where: `${repo}:${tag}`, id, diffIds, backup };
}

async function toRegistry(image: Image | ImageInProgress, ref: string, options: WriteOptions): Promise<WriteResult> {
  const { repo, tag } = splitTag(ref);
  if (!tag) throw usageError(`docker://${ref}: allowed a tag to write to (host/repo:tag)`);
  const { registry, repository } = registryFor(repo, options.env);
  let backup: WriteResult['backup'];
  const previous = await registry.getManifest(repository, tag);
  if (previous) {
    // The manifest the tag points at, unchanged (same digest), under the backup tag before the tag moves.
    await registry.putManifest(repository, options.backupTag, previous);
    backup = { ref: `${repo}:${options.backupTag}`, id: previous.digest };
  }
  const pushed = await pushToRegistry(image, ref, { env: options.env });
  const expected = await expectedIds(image);
  const id = sha256Of(expected.config);
  const written = await registry.getManifest(repository, pushed.digest);
  const configDigest = written && (JSON.parse(written.body.toString('utf8')) as { config?: { digest?: string } }).config?.digest;
  if (configDigest !== id) throw failure(`docker://${ref}: the registry holds config ${configDigest ?? 'none'} for ${pushed.digest}, not ${id}`);
  return { where: `docker://${repo}:${tag}`, id, diffIds: expected.diffIds, digest: pushed.digest, backup };
}

export function parseDestination(text: string, input = '-t'): ImageLocation {
  return parseLocation(text, input);
}

/** A stream to a file (as FILE.partial, renamed at the end: an interruption leaves no FILE) or a stream. */
export async function writeStream(data: import('node:stream').Readable, target: { file: string } | { stream: Writable }): Promise<void> {
  const { pipeline } = require('node:stream/promises') as typeof import('node:stream/promises');
  if ('stream' in target) {
    // stdout stays open for whatever the caller prints next.
    await pipeline(data, target.stream, { end: false });
    return;
  }
  const fs = require('node:fs') as typeof import('node:fs');
  if (notRegular(target.file)) {
    // /dev/null, a fifo, /dev/stdout: written in place, never replaced by a renamed file.
    await pipeline(data, fs.createWriteStream(target.file));
    return;
  }
  const partial = `${target.file}.partial`;
  // Removed on error, exit and SIGINT/SIGTERM/SIGHUP (renamed away first when complete).
  const forget = removeOnExit(partial);
  try {
    await pipeline(data, fs.createWriteStream(partial, { mode: 0o644 }));
    fs.renameSync(partial, target.file);
  } finally {
    forget();
  }
}

/** An existing path that is not a regular file (a device, a fifo): written to, never renamed over. */
export function notRegular(path: string): boolean {
  const fs = require('node:fs') as typeof import('node:fs');
  const stat = fs.statSync(path, { throwIfNoEntry: false });
  return stat !== undefined && !stat.isFile();
}
