import type { Image } from './model';
import { formatLocation, type ImageLocation, parseLocation } from './reference';

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
 * (oci:DIR[:REF], oci-archive:FILE[:REF]). Close it when done. The sources load on first use.
 */
export async function openImage(location: ImageLocation | string, options: OpenImageOptions = {}): Promise<Image> {
  const input = options.input ?? 'IMAGE';
  const parsed = typeof location === 'string' ? parseLocation(location, input) : location;
  const what = `${input} ${JSON.stringify(formatLocation(parsed))}`;
  switch (parsed.transport) {
    case 'engine': {
      const { openEngineImage } = require('./source-engine') as typeof import('./source-engine');
      return openEngineImage(parsed.ref, { what, env: options.env });
    }
    case 'registry': {
      const { openRegistryImage } = require('./source-registry') as typeof import('./source-registry');
      return openRegistryImage(parsed.ref, { what, env: options.env, platform: options.platform });
    }
    case 'docker-archive': {
      const { ArchiveIndex } = require('./archive-index') as typeof import('./archive-index');
      const { openDockerArchive } = require('./source-archive') as typeof import('./source-archive');
      return openDockerArchive(await ArchiveIndex.open(parsed.path, `${input} docker-archive:${parsed.path}`), parsed.ref, `${input} docker-archive:${parsed.path}`);
    }
    case 'oci-archive': {
      const { ArchiveIndex } = require('./archive-index') as typeof import('./archive-index');
      const { layoutArchive, openOciLayout } = require('./source-oci') as typeof import('./source-oci');
      const name = `${input} oci-archive:${parsed.path}`;
      return openOciLayout(layoutArchive(await ArchiveIndex.open(parsed.path, name)), { ref: parsed.ref, platform: options.platform, what: name });
    }
    case 'oci': {
      const { layoutDirectory, openOciLayout } = require('./source-oci') as typeof import('./source-oci');
      const name = `${input} oci:${parsed.path}`;
      const { statSync } = require('node:fs') as typeof import('node:fs');
      const { usageError } = require('@imagewright/core') as typeof import('@imagewright/core');
      const stat = statSync(parsed.path, { throwIfNoEntry: false });
      if (!stat?.isDirectory()) throw usageError(`${name}: ${stat ? 'not a directory' : 'no such directory'}; allowed an OCI image layout directory (oci-archive:FILE for a tar)`);
      return openOciLayout(layoutDirectory(parsed.path), { ref: parsed.ref, platform: options.platform, what: name });
    }
  }
}
