import { createHash } from 'node:crypto';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { analyseImage, failedThresholds, layerRows, parseBytes, parseRatio, summaryLines } from './analysis';
import { memoryImage } from './memory';

/** [name, body] for a regular file; [name, 'directory'] and [name, 'symlink' | 'link', target]. */
type Item = [name: string, bodyOrType: string, target?: string];

async function layerTar(items: Item[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const item of items) {
    if (item[1] === 'directory') pack.entry({ name: item[0], type: 'directory', mode: 0o755 });
    else if (item[2] !== undefined) pack.entry({ name: item[0], type: item[1] as 'symlink' | 'link', linkname: item[2] });
    else pack.entry({ name: item[0], mode: 0o644 }, item[1]);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const X = (n: number, c = 'x') => c.repeat(n);

describe('analyseImage', () => {
  it('overwrites, deletions (file, parent dir, opaque dir, replaced by a non-dir) are wasted; the final copy is not', async () => {
    const layers = await Promise.all([
      layerTar([
        ['etc/', 'directory'],
        ['etc/a', X(100)], // overwritten by layer 1
        ['etc/b', X(10)], // deleted by a whiteout in layer 1
        ['opt/', 'directory'],
        ['opt/big/one', X(1000)], // parent deleted in layer 2
        ['opt/big/two', X(2000)],
        ['var/cache/c1', X(300)], // opaque dir in layer 2
        ['srv/d/f', X(40)], // srv/d replaced by a file in layer 2
        ['keep', X(7, 'k')],
        ['sym', 'symlink', 'keep'], // replaced by a regular file in layer 1
      ]),
      layerTar([
        ['etc/a', X(150, 'y')],
        ['etc/.wh.b', ''],
        ['sym', X(5)],
        ['var/cache/c2', X(30)], // also hidden: the opaque marker is in the layer above
      ]),
      layerTar([
        ['opt/.wh.big', ''],
        ['var/cache/.wh..wh..opq', ''],
        ['var/cache/c3', X(3)],
        ['srv/d', X(4, 'd')],
        ['dup1', X(50, 'z')],
        ['dir/dup2', X(50, 'z')],
        ['dup1-link', 'link', 'dup1'],
      ]),
    ]);
    const image = memoryImage(layers, {
      history: [
        { created_by: 'ADD base' },
        { created_by: 'ENV A=1', empty_layer: true },
        { created_by: 'RUN change' },
        { created_by: 'RUN  clean\n  up' },
      ],
    });
    const r = await analyseImage(image);
    const [l0, l1, l2] = r.layers;
    expect(r.layers.map((l) => l.createdBy)).toEqual(['ADD base', 'RUN change', 'RUN  clean\n  up']);
    expect(l0).toMatchObject({ index: 0, size: 100 + 10 + 1000 + 2000 + 300 + 40 + 7, files: 8, deletions: 0 });
    expect(l0).toMatchObject({ hiddenFiles: 7, hiddenBytes: 100 + 10 + 1000 + 2000 + 300 + 40 });
    expect(l1).toMatchObject({ size: 150 + 5 + 30, files: 3, deletions: 1, hiddenFiles: 1, hiddenBytes: 30 });
    expect(l2).toMatchObject({ size: 3 + 4 + 50 + 50, files: 5, deletions: 2, hiddenFiles: 0, hiddenBytes: 0 });
    expect(r.layers.map((l) => l.diffId)).toEqual((await image.config()).rootfs.diff_ids);
    expect(r.imageBytes).toBe(l0.size + l1.size + l2.size);
    expect(r.finalBytes).toBe(7 + 150 + 5 + 3 + 4 + 50 + 50);
    expect(r.finalFiles).toBe(7);
    expect(r.wastedBytes).toBe(r.imageBytes - r.finalBytes);
    expect(r.wastedFiles).toBe(8);
    expect(r.efficiency).toBeCloseTo(r.finalBytes / r.imageBytes, 12);
    expect(r.wasted.slice(0, 3)).toEqual([
      { path: 'opt/big/two', copies: 1, bytes: 2000 },
      { path: 'opt/big/one', copies: 1, bytes: 1000 },
      { path: 'var/cache/c1', copies: 1, bytes: 300 },
    ]);
    // The hard link is the same file, not a duplicate; dup1 and dir/dup2 are.
    expect(r.duplicates).toEqual({
      groups: 1,
      files: 2,
      bytes: 50,
      top: [{ digest: `sha256:${createHash('sha256').update(X(50, 'z')).digest('hex')}`, size: 50, paths: ['dir/dup2', 'dup1'] }],
    });
  });

  it('a whiteout applies only to lower layers; a directory over a directory keeps its children; a re-created directory after a whiteout', async () => {
    const image = memoryImage(
      await Promise.all([
        layerTar([['a/', 'directory'], ['a/old', X(10)], ['b/', 'directory'], ['b/kept', X(20)]]),
        layerTar([['.wh.a', ''], ['b/', 'directory']]),
        layerTar([['a/', 'directory'], ['a/new', X(30)]]),
      ]),
    );
    const r = await analyseImage(image);
    expect(r.layers.map((l) => l.hiddenBytes)).toEqual([10, 0, 0]);
    expect(r.finalBytes).toBe(50);
    expect(r.duplicates.groups).toBe(0);
  });

  it('history that does not match the layers gives no created_by; an empty image is fully efficient', async () => {
    const one = await analyseImage(memoryImage([await layerTar([['f', 'x']])], { history: [{ created_by: 'a' }, { created_by: 'b' }] }));
    expect(one.layers[0].createdBy).toBe('');
    const empty = await analyseImage(memoryImage([await layerTar([])]));
    expect(empty).toMatchObject({ imageBytes: 0, finalBytes: 0, efficiency: 1 });
  });

  it('thresholds name what failed', async () => {
    const r = await analyseImage(memoryImage(await Promise.all([layerTar([['f', X(1000)]]), layerTar([['f', X(1000)]])])));
    expect(r).toMatchObject({ wastedBytes: 1000, efficiency: 0.5 });
    expect(failedThresholds(r, { maxWasted: 1000, minEfficiency: 0.5 })).toEqual([]);
    const failed = failedThresholds(r, { maxWasted: 999, minEfficiency: 0.6 });
    expect(failed).toHaveLength(2);
    expect(failed[0]).toMatch(/^wasted 1000 bytes .* > --max-wasted 999 bytes/);
    expect(failed[1]).toBe('efficiency 0.5000 < --min-efficiency 0.6');
    expect(summaryLines(r)).toContain('wasted 1kB 1× f');
    expect(layerRows(r)[1]).toEqual(['1', '1kB', '1', '0B', 'memory']);
  });
});

describe('parsing', () => {
  it('parseBytes: decimal K/M/G/T (as docker prints sizes), binary KiB…', () => {
    expect(['0', '1500', '20MB', '20m', '1.5G', '1.5GB', '48MiB', '1KiB', '2 kB', '3T'].map((t) => parseBytes(t))).toEqual([
      0, 1500, 20e6, 20e6, 1.5e9, 1.5e9, 48 * 1024 ** 2, 1024, 2000, 3e12,
    ]);
    for (const bad of ['', '-1', 'lots', '1iB', '1X', '1e6']) expect(() => parseBytes(bad)).toThrow(/--max-wasted .*allowed bytes/);
  });

  it('parseRatio: 0 to 1', () => {
    expect(['0', '1', '0.9', '.5', '1.0'].map((t) => parseRatio(t))).toEqual([0, 1, 0.9, 0.5, 1]);
    for (const bad of ['', '1.1', '-0.1', '90%', 'high']) expect(() => parseRatio(bad)).toThrow(/--min-efficiency .*ratio from 0 to 1/);
  });
});
