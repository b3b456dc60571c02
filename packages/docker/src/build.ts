import { existsSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Engine } from './client';
import { followProgress, ProgressRenderer } from './progress';
import { failure } from '@imagewright/core';

/**
 * The build context as a tar stream, read straight from the folder (no temp tarball), leaving
 * out what .dockerignore excludes — the Dockerfile and .dockerignore always go in, as docker does.
 */
export function packContext(dir: string, dockerfile = 'Dockerfile'): Readable {
  const ignoreFile = join(dir, '.dockerignore');
  let ignored = (_path: string) => false;
  if (existsSync(ignoreFile)) {
    const dockerignore = require('@balena/dockerignore') as typeof import('@balena/dockerignore').default;
    const patterns = readFileSync(ignoreFile, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const keep = dockerignore({ ignorecase: false }).add(patterns).createFilter();
    ignored = (path) => !keep(path);
  }
  const always = new Set([dockerfile, '.dockerignore']);
  const tarFs = require('tar-fs') as { pack(dir: string, opts: object): Readable };
  return tarFs.pack(dir, {
    ignore: (name: string) => {
      const rel = relative(dir, name).split(sep).join('/');
      return rel !== '' && !always.has(rel) && ignored(rel);
    },
    // Context files belong to root in the image unless the Dockerfile says otherwise, as with docker build.
    map: (header: { uid: number; gid: number; uname?: string; gname?: string }) => {
      header.uid = 0;
      header.gid = 0;
      header.uname = '';
      header.gname = '';
      return header;
    },
  });
}

export interface BuildOptions {
  context: string;
  dockerfile?: string;
  buildArgs?: Record<string, string>;
  labels?: Record<string, string>;
  noCache?: boolean;
  /** Where the step output goes (stderr by default: stdout carries results). */
  output?: Writable & { isTTY?: boolean };
  signal?: AbortSignal;
}

/**
 * Builds an image UNTAGGED and resolves to its ID: tags move only once the caller has verified
 * the result (see promoteTag), so a failed or interrupted build never moves one. Uses the
 * Engine's builder through the API; step output is streamed as it comes; a failing step
 * rejects with exit code 1 after its output was shown.
 */
export async function buildImage(engine: Engine, options: BuildOptions): Promise<string> {
  const dockerfile = options.dockerfile ?? 'Dockerfile';
  if (!existsSync(join(options.context, dockerfile))) {
    throw failure(`${join(options.context, dockerfile)}: no such Dockerfile`);
  }
  const output = options.output ?? process.stderr;
  const stream = await engine.buildImage(packContext(options.context, dockerfile) as unknown as NodeJS.ReadableStream, {
    dockerfile,
    buildargs: options.buildArgs ?? {},
    labels: options.labels ?? {},
    nocache: Boolean(options.noCache),
    rm: true,
    forcerm: true,
    abortSignal: options.signal,
  } as object);
  const { imageId } = await followProgress(stream as unknown as Readable, new ProgressRenderer(output, Boolean(output.isTTY)));
  if (!imageId) throw failure(`build of ${options.context} finished without an image ID`);
  return imageId;
}

/** `repo:tag` → [repo, tag] (a registry port is not a tag). */
export function splitRef(ref: string): [string, string] {
  const at = ref.lastIndexOf(':');
  if (at > ref.lastIndexOf('/') && at >= 0) return [ref.slice(0, at), ref.slice(at + 1)];
  return [ref, 'latest'];
}

export async function imageIdOf(engine: Engine, ref: string): Promise<string | undefined> {
  try {
    return (await engine.getImage(ref).inspect()).Id;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
}

export interface Promotion {
  ref: string;
  id: string;
  /** The image the tag pointed at before, now also tagged `backup`. */
  previous?: string;
  backup?: string;
}

/**
 * Tags `id` as the backup of what `ref` pointed at: `<repo>:<tag>-previous`, or `<repo>:<backupTag>`
 * when given (squash's `pre-squash`); returns that ref.
 */
export async function keepBackup(engine: Engine, id: string, ref: string, backupTag?: string): Promise<string> {
  const [repo, tag] = splitRef(ref);
  const backup = backupTag ?? `${tag}-previous`;
  await engine.getImage(id).tag({ repo, tag: backup });
  return `${repo}:${backup}`;
}

/**
 * Points `ref` at a verified image. The image it pointed at before keeps a backup tag
 * (`<tag>-previous`, or `backupTag`), written first, so an interruption leaves both reachable.
 */
export async function promoteTag(engine: Engine, id: string, ref: string, backupTag?: string): Promise<Promotion> {
  const previous = await imageIdOf(engine, ref);
  if (previous === id) return { ref, id };
  const backup = previous ? await keepBackup(engine, previous, ref, backupTag) : undefined;
  const [repo, tag] = splitRef(ref);
  await engine.getImage(id).tag({ repo, tag });
  return { ref, id, previous, backup };
}
