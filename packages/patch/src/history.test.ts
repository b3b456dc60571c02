import { memoryImage } from '@imagewright/image';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { patchHistory } from './history';
import { metadataYaml, type PatchMetadata } from './metadata';

/** [name, body] for a regular file, [name, 'directory'] or [name, 'symlink', target]. */
type Item = [name: string, body: string | Buffer, target?: string];

async function layerTar(items: Item[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, body, target] of items) {
    if (body === 'directory') pack.entry({ name, type: 'directory', mode: 0o755 });
    else if (body === 'symlink') pack.entry({ name, type: 'symlink', linkname: target });
    else pack.entry({ name, mode: 0o644 }, body);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const image = async (...layers: Item[][]) => memoryImage(await Promise.all(layers.map(layerTar)), {}, 'history-test');

const idOf = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;

function record(n: number, time: string, description = `patch ${n}`): PatchMetadata {
  return {
    author: `p${n}@example.org`,
    description,
    time,
    source: { image: `app:${n}`, id: idOf(n), repoDigests: [] },
    script: { name: 'fix.sh', sha256: 'e'.repeat(64) },
    imagewright: '0.1.0',
    exitStatus: 0,
  };
}

/** The entries of one patch folder as the frame commits them. */
function folder(dir: string, metadata: PatchMetadata | string): Item[] {
  return [
    [`opt/patches/${dir}/`, 'directory'],
    [`opt/patches/${dir}/metadata.yaml`, typeof metadata === 'string' ? metadata : metadataYaml(metadata)],
    [`opt/patches/${dir}/fix.sh`, '#!/bin/sh\ntrue\n'],
    [`opt/patches/${dir}/patch.log`, '+ true\n'],
  ];
}

const base: Item[] = [['bin/', 'directory'], ['bin/sh', 'not really'], ['etc/os-release', 'ID=test\n']];

describe('patchHistory', () => {
  it('an image without /opt/patches: no patches', async () => {
    expect(await patchHistory(await image(base, [['etc/motd', 'hi']]))).toEqual([]);
  });

  it('patches in different layers: ordered by layer, whatever their times and folder names say', async () => {
    // Times out of order on purpose (a clock set wrong): the commit order is the truth.
    const history = await patchHistory(
      await image(
        base,
        folder('zzz-first', record(1, '2024-03-01T00:00:00.000Z')),
        [['etc/motd', 'a layer without a patch']],
        folder('aaa-second', record(2, '2024-01-01T00:00:00.000Z')),
        folder('mmm-third', record(3, '2024-02-01T00:00:00.000Z')),
      ),
    );
    expect(history.map((p) => [p.dir, p.layer, p.metadata.description])).toEqual([
      ['/opt/patches/zzz-first', 1, 'patch 1'],
      ['/opt/patches/aaa-second', 3, 'patch 2'],
      ['/opt/patches/mmm-third', 4, 'patch 3'],
    ]);
    expect(history[0].metadata).toEqual(record(1, '2024-03-01T00:00:00.000Z'));
  });

  it('two patches in one layer (a squashed image): ordered by recorded time, then by folder name', async () => {
    const history = await patchHistory(
      await image(
        base,
        [
          ...folder('aaa', record(1, '2024-06-02T10:00:00.000Z')),
          ...folder('bbb', record(2, '2024-06-01T10:00:00.000Z')),
          ...folder('ddd', record(4, '2024-06-03T10:00:00.000Z')),
          ...folder('ccc', record(3, '2024-06-03T10:00:00.000Z')),
        ],
      ),
    );
    expect(history.map((p) => [p.dir, p.layer])).toEqual([
      ['/opt/patches/bbb', 1],
      ['/opt/patches/aaa', 1],
      ['/opt/patches/ccc', 1],
      ['/opt/patches/ddd', 1],
    ]);
  });

  it('a whiteout deleting an old patch folder hides it; a whiteout of its metadata.yaml alone does too', async () => {
    const history = await patchHistory(
      await image(
        base,
        folder('old', record(1, '2024-01-01T00:00:00.000Z')),
        folder('other', record(2, '2024-01-02T00:00:00.000Z')),
        [['opt/patches/.wh.old', '']],
        folder('kept', record(3, '2024-01-03T00:00:00.000Z')),
        [['opt/patches/other/.wh.metadata.yaml', '']],
      ),
    );
    expect(history.map((p) => p.dir)).toEqual(['/opt/patches/kept']);
  });

  it('an opaque /opt/patches hides every folder below it, not those of its own layer or above', async () => {
    const history = await patchHistory(
      await image(
        base,
        folder('gone', record(1, '2024-01-01T00:00:00.000Z')),
        [['opt/patches/.wh..wh..opq', ''], ...folder('same-layer', record(2, '2024-01-02T00:00:00.000Z'))],
        folder('above', record(3, '2024-01-03T00:00:00.000Z')),
      ),
    );
    expect(history.map((p) => [p.dir, p.layer])).toEqual([
      ['/opt/patches/same-layer', 2],
      ['/opt/patches/above', 3],
    ]);
  });

  it('a folder deleted and made again above is read from the upper layer', async () => {
    const history = await patchHistory(
      await image(base, folder('x', record(1, '2024-01-01T00:00:00.000Z')), [['opt/patches/.wh.x', '']], folder('x', record(2, '2024-01-02T00:00:00.000Z'))),
    );
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ dir: '/opt/patches/x', layer: 3, metadata: { description: 'patch 2' } });
  });

  it('the original tool\'s folder: two fields, unescaped quotes, marked legacy; before the newer patches', async () => {
    const legacy = 'author: "Jo "JJ" Smith <jo@example.org>"\ndescription: "monthly "OS" update"\n';
    const history = await patchHistory(await image(base, folder('2023-legacy', legacy), folder('new', record(1, '2024-01-01T00:00:00.000Z'))));
    expect(history.map((p) => p.dir)).toEqual(['/opt/patches/2023-legacy', '/opt/patches/new']);
    expect(history[0].metadata).toEqual({ author: 'Jo "JJ" Smith <jo@example.org>', description: 'monthly "OS" update', legacy: true });
    expect(history[0].layer).toBe(1);
    expect(history[1].metadata.legacy).toBeUndefined();
  });

  it('a legacy folder squashed together with newer ones (no time) comes first', async () => {
    const legacy = 'author: "ops@example.org"\ndescription: "old"\n';
    const history = await patchHistory(await image([...base, ...folder('zz-new', record(1, '2024-01-01T00:00:00.000Z')), ...folder('yy-legacy', legacy)]));
    expect(history.map((p) => [p.dir, p.metadata.legacy ?? false])).toEqual([
      ['/opt/patches/yy-legacy', true],
      ['/opt/patches/zz-new', false],
    ]);
  });

  it('only <folder>/metadata.yaml regular files count: not nested ones, not the top, not symlinks or directories; ./ names read', async () => {
    const history = await patchHistory(
      await image(base, [
        ['opt/patches/metadata.yaml', metadataYaml(record(1, '2024-01-01T00:00:00.000Z'))],
        ['opt/patches/a/b/metadata.yaml', metadataYaml(record(2, '2024-01-01T00:00:00.000Z'))],
        ['opt/patches/link/metadata.yaml', 'symlink', '../real/metadata.yaml'],
        ['opt/patches/dir/metadata.yaml/', 'directory'],
        ['opt/other/x/metadata.yaml', metadataYaml(record(3, '2024-01-01T00:00:00.000Z'))],
        ['./opt/patches/dotted/metadata.yaml', metadataYaml(record(4, '2024-01-01T00:00:00.000Z'))],
      ]),
    );
    expect(history.map((p) => [p.dir, p.metadata.description])).toEqual([['/opt/patches/dotted', 'patch 4']]);
  });

  it('an unreadable metadata.yaml is listed as unreadable, not dropped and not thrown', async () => {
    const history = await patchHistory(await image(base, folder('broken', '{{{ not yaml at all')));
    expect(history).toHaveLength(1);
    expect(history[0].dir).toBe('/opt/patches/broken');
    expect(history[0].metadata.unreadable).toBe('{{{ not yaml at all');
  });
});
