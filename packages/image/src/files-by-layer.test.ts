import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { type ImageFile, readFiles, readFilesByLayer } from './files';
import { memoryImage } from './memory';

/** [name, body] for a regular file. */
type Item = [name: string, body: string];

async function layerTar(items: Item[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, body] of items) pack.entry({ name, mode: 0o644 }, body);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const image = async (...layers: Item[][]) => memoryImage(await Promise.all(layers.map(layerTar)), {}, 'test-image');
const summary = (files: Map<string, ImageFile>) => Object.fromEntries([...files].map(([path, f]) => [path, `${f.layer}:${f.content?.toString('utf8')}`]));

describe('readFilesByLayer', () => {
  it('one merged view per layer: rewrites, whiteouts and re-adds as each cut of the image shows them; the last is readFiles', async () => {
    const img = await image(
      [['db/status', 'a1'], ['db/keep', 'k'], ['x/gone', 'g']],
      [['db/status', 'a1 b1'], ['x/.wh.gone', '']],
      [['db/status', 'a2 b1'], ['x/gone', 'back']],
    );
    const select = (p: string) => p.includes('/') && !p.includes('.wh.');
    const views = await readFilesByLayer(img, select);
    expect(views.map(summary)).toEqual([
      { 'db/status': '0:a1', 'db/keep': '0:k', 'x/gone': '0:g' },
      { 'db/status': '1:a1 b1', 'db/keep': '0:k' },
      { 'db/status': '2:a2 b1', 'db/keep': '0:k', 'x/gone': '2:back' },
    ]);
    expect(summary(views[2])).toEqual(summary(await readFiles(img, select)));
  });

  it('an empty image gives no views', async () => {
    expect(await readFilesByLayer(await image(), () => true)).toEqual([]);
  });
});
