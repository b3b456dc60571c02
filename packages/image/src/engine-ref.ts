import type { Engine } from '@imagewright/docker';
import { openImage } from './open';
import { parseLocation } from './reference';
import { loadIntoEngine } from './sink-engine';

/**
 * The image as the Engine can run it, for commands that start containers or use the Engine's own
 * image API: `REF` and `docker-daemon:REF` are the Engine's as they are; `docker://REF` becomes
 * REF, which the Engine pulls when missing, as `docker run` does; an archive or OCI layout is
 * loaded into the Engine (untagged, so no tag moves) and its image ID returned.
 */
export async function engineRef(text: string, options: { env?: NodeJS.ProcessEnv; input?: string; engine?: () => Promise<Engine> } = {}): Promise<string> {
  const location = parseLocation(text, options.input ?? 'IMAGE');
  if (location.transport === 'engine' || location.transport === 'registry') return location.ref;
  const image = await openImage(location, { env: options.env, input: options.input });
  try {
    const connect = options.engine ?? (() => (require('@imagewright/docker') as typeof import('@imagewright/docker')).connectEngine(options.env));
    return (await loadIntoEngine(await connect(), image, {})).id;
  } finally {
    await image.close();
  }
}
