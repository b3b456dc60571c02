import { usageError } from '@imagewright/core';

/**
 * Where an image is, named with skopeo's transports (containers-transports(5)):
 *   docker://REF               a registry
 *   docker-daemon:REF          the Docker Engine (also: a bare REF, as every command has always taken)
 *   docker-archive:FILE[:REF]  a `docker save` archive, Docker ≤24 or ≥25 layout (REF picks one of several)
 *   oci:DIR[:REF]              an OCI image layout directory (REF = org.opencontainers.image.ref.name)
 *   oci-archive:FILE[:REF]     the same as a tar file
 */
export type ImageLocation =
  | { transport: 'engine'; ref: string }
  | { transport: 'registry'; ref: string }
  | { transport: 'docker-archive' | 'oci' | 'oci-archive'; path: string; ref?: string };

export const TRANSPORTS = ['docker://', 'docker-daemon:', 'docker-archive:', 'oci:', 'oci-archive:'] as const;

const ALLOWED = 'allowed REF (the Engine), docker-daemon:REF, docker://REF, docker-archive:FILE[:REF], oci:DIR[:REF], oci-archive:FILE[:REF]';

/** Parses an image reference; `input` names it in errors (`--image`, `IMAGE`, `-t`). */
export function parseLocation(text: string, input = 'IMAGE'): ImageLocation {
  const bad = (why: string) => usageError(`${input} ${JSON.stringify(text)}: ${why}; ${ALLOWED}`);
  if (!text || /\s/.test(text)) throw bad('empty or contains spaces');
  if (text.startsWith('docker://')) {
    const ref = text.slice('docker://'.length);
    if (!ref) throw bad('no reference after docker://');
    return { transport: 'registry', ref };
  }
  if (text.startsWith('docker-daemon:')) {
    const ref = text.slice('docker-daemon:'.length);
    if (!ref) throw bad('no reference after docker-daemon:');
    return { transport: 'engine', ref };
  }
  for (const transport of ['docker-archive', 'oci-archive', 'oci'] as const) {
    if (!text.startsWith(`${transport}:`)) continue;
    const rest = text.slice(transport.length + 1);
    // As skopeo: the path ends at the first colon; what follows names one image inside.
    const colon = rest.indexOf(':');
    const path = colon < 0 ? rest : rest.slice(0, colon);
    const ref = colon < 0 ? undefined : rest.slice(colon + 1);
    if (!path) throw bad(`no path after ${transport}:`);
    if (ref === '') throw bad(`empty reference after ${transport}:${path}:`);
    return { transport, path, ...(ref ? { ref } : {}) };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//.exec(text);
  if (scheme) throw bad(`unknown transport ${scheme[1]}://`);
  return { transport: 'engine', ref: text };
}

/** The location written back as text (for messages and --json). */
export function formatLocation(location: ImageLocation): string {
  switch (location.transport) {
    case 'engine':
      return location.ref;
    case 'registry':
      return `docker://${location.ref}`;
    default:
      return `${location.transport}:${location.path}${location.ref ? `:${location.ref}` : ''}`;
  }
}

// distribution/reference's grammar: [host[:port]/]path-component(/path-component)*[:tag].
const HOST = String.raw`(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)`;
const COMPONENT = String.raw`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`;
const TAGGED = new RegExp(String.raw`^(${HOST}?${COMPONENT}(?:/${COMPONENT})*)(?::([\w][\w.-]{0,127}))?$`);

/**
 * A reference an Engine tag can be: `repo[:tag]` with docker's grammar (lower-case path, optional
 * registry host and port), given back as repo:tag (`latest` added). Digests and IDs are refused.
 */
export function tagReference(text: string, input = '--tag'): string {
  const match = TAGGED.exec(text);
  const first = text.split('/')[0];
  // A first part without a dot or port that is not localhost is a path part: lower case only.
  const badHost = text.includes('/') && !/[.:]/.test(first) && first !== 'localhost' && first !== first.toLowerCase();
  if (!match || badHost || /^[0-9a-f]{64}$/.test(match[1])) {
    throw usageError(`${input} ${JSON.stringify(text)}: not a tag; allowed [HOST[:PORT]/]NAME[:TAG] (lower-case name, tag of letters, digits, _ . -)`);
  }
  return `${match[1]}:${match[2] ?? 'latest'}`;
}
