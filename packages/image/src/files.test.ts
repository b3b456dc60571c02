import { createHash } from 'node:crypto';
import type { Engine } from '@imagewright/docker';
import { ensureEngine, exportEntries, type LayerSpec, busyboxEntries, loadLayeredImage } from '@imagewright/testing';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followLink, type ImageFile, readFiles } from './files';
import { memoryImage } from './memory';
import { openImage } from './open';

/** [name, body] for a regular file; [name, 'directory', octal mode?] and [name, 'symlink' | 'link', target]. */
type Item = [name: string, bodyOrType: string | Buffer, target?: string];

async function layerTar(items: Item[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, body, target] of items) {
    if (body === 'directory') pack.entry({ name, type: 'directory', mode: target ? parseInt(target, 8) : 0o755, uid: target ? 3 : 0 });
    else if (target !== undefined) pack.entry({ name, type: body as 'symlink' | 'link', linkname: target });
    else pack.entry({ name, mode: 0o644, uid: 7, gid: 8, mtime: new Date('2021-02-03T04:05:06Z') }, body);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const image = async (...layers: Item[][]) => memoryImage(await Promise.all(layers.map(layerTar)), {}, 'test-image');
const text = (files: Map<string, ImageFile>, path: string) => files.get(path)?.content?.toString('utf8');
const everything = () => true;

describe('readFiles', () => {
  it('topmost version wins, with its layer, metadata and bytes; unselected files are not read', async () => {
    const files = await readFiles(
      await image(
        [['etc/', 'directory', '700'], ['etc/a', 'one'], ['etc/b', 'bee'], ['etc/skip', 'x'], ['srv/', 'directory', '750'], ['srv/x', 'x']],
        [['etc/a', 'two']],
      ),
      (p) => p !== 'etc/skip',
    );
    expect([...files.keys()]).toEqual(['etc', 'etc/a', 'etc/b', 'srv', 'srv/x']);
    expect(files.get('etc/a')).toMatchObject({ path: 'etc/a', kind: 'file', layer: 1, mode: 0o644, uid: 7, gid: 8 });
    expect(files.get('etc/a')!.mtime?.toISOString()).toBe('2021-02-03T04:05:06.000Z');
    expect(text(files, 'etc/a')).toBe('two');
    expect(files.get('etc/b')).toMatchObject({ layer: 0 });
    expect(text(files, 'etc/b')).toBe('bee');
    expect(files.get('srv')).toMatchObject({ kind: 'dir', layer: 0, mode: 0o750, uid: 3 });
    // Layer 1 has no entry for etc: Docker's applier made it (0755, root), and upper directories win.
    expect(files.get('etc')).toMatchObject({ kind: 'dir', layer: 1, mode: 0o755, uid: 0, gid: 0 });
  });

  it('whiteouts hide a file and a whole directory below them, even when the whiteouts are not selected', async () => {
    const img = await image(
      [['etc/a', 'a'], ['etc/b', 'b'], ['opt/tool/x', 'x'], ['opt/tool/sub/y', 'y'], ['opt/keep', 'k']],
      [['etc/.wh.a', ''], ['opt/.wh.tool', '']],
    );
    const files = await readFiles(img, (p) => p.includes('/') && !p.includes('.wh.'));
    expect([...files.keys()]).toEqual(['etc/b', 'opt/keep']);
  });

  it('a whiteout hides lower layers only: a file deleted then re-added above stays, with the upper bytes', async () => {
    const files = await readFiles(
      await image(
        [['etc/a', 'old'], ['etc/same', 'gone']],
        [['etc/.wh.a', ''], ['etc/.wh.same', ''], ['etc/same', 'back in the same layer']],
        [['etc/a', 'new']],
      ),
      everything,
    );
    expect(text(files, 'etc/a')).toBe('new');
    expect(files.get('etc/a')!.layer).toBe(2);
    expect(text(files, 'etc/same')).toBe('back in the same layer');
    expect(files.get('etc/same')!.layer).toBe(1);
  });

  it('an opaque directory hides the lower children but keeps its own layer, upper files and lower siblings', async () => {
    const files = await readFiles(
      await image(
        [['var/', 'directory'], ['var/cache/', 'directory'], ['var/cache/old', 'o'], ['var/cache/deep/x', 'x'], ['var/other', 'v']],
        [['var/cache/.wh..wh..opq', ''], ['var/cache/new', 'n']],
        [['var/cache/newer', 'nn']],
      ),
      (p) => p.startsWith('var/cache/') || p === 'var/other',
    );
    expect([...files.keys()]).toEqual(['var/cache/new', 'var/cache/newer', 'var/other']);
  });

  it('a directory replaced by a file or a symlink in an upper layer hides what was under it', async () => {
    const files = await readFiles(
      await image(
        [['srv/d/f', 'f'], ['lib/x', 'x'], ['usr/lib/y', 'y']],
        [['srv/d', 'now a file'], ['lib', 'symlink', 'usr/lib']],
      ),
      (p) => p.startsWith('srv/') || p.startsWith('lib') || p.startsWith('usr/lib/'),
    );
    expect([...files.keys()]).toEqual(['lib', 'srv/d', 'usr/lib/y']);
    expect(followLink(files, 'lib/y')?.content?.toString()).toBe('y');
    expect(followLink(files, 'lib/x')).toBeUndefined();
  });

  it('hard links carry their target path and, when the target was read, its bytes as of the link layer', async () => {
    const files = await readFiles(
      await image(
        [['bin/tool', 'v1'], ['bin/alias', 'link', 'bin/tool'], ['bin/unread', 'u'], ['bin/to-unread', 'link', 'bin/unread']],
        [['bin/tool', 'v2']],
      ),
      (p) => p !== 'bin/unread',
    );
    expect(files.get('bin/alias')).toMatchObject({ kind: 'link', linkname: 'bin/tool', layer: 0 });
    // The link kept the inode of layer 0; the file overwritten above is a new one.
    expect(text(files, 'bin/alias')).toBe('v1');
    expect(text(files, 'bin/tool')).toBe('v2');
    expect(files.get('bin/to-unread')).toMatchObject({ kind: 'link', linkname: 'bin/unread' });
    expect(files.get('bin/to-unread')!.content).toBeUndefined();
  });

  it('a selected file over maxFileBytes fails naming the image, path and size; a hidden one does not matter', async () => {
    const big = Buffer.alloc(5000, 1);
    await expect(readFiles(await image([['etc/big', big]]), everything, { maxFileBytes: 4096 })).rejects.toMatchObject({
      message: expect.stringMatching(/^test-image: etc\/big is .*\(5000 bytes\), more than .*\(4096 bytes\)/),
      exitCode: 1,
    });
    const files = await readFiles(await image([['etc/big', big], ['etc/small', 's']], [['etc/big', 'small now']]), everything, { maxFileBytes: 4096 });
    expect(text(files, 'etc/big')).toBe('small now');
    // Unselected big files are skipped without a limit.
    expect([...(await readFiles(await image([['etc/big', big], ['etc/small', 's']]), (p) => p === 'etc/small', { maxFileBytes: 10 })).keys()]).toEqual(['etc/small']);
  });

  it('an empty image and a selection that matches nothing give an empty map', async () => {
    expect((await readFiles(memoryImage([]), everything)).size).toBe(0);
    expect((await readFiles(await image([['a', 'a']]), () => false)).size).toBe(0);
  });
});

describe('followLink', () => {
  it('resolves relative and absolute targets, chains, symlinked directories and .. above the root', async () => {
    const files = await readFiles(
      await image([
        ['usr/lib/os-release', 'ID=debian\n'],
        ['etc/os-release', 'symlink', '../usr/lib/os-release'],
        ['etc/abs', 'symlink', '/usr/lib/os-release'],
        ['etc/chain', 'symlink', 'abs'],
        ['etc/up', 'symlink', '../../../../usr/lib/os-release'],
        ['lib', 'symlink', 'usr/lib'],
        ['etc/via-dir', 'symlink', '/lib/os-release'],
      ]),
      everything,
    );
    for (const path of ['etc/os-release', 'etc/abs', 'etc/chain', 'etc/up', 'lib/os-release', 'etc/via-dir', '/etc/chain', 'usr/lib/os-release']) {
      expect(followLink(files, path), path).toMatchObject({ path: 'usr/lib/os-release', kind: 'file' });
    }
    expect(followLink(files, 'etc/missing')).toBeUndefined();
  });

  it('a loop or a dangling link gives undefined; 40 hops are followed, 41 are not', async () => {
    const chain = (n: number): Item[] => [['end', 'end'], ...Array.from({ length: n }, (_, i): Item => [`l${i}`, 'symlink', i === 0 ? 'end' : `l${i - 1}`])];
    const files = await readFiles(await image([['a', 'symlink', 'b'], ['b', 'symlink', 'a'], ['dangling', 'symlink', 'nowhere'], ...chain(41)]), everything);
    expect(followLink(files, 'a')).toBeUndefined();
    expect(followLink(files, 'dangling')).toBeUndefined();
    expect(followLink(files, 'l39')?.path).toBe('end');
    expect(followLink(files, 'l40')).toBeUndefined();
  });
});

describe('readFiles on a real Engine image (oracle: docker export of a container)', () => {
  let engine: Engine;
  const tag = `imagewright-test/files:${process.pid}`;
  beforeAll(async () => {
    engine = await ensureEngine();
  });
  afterAll(async () => {
    await engine?.getImage(tag).remove({ force: true }).catch(() => undefined);
  });

  it('gives the same selected paths, types, modes, owners, link targets and bytes as the Engine', async () => {
    const layers: LayerSpec[] = [
      [
        ...busyboxEntries(),
        { path: 'opt', type: 'dir' },
        { path: 'opt/patches', type: 'dir' },
        { path: 'opt/patches/one', type: 'dir', mode: 0o750, uid: 1000, gid: 100 },
        { path: 'opt/patches/one/metadata.yaml', type: 'file', content: 'author: a\n' },
        { path: 'opt/patches/one/gone', type: 'file', content: 'deleted above' },
        { path: 'opt/patches/two', type: 'dir' },
        { path: 'opt/patches/two/old', type: 'file', content: 'hidden by an opaque marker' },
        { path: 'opt/patches/dead', type: 'dir' },
        { path: 'opt/patches/dead/x', type: 'file', content: 'whole dir deleted' },
        { path: 'opt/patches/hard', type: 'file', content: 'shared inode', mode: 0o4755, uid: 5, gid: 6 },
        { path: 'opt/patches/hard-link', type: 'link', linkname: 'opt/patches/hard' },
        { path: 'opt/patches/three', type: 'dir', mode: 0o700, uid: 9, gid: 9 },
        { path: 'opt/patches/three/f', type: 'file', content: 'whited out from a layer without the dir' },
        { path: 'opt/patches/three/g', type: 'file', content: 'stays' },
        { path: 'opt/patches/four', type: 'dir', mode: 0o700, uid: 9, gid: 9 },
        { path: 'opt/patches/four/f', type: 'file', content: 'under an opaque marker from a layer without the dir' },
      ],
      [
        { path: 'opt/patches/one/gone', type: 'whiteout' },
        { path: 'opt/patches/dead', type: 'whiteout' },
        { path: 'opt/patches/two', type: 'opaque' },
        { path: 'opt/patches/two/new', type: 'file', content: 'above the opaque marker' },
        { path: 'opt/patches/one/metadata.yaml', type: 'file', content: 'author: b\n', mode: 0o600, uid: 1000, gid: 1000 },
        { path: 'opt/patches/latest', type: 'symlink', linkname: 'one/metadata.yaml' },
      ],
      [
        { path: 'opt/patches/dead', type: 'dir' },
        { path: 'opt/patches/dead/y', type: 'file', content: 're-added' },
        { path: 'opt/patches/three/f', type: 'whiteout' },
        { path: 'opt/patches/four', type: 'opaque' },
      ],
    ];
    await loadLayeredImage(engine, tag, layers);
    const selected = (p: string) => p === 'opt/patches' || p.startsWith('opt/patches/');
    const opened = await openImage(tag);
    let files: Map<string, ImageFile>;
    try {
      files = await readFiles(opened, selected);
    } finally {
      await opened.close();
    }
    const oracle = new Map([...(await exportEntries(engine, tag))].filter(([p]) => selected(p)));
    expect([...files.keys()].sort()).toEqual([...oracle.keys()].sort());
    for (const [path, file] of files) {
      const want = oracle.get(path)!;
      const type = file.kind === 'link' ? 'file' : file.kind;
      const got = {
        type,
        // A symlink's own mode means nothing on Linux (always 0777 there); the header's is kept.
        mode: file.kind === 'symlink' ? 0o777 : file.mode,
        uid: file.uid,
        gid: file.gid,
        ...(type === 'file' ? { sha256: createHash('sha256').update(file.content!).digest('hex') } : {}),
        ...(file.kind === 'symlink' ? { linkname: file.linkname } : {}),
      };
      const expected = {
        type: want.type,
        mode: want.mode,
        uid: want.uid,
        gid: want.gid,
        ...(want.sha256 ? { sha256: want.sha256 } : {}),
        ...(want.linkname !== undefined ? { linkname: want.linkname } : {}),
      };
      expect(got, path).toEqual(expected);
    }
    // The layer each version came from, which the export cannot say.
    expect(files.get('opt/patches/one/metadata.yaml')!.layer).toBe(1);
    expect(files.get('opt/patches/dead/y')!.layer).toBe(2);
    expect(followLink(files, 'opt/patches/latest')?.content?.toString()).toBe('author: b\n');
  });
});
