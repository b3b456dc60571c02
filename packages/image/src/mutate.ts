import type { HistoryEntry, ImageConfig } from './model';

export interface SquashConfigOptions {
  /** Layers kept below the squashed one. */
  keep: number;
  /** The squashed layer's diffId. */
  diffId: string;
  created: Date;
  /** For the new history entry: what was squashed. */
  comment: string;
}

/**
 * The config of a squashed image (after docker-squash's _generate_image_metadata, C.4): every
 * field of the source is kept — Env, Entrypoint, Cmd, User, WorkingDir, Labels, ExposedPorts,
 * Volumes, StopSignal, OnBuild, Healthcheck and unknown ones — while rootfs and history change:
 * the kept layers' history entries (with the empty ones among them) stay, the squashed layers'
 * entries become one. Stale pointers to the build container go.
 */
export function squashConfig(source: ImageConfig, options: SquashConfigOptions): ImageConfig {
  const { keep, diffId } = options;
  const diffIds = source.rootfs?.diff_ids ?? [];
  if (keep < 0 || keep > diffIds.length) throw new RangeError(`keep ${keep} of ${diffIds.length} layers`);
  const created = options.created.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const history: HistoryEntry[] = [];
  let layers = 0;
  for (const entry of source.history ?? []) {
    if (layers >= keep) break;
    history.push(entry);
    if (!entry.empty_layer) layers++;
  }
  // A source without history for its kept layers still needs one entry per layer (C.4 invariant).
  for (; layers < keep; layers++) history.push({ created, created_by: '(history not recorded)' });
  history.push({ created, created_by: 'imagewright squash', comment: options.comment });
  const { container: _container, container_config: _containerConfig, ...rest } = source as ImageConfig & { container?: unknown; container_config?: unknown };
  const config = rest.config ? { ...rest.config } : undefined;
  if (config && 'Image' in config) config.Image = '';
  return {
    ...rest,
    ...(config ? { config } : {}),
    created,
    rootfs: { type: 'layers', diff_ids: [...diffIds.slice(0, keep), diffId] },
    history,
  };
}

/** Index of the first layer of `image` that `base` does not share (the --onto split). */
export function sharedLayers(image: string[], base: string[]): number {
  let n = 0;
  while (n < image.length && n < base.length && image[n] === base[n]) n++;
  return n;
}

export interface AppendLayerOptions {
  diffId: string;
  created: Date;
  /** The history entry: what made the layer, who, why. */
  createdBy: string;
  author?: string;
  comment?: string;
}

/**
 * The config of `source` with one more layer on top (go-containerregistry's mutate.Append): the
 * run config and every other field stay as they are, history gains one entry, `created` (and
 * `author`, as docker commit sets it) describe the new layer. Stale pointers to a build container go.
 */
export function appendLayer(source: ImageConfig, options: AppendLayerOptions): ImageConfig {
  const created = options.created.toISOString();
  const { container: _container, container_config: _containerConfig, ...rest } = source as ImageConfig & { container?: unknown; container_config?: unknown };
  const entry: HistoryEntry = { created, created_by: options.createdBy };
  if (options.author) entry.author = options.author;
  if (options.comment) entry.comment = options.comment;
  return {
    ...rest,
    created,
    ...(options.author ? { author: options.author } : {}),
    rootfs: { type: 'layers', diff_ids: [...(source.rootfs?.diff_ids ?? []), options.diffId] },
    history: [...(source.history ?? []), entry],
  };
}
