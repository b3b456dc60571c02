import { Readable } from 'node:stream';
import { type Image, type ImageConfig, type Layer, serializeConfig, sha256Of } from './model';

export const LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';

/** A layer held in memory (uncompressed): for tests and for small layers made on the fly. */
export function memoryLayer(tar: Buffer): Layer {
  const digest = sha256Of(tar);
  return {
    diffId: digest,
    digest,
    mediaType: LAYER_TAR,
    size: tar.length,
    open: async () => Readable.from([tar]),
    openBlob: async () => Readable.from([tar]),
  };
}

/** An image held in memory. `config.rootfs` is filled from the layers. */
export function memoryImage(layers: Buffer[], config: Partial<ImageConfig> = {}, name = 'memory'): Image {
  const made = layers.map(memoryLayer);
  const full: ImageConfig = {
    architecture: 'amd64',
    os: 'linux',
    ...config,
    rootfs: { type: 'layers', diff_ids: made.map((l) => l.diffId) },
    history: config.history ?? made.map(() => ({ created: '1970-01-01T00:00:00Z', created_by: 'memory' })),
  };
  const bytes = serializeConfig(full);
  return {
    name,
    tags: [],
    configBytes: async () => bytes,
    config: async () => JSON.parse(bytes.toString('utf8')) as ImageConfig,
    layers: async () => made,
    close: async () => undefined,
  };
}
