import { statSync } from 'node:fs';
import { usageError } from '@imagewright/core';
// The sources load only light modules up front (tar-stream, zlib, crypto, dockerode and the registry client on use).
import { ArchiveIndex } from './archive-index';
import type { Image } from './model';
import { formatLocation, type ImageLocation, parseLocation } from './reference';
import { openDockerArchive } from './source-archive';
import { openEngineImage } from './source-engine';
import { layoutArchive, layoutDirectory, openOciLayout } from './source-oci';
import { openRegistryImage } from './source-registry';

export interface OpenImageOptions {
  env?: NodeJS.ProcessEnv;
  /** Names the reference in errors (`IMAGE`, `--from`). */
  input?: string;
  /** os/arch[/variant] for indexes (OCI layouts, registries); linux/amd64 by default. */
  platform?: string;
}

/**
 * The image a location names, from any source: the Engine (bare REF, docker-daemon:REF), a
 * registry (docker://REF), a `docker save` archive (docker-archive:FILE[:REF]) or an OCI layout
 * (oci:DIR[:REF], oci-archive:FILE[:REF]). Close it when done.
 */
export async function openImage(location: ImageLocation | string, options: OpenImageOptions = {}): Promise<Image> {
  const input = options.input ?? 'IMAGE';
  const parsed = typeof location === 'string' ? parseLocation(location, input) : location;
  const what = `${input} ${JSON.stringify(formatLocation(parsed))}`;
  switch (parsed.transport) {
    case 'engine': {
      return openEngineImage(parsed.ref, { what, env: options.env });
    }
    case 'registry': {
      return openRegistryImage(parsed.ref, { what, env: options.env, platform: options.platform });
    }
    case 'docker-archive': {
      return openDockerArchive(await ArchiveIndex.open(parsed.path, `${input} docker-archive:${parsed.path}`), parsed.ref, `${input} docker-archive:${parsed.path}`);
    }
    case 'oci-archive': {
      const name = `${input} oci-archive:${parsed.path}`;
      return openOciLayout(layoutArchive(await ArchiveIndex.open(parsed.path, name)), { ref: parsed.ref, platform: options.platform, what: name });
    }
    case 'oci': {
      const name = `${input} oci:${parsed.path}`;
      const stat = statSync(parsed.path, { throwIfNoEntry: false });
      if (!stat?.isDirectory()) throw usageError(`${name}: ${stat ? 'not a directory' : 'no such directory'}; allowed an OCI image layout directory (oci-archive:FILE for a tar)`);
      return openOciLayout(layoutDirectory(parsed.path), { ref: parsed.ref, platform: options.platform, what: name });
    }
  }
}
