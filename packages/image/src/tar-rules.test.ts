import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { readEntries } from './entries';
import { headerForPack, loadTar, normalizeName, parseWhiteout, unsafeLink, unsafeName, whiteoutName, opaqueName, ancestors } from './tar-rules';

async function packed(entries: { header: Record<string, unknown>; body?: Buffer }[]): Promise<Buffer> {
  const pack = loadTar().pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk: unknown) => void chunks.push(chunk as Buffer));
  const ended = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const { header, body } of entries) {
    await new Promise<void>((resolve, reject) => pack.entry(header as never, body ?? Buffer.alloc(0), (error) => (error ? reject(error) : resolve())));
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

async function read(tar: Buffer) {
  const out = [];
  for await (const entry of readEntries(Readable.from([tar]), { label: 'layer 1' })) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry.body) chunks.push(chunk);
    out.push({ ...entry, content: Buffer.concat(chunks) });
  }
  return out;
}

describe('names', () => {
  it('normalises names to root-relative paths', () => {
    expect(normalizeName('./a/b/')).toBe('a/b');
    expect(normalizeName('/a//b')).toBe('a/b');
    expect(normalizeName('.')).toBe('');
    expect(normalizeName('./')).toBe('');
    expect(normalizeName('')).toBe('');
    expect(normalizeName('a/./b/../c')).toBe('a/c');
    expect(normalizeName('/../x')).toBe('x');
    expect(normalizeName('a/../../x')).toBe('../x');
  });
  it('refuses names and hard links that leave the root', () => {
    expect(unsafeName('../x')).toBe(true);
    expect(unsafeName('a/../../x')).toBe(true);
    expect(unsafeName('..')).toBe(true);
    expect(unsafeName('/etc/passwd')).toBe(false);
    expect(unsafeName('a/..b')).toBe(false);
    expect(unsafeLink('a', '/etc/passwd', 'link')).toBe(true);
    expect(unsafeLink('a', '../x', 'link')).toBe(true);
    expect(unsafeLink('a', 'b/../../x', 'link')).toBe(true);
    expect(unsafeLink('a', 'b/c', 'link')).toBe(false);
    expect(unsafeLink('a', '/etc/passwd', 'symlink')).toBe(false);
    expect(unsafeLink('a', '../../../x', 'symlink')).toBe(false);
  });
  it('lists ancestors nearest first', () => {
    expect([...ancestors('a/b/c')]).toEqual(['a/b', 'a']);
    expect([...ancestors('a')]).toEqual([]);
  });
});

describe('whiteouts', () => {
  it('tells opaque markers from whiteouts (.wh..wh..opq starts with .wh.)', () => {
    expect(parseWhiteout('a/.wh..wh..opq')).toEqual({ kind: 'opaque', target: 'a' });
    expect(parseWhiteout('.wh..wh..opq')).toEqual({ kind: 'opaque', target: '' });
    expect(parseWhiteout('a/.wh.b')).toEqual({ kind: 'whiteout', target: 'a/b' });
    expect(parseWhiteout('.wh.b')).toEqual({ kind: 'whiteout', target: 'b' });
    expect(parseWhiteout('a/.wh.')?.kind).toBe('invalid');
    expect(parseWhiteout('.wh..wh.plnk/123')).toEqual({ kind: 'aufs-meta' });
    expect(parseWhiteout('.wh..wh.aufs')).toEqual({ kind: 'aufs-meta' });
    expect(parseWhiteout('.wh..wh.orph/x')).toEqual({ kind: 'aufs-meta' });
    expect(parseWhiteout('a/b')).toBeNull();
    expect(parseWhiteout('a/x.wh.b')).toBeNull();
    expect(whiteoutName('a/b')).toBe('a/.wh.b');
    expect(whiteoutName('b')).toBe('.wh.b');
    expect(opaqueName('a')).toBe('a/.wh..wh..opq');
  });
});

describe('headers', () => {
  const capability = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x00]);
  const long = `${'d'.repeat(120)}/${'f'.repeat(150)}`;
  const veryLong = `${'x/'.repeat(140)}file`;
  const base = { mtime: new Date(1_700_000_000_000), uname: 'user', gname: 'group' };

  it('round-trips what tar-stream would lose: big ids, binary xattrs, modes, long and non-ASCII names, devices', async () => {
    // Written through headerForPack from plain headers: it must add what tar-stream would clamp or drop.
    const plain = [
      { header: { ...base, name: 'bin/ping', type: 'file', mode: 0o4755, uid: 3_000_000, gid: 2_500_000, pax: { 'SCHILY.xattr.security.capability': capability, 'SCHILY.xattr.user.note': 'héllo' } }, body: Buffer.from('ping') },
      { header: { ...base, name: 'tmp', type: 'directory', mode: 0o1777 } },
      { header: { ...base, name: 'sgid', type: 'file', mode: 0o2755 }, body: Buffer.from('x') },
      { header: { ...base, name: long, type: 'file', mode: 0o644 }, body: Buffer.from('long') },
      { header: { ...base, name: veryLong, type: 'symlink', linkname: long, mode: 0o777 } },
      { header: { ...base, name: 'héllo wörld ☃', type: 'file', mode: 0o644 }, body: Buffer.from('u') },
      { header: { ...base, name: 'link', type: 'link', linkname: long, mode: 0o644 } },
      { header: { ...base, name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 } },
      { header: { ...base, name: 'fifo', type: 'fifo', mode: 0o600 } },
      { header: { ...base, name: 'frac', type: 'file', mode: 0o644, mtime: new Date(1_700_000_000_250) }, body: Buffer.from('') },
    ];
    const source = await packed(plain.map(({ header, body }) => ({ header: headerForPack({ size: body?.length ?? 0, ...header } as never, header.name as string) as never, body })));
    const first = await read(source);
    // Re-pack through headerForPack and read again: everything must survive.
    const again = await read(await packed(first.map((e) => ({ header: headerForPack(e.header, e.name) as never, body: e.content }))));
    for (const entries of [first, again]) {
      const byName = new Map(entries.map((e) => [e.name, e]));
      const ping = byName.get('bin/ping')!;
      expect(ping.header.uid).toBe(3_000_000);
      expect(ping.header.gid).toBe(2_500_000);
      expect(ping.header.mode & 0o7777).toBe(0o4755);
      const pax = ping.header.pax as Record<string, string | Buffer>;
      expect(Buffer.isBuffer(pax['SCHILY.xattr.security.capability'])).toBe(true);
      expect((pax['SCHILY.xattr.security.capability'] as Buffer).equals(capability)).toBe(true);
      expect(pax['SCHILY.xattr.user.note']).toBe('héllo');
      expect(ping.content.toString()).toBe('ping');
      expect(byName.get('tmp')!.header.mode & 0o7777).toBe(0o1777);
      expect(byName.get('tmp')!.kind).toBe('dir');
      expect(byName.get('sgid')!.header.mode & 0o7777).toBe(0o2755);
      expect(byName.get(long)!.content.toString()).toBe('long');
      expect(byName.get(veryLong)!.header.linkname).toBe(long);
      expect(byName.get(veryLong)!.kind).toBe('symlink');
      expect(byName.get('héllo wörld ☃')!.content.toString()).toBe('u');
      expect(byName.get('link')!.kind).toBe('link');
      expect(byName.get('link')!.target).toBe(long);
      expect(byName.get('dev/null')!.header).toMatchObject({ type: 'character-device', devmajor: 1, devminor: 3 });
      expect(byName.get('fifo')!.header.type).toBe('fifo');
      expect(byName.get('fifo')!.kind).toBe('other');
    }
    const frac = new Map(again.map((e) => [e.name, e])).get('frac')!;
    expect(Number((frac.header.pax as Record<string, string>).mtime)).toBeCloseTo(1_700_000_000.25, 3);
  });

  it('names the entry that escapes the root', async () => {
    const tar = await packed([{ header: { ...base, name: '../evil', type: 'file' }, body: Buffer.from('x') }]);
    await expect(read(tar)).rejects.toThrow('layer 1: entry ../evil escapes the image root');
    const link = await packed([{ header: { ...base, name: 'l', type: 'link', linkname: '/etc/shadow' } }]);
    await expect(read(link)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('entry l escapes the image root') });
  });

  it('classifies whiteouts and drops AUFS metadata', async () => {
    const tar = await packed([
      { header: { ...base, name: './a/.wh..wh..opq', type: 'file' } },
      { header: { ...base, name: './a/.wh.b', type: 'file' } },
      { header: { ...base, name: '.wh..wh.plnk/1', type: 'file' }, body: Buffer.from('x') },
      { header: { ...base, name: './c/', type: 'directory' } },
    ]);
    const entries = await read(tar);
    expect(entries.map((e) => [e.name, e.kind, e.target])).toEqual([
      ['a/.wh..wh..opq', 'opaque', 'a'],
      ['a/.wh.b', 'whiteout', 'a/b'],
      ['c', 'dir', ''],
    ]);
  });

  it('skips unread bodies', async () => {
    const tar = await packed([
      { header: { ...base, name: 'a', type: 'file' }, body: Buffer.alloc(100_000, 1) },
      { header: { ...base, name: 'b', type: 'file' }, body: Buffer.from('b') },
    ]);
    const names = [];
    for await (const entry of readEntries(Readable.from([tar]))) names.push(entry.name);
    expect(names).toEqual(['a', 'b']);
  });
});
