import { PassThrough, Readable } from 'node:stream';
import { OCI_LAYER } from './media';
import { type Image, type ImageConfig, type ImageInProgress, knownImage, type Layer, serializeConfig, sha256Of } from './model';

/** A layer held in memory (uncompressed): for tests and for small layers made on the fly. */
export function memoryLayer(tar: Buffer): Layer {
  const digest = sha256Of(tar);
  return {
    diffId: digest,
    digest,
    mediaType: OCI_LAYER.tar,
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
  return knownImage({ name, tags: [], configBytes: serializeConfig(full), layers: made });
}

/**
 * An image in progress whose top layer `top` arrives through a stream in pieces, as a merge
 * writes it; `done` resolves when it has been read to its end. `failAfter`: the stream fails after
 * that many bytes, as a merge error would. `configs` collects what `configFor` returned.
 */
export function streamedImage(
  base: Layer[],
  top: Buffer,
  options: { baseInEngine?: boolean; failAfter?: number; config?: Partial<ImageConfig> } = {},
): ImageInProgress & { configs: Buffer[] } {
  const stream = new PassThrough();
  const limit = options.failAfter ?? top.length;
  const done = new Promise<{ diffId: string; size: number }>((resolve, reject) => {
    stream.once('end', () => resolve({ diffId: sha256Of(top), size: top.length }));
    stream.once('error', reject);
  });
  done.catch(() => undefined);
  void (async () => {
    const { once } = require('node:events') as typeof import('node:events');
    for (let offset = 0; offset < limit; offset += 10_000) {
      if (!stream.write(top.subarray(offset, Math.min(offset + 10_000, limit)))) await once(stream, 'drain').catch(() => undefined);
      if (stream.destroyed) return;
    }
    if (options.failAfter !== undefined) stream.destroy(new Error('merge failed'));
    else stream.end();
  })();
  const configs: Buffer[] = [];
  return {
    name: 'test-in-progress',
    base,
    baseInEngine: options.baseInEngine ?? false,
    top: { stream, done },
    configs,
    configFor: ({ diffId }) => {
      const bytes = serializeConfig({
        architecture: 'amd64',
        os: 'linux',
        ...options.config,
        rootfs: { type: 'layers', diff_ids: [...base.map((l) => l.diffId), diffId] },
        history: [...base, top].map(() => ({ created: '1970-01-01T00:00:00Z', created_by: 'test' })),
      });
      configs.push(bytes);
      return bytes;
    },
  };
}
