import type { Readable } from 'node:stream';
import { failure, usageError } from '@imagewright/core';
import type { Descriptor } from './model';
import { sha256Of } from './model';
import { blobPath, OCI_TYPES, REF_NAME } from './media';
import { type AnyImage, type Entry, type EntrySink, type FileTar, isInProgress, ociManifest, writeBlobs, writeTarFile } from './sink-archive';
import { removeOnExit } from './spool';

/** OCI image layouts (image-spec image-layout.md): a folder (`oci:DIR`) or the same as a tar (`oci-archive:FILE`). */

export interface OciOptions {
  /** org.opencontainers.image.ref.name of the image in index.json (skopeo's `oci:DIR:REF`). */
  tag?: string;
}

export interface OciResult {
  /** The image manifest's digest. */
  digest: string;
}

function checkTag(tag: string | undefined): void {
  if (tag !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$/.test(tag)) {
    throw usageError(`tag ${JSON.stringify(tag)}: allowed letters, digits and . _ : / @ + - (starting with a letter or digit)`);
  }
}

/** A layout folder: each blob written to a hidden temp name in blobs/sha256, renamed to its digest when complete. */
class FolderSink implements EntrySink {
  constructor(private readonly dir: string) {}

  async existing(name: string): Promise<number | undefined> {
    const { stat } = require('node:fs/promises') as typeof import('node:fs/promises');
    const { join } = require('node:path') as typeof import('node:path');
    try {
      return (await stat(join(this.dir, name))).size;
    } catch {
      return undefined;
    }
  }

  async add(entry: Entry): Promise<number> {
    const { createWriteStream } = require('node:fs') as typeof import('node:fs');
    const { rename, writeFile } = require('node:fs/promises') as typeof import('node:fs/promises');
    const { join } = require('node:path') as typeof import('node:path');
    const { randomBytes } = require('node:crypto') as typeof import('node:crypto');
    const { Transform } = require('node:stream') as typeof import('node:stream');
    const { pipeline } = require('node:stream/promises') as typeof import('node:stream/promises');
    const temp = join(this.dir, 'blobs', 'sha256', `.partial-${randomBytes(8).toString('hex')}`);
    const forget = removeOnExit(temp);
    try {
      let size: number;
      if (Buffer.isBuffer(entry.body)) {
        await writeFile(temp, entry.body, { mode: 0o644 });
        size = entry.body.length;
      } else {
        size = 0;
        const count = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            size += chunk.length;
            done(null, chunk);
          },
        });
        await pipeline((await entry.body()) as Readable, count, createWriteStream(temp, { mode: 0o644 }));
      }
      const name = typeof entry.name === 'string' ? entry.name : await entry.name();
      if (entry.size !== undefined && entry.size !== size) throw failure(`${name}: the source gave ${size} bytes, not the ${entry.size} it announced`);
      await rename(temp, join(this.dir, name));
      return size;
    } finally {
      forget();
    }
  }
}

function manifestOf(written: Awaited<ReturnType<typeof writeBlobs>>): { body: Buffer; descriptor: Descriptor } {
  const body = ociManifest(written);
  return { body, descriptor: { mediaType: OCI_TYPES.manifest, digest: sha256Of(body), size: body.length } };
}

/**
 * Writes `image` into the OCI layout folder `dir` (made when missing; blobs already there are
 * kept). index.json gains the image (under `tag`, replacing what had that tag) and keeps the rest.
 */
export async function writeOciLayout(image: AnyImage, dir: string, options: OciOptions = {}): Promise<OciResult> {
  checkTag(options.tag);
  const { existsSync, mkdirSync, readFileSync } = require('node:fs') as typeof import('node:fs');
  const { join } = require('node:path') as typeof import('node:path');
  const { writeFileAtomic } = require('@imagewright/core') as typeof import('@imagewright/core');
  if (isInProgress(image)) image.top.done.catch(() => undefined);
  try {
    mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
    const layoutFile = join(dir, 'oci-layout');
    if (existsSync(layoutFile)) {
      const version = (JSON.parse(readFileSync(layoutFile, 'utf8')) as { imageLayoutVersion?: string }).imageLayoutVersion;
      if (version !== OCI_TYPES.layout) throw usageError(`oci:${dir}: imageLayoutVersion ${JSON.stringify(version)}; allowed ${OCI_TYPES.layout}`);
    }
    const sink = new FolderSink(dir);
    const written = await writeBlobs(image, sink);
    const manifest = manifestOf(written);
    if ((await sink.existing(blobPath(manifest.descriptor.digest))) === undefined) await sink.add({ name: blobPath(manifest.descriptor.digest), body: manifest.body });

    const indexFile = join(dir, 'index.json');
    let manifests: Descriptor[] = [];
    if (existsSync(indexFile)) manifests = (JSON.parse(readFileSync(indexFile, 'utf8')) as { manifests?: Descriptor[] }).manifests ?? [];
    const ours: Descriptor = options.tag ? { ...manifest.descriptor, annotations: { [REF_NAME]: options.tag } } : manifest.descriptor;
    manifests = manifests.filter((m) => (options.tag ? m.annotations?.[REF_NAME] !== options.tag : !(m.digest === ours.digest && !m.annotations?.[REF_NAME])));
    manifests.push(ours);
    if (!existsSync(layoutFile)) writeFileAtomic(layoutFile, JSON.stringify({ imageLayoutVersion: OCI_TYPES.layout }));
    writeFileAtomic(indexFile, JSON.stringify({ schemaVersion: 2, mediaType: OCI_TYPES.index, manifests }));
    return { digest: manifest.descriptor.digest };
  } catch (error) {
    if (isInProgress(image) && !image.top.stream.destroyed) image.top.stream.destroy();
    if (error instanceof SyntaxError) throw failure(`oci:${dir}: index.json or oci-layout is not JSON`);
    if ((error as { code?: string }).code) throw failure(`writing oci:${dir}: ${(error as Error).message}`);
    throw error;
  }
}

/** The OCI layout of `image` as a tar file (`oci-archive:FILE`), written as `FILE.partial` and renamed when complete. */
export async function writeOciArchive(image: AnyImage, file: string, options: OciOptions = {}): Promise<OciResult> {
  checkTag(options.tag);
  if (isInProgress(image)) image.top.done.catch(() => undefined);
  return writeTarFile(file, image, async (tar: FileTar) => {
    await tar.addDirectory('blobs/');
    await tar.addDirectory('blobs/sha256/');
    const written = await writeBlobs(image, tar);
    const manifest = manifestOf(written);
    await tar.add({ name: blobPath(manifest.descriptor.digest), body: manifest.body });
    await tar.add({ name: 'oci-layout', body: Buffer.from(JSON.stringify({ imageLayoutVersion: OCI_TYPES.layout })) });
    const descriptor = options.tag ? { ...manifest.descriptor, annotations: { [REF_NAME]: options.tag } } : manifest.descriptor;
    await tar.add({ name: 'index.json', body: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_TYPES.index, manifests: [descriptor] })) });
    await tar.finish();
    return { digest: manifest.descriptor.digest };
  });
}
