import type { Readable } from 'node:stream';
import { OCI_LAYER } from './media';

/**
 * The image model, after go-containerregistry's v1.Image: sources produce an `Image`,
 * transforms take one and return one, sinks write it. Layers are streams, bottom → top.
 */

/** One entry of the config's history (image-spec config.md), bottom → top. */
export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  /** ENV, CMD, LABEL…: an entry without a layer. */
  empty_layer?: boolean;
}

/** The runtime part of the config (`config` in OCI, `Config` in `docker inspect`). */
export interface RunConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  OnBuild?: string[] | null;
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  ArgsEscaped?: boolean;
  [field: string]: unknown;
}

/** The image config JSON. Unknown fields are kept as they are. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  author?: string;
  config?: RunConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: HistoryEntry[];
  [field: string]: unknown;
}

/** A content descriptor (OCI): what a manifest or index lists. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string; variant?: string };
}

export interface Layer {
  /** sha256:… of the uncompressed tar (every byte, end-of-archive blocks included). */
  readonly diffId: string;
  /** sha256:… of the blob as stored (equal to diffId when stored uncompressed). */
  readonly digest: string;
  /** The stored blob's media type (OCI or Docker v2; `+gzip` / `.tar.gzip` when compressed). */
  readonly mediaType: string;
  /** The stored blob's size in bytes; -1 when the source cannot say without reading. */
  readonly size: number;
  /** The uncompressed tar. Random access: may be called again (a merge re-reads a layer for a rare hard link). */
  open(): Promise<Readable>;
  /** The blob as stored (compressed or not), for copies that must keep the digest. */
  openBlob(): Promise<Readable>;
}

export interface Image {
  /** The reference as the user gave it, for messages. */
  readonly name: string;
  /** repo:tag names the source knows for it (RepoTags, the OCI ref name, the registry tag). */
  readonly tags: string[];
  /** The config's exact bytes: the image ID is their sha256. */
  configBytes(): Promise<Buffer>;
  config(): Promise<ImageConfig>;
  /** Bottom → top, one per diff_id. */
  layers(): Promise<Layer[]>;
  /** Releases open files, streams and spooled data. Safe to call twice. */
  close(): Promise<void>;
  /**
   * Reads every layer once, in whatever order the source delivers fastest (an Engine's save
   * stream comes in no useful order), and gives back `visit`'s results bottom → top. For
   * order-free work (analysis, inventories): no spooling. Absent: `eachLayer` opens them in order.
   */
  eachLayer?<T>(visit: (tar: Readable) => Promise<T>): Promise<T[]>;
}

/**
 * An image whose config bytes and layers are at hand: what each random-access source returns.
 * `close` releases what it holds, once however often it is called.
 */
export function knownImage(parts: { name: string; tags: string[]; configBytes: Buffer; layers: Layer[]; close?: () => Promise<void> }): Image {
  let closed: Promise<void> | undefined;
  return {
    name: parts.name,
    tags: parts.tags,
    configBytes: async () => parts.configBytes,
    config: async () => JSON.parse(parts.configBytes.toString('utf8')) as ImageConfig,
    layers: async () => parts.layers,
    close: () => (closed ??= parts.close?.() ?? Promise.resolve()),
  };
}

/** `image.eachLayer` when the source has its own, else every layer opened in order. */
export async function eachLayer<T>(image: Image, visit: (tar: Readable) => Promise<T>): Promise<T[]> {
  if (image.eachLayer) return image.eachLayer(visit);
  const results: T[] = [];
  for (const layer of await image.layers()) results.push(await visit(await layer.open()));
  return results;
}

/** A layer being written: its bytes can be read once; its diffId and size are known at the end. */
export interface LayerInProgress {
  /** The uncompressed tar, readable once. */
  readonly stream: Readable;
  /** Resolves when `stream` has ended: sha256:… and byte count of its bytes. Rejects on a merge error. */
  readonly done: Promise<{ diffId: string; size: number }>;
}

/**
 * What a transform such as squash makes: kept layers of its source, a new top layer streamed
 * once, and the config that goes with it once the new layer's diffId is known. Sinks write it
 * without a temporary archive.
 */
export interface ImageInProgress {
  readonly name: string;
  /** Kept layers of the source, bottom → top (empty for a full squash). */
  readonly base: Layer[];
  /** Where the base layers live: an Engine source already has them (a load need not send them). */
  readonly baseInEngine: boolean;
  readonly top: LayerInProgress;
  /** The new config's exact bytes for the finished top layer. */
  configFor(top: { diffId: string }): Buffer;
}

export const SHA256 = /^sha256:[0-9a-f]{64}$/;


/** Config bytes as Docker writes them (compact JSON): the image ID is their sha256. */
export function serializeConfig(config: ImageConfig): Buffer {
  return Buffer.from(JSON.stringify(config), 'utf8');
}

export function sha256Of(bytes: Buffer): string {
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * A layer whose bytes come from `open` and are known only once read (a container export, a tar
 * piped in): no diffId, digest or size yet.
 */
export function unreadLayer(open: () => Promise<Readable>): Layer {
  return { diffId: '', digest: '', mediaType: OCI_LAYER.tar, size: -1, open, openBlob: open };
}
