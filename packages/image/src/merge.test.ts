import { seededRandom } from '@imagewright/testing';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readEntries } from './entries';
import { memoryLayer } from './memory';
import { mergeLayers, type MergeOptions } from './merge';
import { ancestors, headerForPack, loadTar, normalizeName, type PaxRecords, xattrsOf } from './tar-rules';
import type { Header } from 'tar-stream';

// ---- layers made in memory -------------------------------------------------------------------

interface Spec {
  name: string;
  type?: Header['type'];
  content?: string | Buffer;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  pax?: PaxRecords;
}

async function tar(specs: Spec[]): Promise<Buffer> {
  const pack = loadTar().pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk: unknown) => void chunks.push(chunk as Buffer));
  const ended = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const spec of specs) {
    const type = spec.type ?? 'file';
    const content = type === 'file' ? Buffer.from(spec.content ?? '') : Buffer.alloc(0);
    const header = headerForPack(
      {
        name: spec.name,
        type,
        mode: spec.mode ?? (type === 'directory' ? 0o755 : 0o644),
        uid: spec.uid ?? 0,
        gid: spec.gid ?? 0,
        size: content.length,
        mtime: new Date(1_600_000_000_000),
        linkname: spec.linkname ?? '',
        uname: '',
        gname: '',
        devmajor: 0,
        devminor: 0,
        pax: spec.pax,
      },
      spec.name,
    );
    await new Promise<void>((resolve, reject) => pack.entry(header, content, (error) => (error ? reject(error) : resolve())));
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

interface Read {
  name: string;
  header: Header;
  kind: string;
  target: string;
  content: Buffer;
}

async function read(bytes: Buffer): Promise<Read[]> {
  const out: Read[] = [];
  for await (const entry of readEntries(Readable.from([bytes]))) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry.body) chunks.push(chunk);
    out.push({ name: entry.name, header: entry.header, kind: entry.kind, target: entry.target, content: Buffer.concat(chunks) });
  }
  return out;
}

async function merge(layers: Buffer[], options: MergeOptions = {}) {
  const merged = mergeLayers(layers.map(memoryLayer), options);
  const chunks: Buffer[] = [];
  merged.stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  merged.stream.on('error', () => undefined);
  const stats = await merged.stats;
  const done = await merged.done;
  const bytes = Buffer.concat(chunks);
  return { bytes, stats, done, entries: await read(bytes) };
}

// ---- a reference applier: layers bottom → top, as an extractor would -------------------------

interface Inode {
  kind: string;
  mode: number;
  uid: number;
  gid: number;
  data: string;
  xattrs: string;
}
type Fs = Map<string, Inode | 'implicit'>;

function inodeOf(entry: Read): Inode {
  const kind = entry.kind === 'file' ? 'file' : entry.kind === 'dir' ? 'dir' : entry.kind === 'symlink' ? 'symlink' : entry.header.type;
  const data = kind === 'file' ? entry.content.toString('hex') : kind === 'symlink' ? entry.header.linkname : '';
  const xattrs = JSON.stringify(xattrsOf(entry.header).map(([key, value]) => [key, Buffer.from(value).toString('hex')]));
  return { kind, mode: entry.header.mode & 0o7777, uid: entry.header.uid, gid: entry.header.gid, data, xattrs };
}

function remove(fs: Fs, path: string): void {
  fs.delete(path);
  const prefix = path === '' ? '' : `${path}/`;
  for (const key of [...fs.keys()]) if (key !== '' && key.startsWith(prefix)) fs.delete(key);
}

function isDir(value: Inode | 'implicit' | undefined): boolean {
  return value === 'implicit' || value?.kind === 'dir';
}

function applyLayer(fs: Fs, entries: Read[]): void {
  const before: Fs = new Map(fs);
  const firsts: Read[] = [];
  const names = new Set<string>();
  const parents = (name: string) => {
    for (const ancestor of [...ancestors(name)].reverse()) {
      if (!isDir(fs.get(ancestor))) {
        remove(fs, ancestor);
        fs.set(ancestor, 'implicit');
      }
    }
  };
  // Marks hide lower layers whatever their order; the directories they sit in exist afterwards.
  for (const entry of entries) {
    if (entry.kind === 'whiteout') remove(fs, entry.target);
    else if (entry.kind === 'opaque') {
      for (const key of [...fs.keys()]) if (key !== entry.target && (entry.target === '' || key.startsWith(`${entry.target}/`))) fs.delete(key);
    } else if (entry.kind !== 'whiteout' && !names.has(entry.name)) {
      names.add(entry.name);
      firsts.push(entry);
    }
  }
  for (const entry of entries) if (entry.kind === 'whiteout' || entry.kind === 'opaque') parents(entry.name);
  const place = (name: string, value: Inode) => {
    parents(name);
    if (value.kind === 'dir' && isDir(fs.get(name))) fs.set(name, value);
    else {
      remove(fs, name);
      fs.set(name, value);
    }
  };
  for (const entry of firsts) if (entry.kind !== 'link') place(entry.name, inodeOf(entry));
  for (const entry of firsts) {
    if (entry.kind !== 'link') continue;
    const target = names.has(entry.target) ? fs.get(entry.target) : before.get(entry.target);
    if (!target || target === 'implicit' || target.kind === 'dir') throw new Error(`reference: link ${entry.name} → ${entry.target} has no target`);
    place(entry.name, target);
  }
}

async function apply(layers: Buffer[]): Promise<Fs> {
  const fs: Fs = new Map();
  for (const layer of layers) applyLayer(fs, await read(layer));
  return fs;
}

/** A comparable listing: path, kind, metadata, content; with `links`, which paths share an inode. */
function listing(fs: Fs, links: boolean): string[] {
  const groups = new Map<Inode, string>();
  const paths = [...fs.keys()].sort();
  for (const path of paths) {
    const value = fs.get(path)!;
    if (value !== 'implicit' && value.kind !== 'dir' && !groups.has(value)) groups.set(value, path);
  }
  return paths.map((path) => {
    const value = fs.get(path)!;
    // Docker's applier makes a missing parent with MkdirAll(0755) as root.
    if (value === 'implicit') return `${path} dir 755 0:0  []`;
    const group = links && value.kind !== 'dir' ? ` inode=${groups.get(value)}` : '';
    return `${path} ${value.kind} ${value.mode.toString(8)} ${value.uid}:${value.gid} ${value.data} ${value.xattrs}${group}`;
  });
}

/** Output checks that hold for every merge: one entry per path, links after a target written before. */
function checkOutput(entries: Read[], keep: number): void {
  const names = new Set<string>();
  for (const entry of entries) {
    expect(names.has(entry.name), `duplicate ${entry.name}`).toBe(false);
    names.add(entry.name);
    if (keep === 0) expect(['whiteout', 'opaque']).not.toContain(entry.kind);
    if (entry.kind === 'link' && keep === 0) expect(names.has(entry.target), `link ${entry.name} before ${entry.target}`).toBe(true);
  }
}

async function expectSameFilesystem(layers: Buffer[], keep: number, crosslink: boolean): Promise<void> {
  const { bytes, entries, stats, done } = await merge(layers, { keep, crosslink });
  checkOutput(entries, keep);
  expect(done.size).toBe(bytes.length);
  expect(stats.diffId).toBe(memoryLayer(bytes).diffId);
  const expected = await apply(layers);
  const actual = await apply([...layers.slice(0, keep), bytes]);
  // Below kept layers a hard link to a file the merged layers delete cannot stay a link: compare contents.
  const links = !crosslink && keep === 0;
  expect(listing(actual, links)).toEqual(listing(expected, links));
  if (!crosslink && keep > 0) {
    // Paths the output links share an inode in the source too.
    const byInode = new Map<Inode, Inode | 'implicit' | undefined>();
    for (const [path, value] of actual) {
      if (value === 'implicit' || value.kind === 'dir') continue;
      if (!byInode.has(value)) byInode.set(value, expected.get(path));
      else expect(expected.get(path), `${path} linked in the output only`).toBe(byInode.get(value));
    }
  }
  if (crosslink && keep === 0) {
    // Every set of paths sharing an inode in the source still shares one.
    const inodeOf = new Map<string, Inode | 'implicit' | undefined>([...expected.keys()].map((path) => [path, actual.get(path)]));
    const byInode = new Map<Inode, Inode | 'implicit' | undefined>();
    for (const [path, value] of expected) {
      if (value === 'implicit' || value.kind === 'dir') continue;
      if (!byInode.has(value)) byInode.set(value, inodeOf.get(path));
      else expect(inodeOf.get(path), `hard link ${path} lost`).toBe(byInode.get(value));
    }
  }
}

async function expectAllMerges(layers: Buffer[]): Promise<void> {
  for (let keep = 0; keep < layers.length; keep++) {
    await expectSameFilesystem(layers, keep, false);
    await expectSameFilesystem(layers, keep, true);
  }
}

const names = (entries: Read[]) => entries.map((e) => `${e.name}${e.kind === 'dir' ? '/' : ''}${e.kind === 'link' ? ` => ${e.target}` : ''}`);

// ---- cases of peers.md C.7 ---------------------------------------------------------------------

describe('mergeLayers', () => {
  it('honours opaque whiteouts (same-layer children stay, lower ones go)', async () => {
    const layers = [
      await tar([{ name: 'a', type: 'directory' }, { name: 'a/old', content: 'old' }, { name: 'a/sub/deep', content: 'deep' }, { name: 'b', content: 'b' }]),
      await tar([{ name: 'a/new', content: 'new' }, { name: 'a/.wh..wh..opq' }, { name: 'a', type: 'directory', mode: 0o700 }]),
    ];
    const { entries } = await merge(layers);
    expect(names(entries).sort()).toEqual(['a/', 'a/new', 'b']);
    expect(entries.find((e) => e.name === 'a')!.header.mode & 0o777).toBe(0o700);
    await expectAllMerges(layers);
    // Kept below: the opaque marker is written again.
    const partial = await merge(layers, { keep: 1 });
    expect(names(partial.entries)).toContain('a/.wh..wh..opq');
  });

  it('a directory deleted then recreated keeps only the new children (ggcr #2191)', async () => {
    const layers = [
      await tar([{ name: 'a/', type: 'directory' }, { name: 'a/foo', content: 'foo' }]),
      await tar([{ name: '.wh.a' }]),
      await tar([{ name: 'a/', type: 'directory' }, { name: 'a/baz', content: 'baz' }]),
    ];
    expect(names((await merge(layers)).entries)).toEqual(['a/', 'a/baz']);
    const partial = await merge(layers, { keep: 1 });
    expect(names(partial.entries)).toEqual(['a/', 'a/baz', 'a/.wh..wh..opq']);
    await expectAllMerges(layers);
  });

  it('writes whiteouts again only for paths the kept layers have (docker-squash #97)', async () => {
    const layers = [
      await tar([{ name: 'etc/', type: 'directory' }, { name: 'etc/keep', content: 'k' }, { name: 'etc/gone', content: 'g' }]),
      await tar([{ name: 'etc/temp', content: 't' }]),
      await tar([{ name: 'etc/.wh.gone' }, { name: 'etc/.wh.temp' }, { name: 'etc/.wh.never' }]),
    ];
    const partial = await merge(layers, { keep: 1 });
    expect(names(partial.entries)).toEqual(['etc/.wh.gone']);
    expect(names((await merge(layers)).entries)).toEqual(['etc/', 'etc/keep']);
    await expectAllMerges(layers);
  });

  it('a hard link whose target is overwritten or deleted above gets the old content', async () => {
    const layers = [
      await tar([{ name: 'bin/', type: 'directory' }, { name: 'bin/tool', content: 'v1', mode: 0o755 }, { name: 'bin/alias', type: 'link', linkname: 'bin/tool' }, { name: 'bin/other', type: 'link', linkname: 'bin/tool' }]),
      await tar([{ name: 'bin/tool', content: 'v2' }]),
      await tar([{ name: 'x', content: 'x' }, { name: 'y', type: 'link', linkname: 'x' }]),
      await tar([{ name: '.wh.x' }]),
    ];
    const { entries } = await merge(layers, { crosslink: false });
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(byName.get('bin/tool')!.content.toString()).toBe('v2');
    expect(byName.get('bin/alias')!.content.toString()).toBe('v1');
    expect(byName.get('bin/other')).toMatchObject({ kind: 'link', target: 'bin/alias' });
    expect(byName.get('y')!.content.toString()).toBe('x');
    expect(byName.has('x')).toBe(false);
    await expectAllMerges(layers);
  });

  it('a hard link written before its target in the layer, whose target is hidden, is copied in one re-read', async () => {
    const layers = [
      await tar([{ name: 'f', content: 'first' }, { name: 'l1', type: 'link', linkname: 'f' }, { name: 'l2', type: 'link', linkname: 'l1' }]),
      await tar([{ name: 'f', content: 'second' }]),
    ];
    let reads = 0;
    const made = layers.map(memoryLayer);
    const open = made[0].open;
    made[0] = { ...made[0], open: () => (reads++, open()) };
    const merged = mergeLayers(made, { crosslink: false });
    const chunks: Buffer[] = [];
    merged.stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    await merged.stats;
    const entries = await read(Buffer.concat(chunks));
    expect(reads).toBe(2);
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(byName.get('f')!.content.toString()).toBe('second');
    expect(byName.get('l1')!.content.toString()).toBe('first');
    expect(byName.get('l2')).toMatchObject({ kind: 'link', target: 'l1' });
    await expectAllMerges(layers);
  });

  it('hard links across layers wait for their target, chains resolve to one file', async () => {
    const layers = [
      await tar([{ name: 'data', content: 'payload' }, { name: 'keepme', content: 'kept' }]),
      await tar([{ name: 'link1', type: 'link', linkname: 'data' }]),
      await tar([{ name: 'link2', type: 'link', linkname: 'link1' }, { name: 'link3', type: 'link', linkname: './keepme' }]),
    ];
    const { entries } = await merge(layers, { crosslink: false });
    const order = names(entries);
    expect(order.indexOf('data')).toBeLessThan(order.indexOf('link1 => data'));
    expect(order).toContain('link2 => data');
    await expectAllMerges(layers);
    // Links into the kept layers stay links.
    const partial = await merge(layers, { keep: 1, crosslink: false });
    expect(names(partial.entries).sort()).toEqual(['link1 => data', 'link2 => data', 'link3 => keepme']);
  });

  it('fails on a hard link whose target no layer has, naming the link', async () => {
    const layers = [await tar([{ name: 'a', content: 'a' }]), await tar([{ name: 'l', type: 'link', linkname: 'missing' }])];
    await expect(merge(layers)).rejects.toThrow(/layer 2 \(sha256:[0-9a-f]{64}\): hard link l points to missing, which no layer has/);
    const deleted = [await tar([{ name: 'a', content: 'a' }]), await tar([{ name: '.wh.a' }]), await tar([{ name: 'l', type: 'link', linkname: 'a' }])];
    await expect(merge(deleted)).rejects.toThrow(/hard link l points to a, which layer 2/);
  });

  it('keeps symlinks (relative, absolute, dangling) and a directory replaced by a symlink hides its old children', async () => {
    const layers = [
      await tar([{ name: 'lib/', type: 'directory' }, { name: 'lib/a.so', content: 'so' }, { name: 'usr/', type: 'directory' }]),
      await tar([
        { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
        { name: 'rel', type: 'symlink', linkname: '../../etc/x' },
        { name: 'abs', type: 'symlink', linkname: '/etc/passwd' },
        { name: 'dangling', type: 'symlink', linkname: 'nowhere' },
      ]),
    ];
    const { entries } = await merge(layers);
    expect(names(entries).sort()).toEqual(['abs', 'dangling', 'lib', 'rel', 'usr/']);
    expect(entries.find((e) => e.name === 'rel')!.header.linkname).toBe('../../etc/x');
    await expectAllMerges(layers);
  });

  it('a file replaced by a directory and back', async () => {
    const layers = [
      await tar([{ name: 'p', content: 'file1' }]),
      await tar([{ name: 'p/', type: 'directory' }, { name: 'p/child', content: 'c' }]),
      await tar([{ name: 'p', content: 'file2' }]),
      await tar([{ name: 'q/', type: 'directory' }, { name: 'q/x', content: 'x' }]),
      await tar([{ name: 'q', content: 'q-file' }]),
      await tar([{ name: 'q/', type: 'directory' }, { name: 'q/y', content: 'y' }]),
    ];
    const { entries } = await merge(layers);
    expect(names(entries).sort()).toEqual(['p', 'q/', 'q/y']);
    await expectAllMerges(layers);
  });

  it('carries long and non-ASCII names, big ids, special modes, xattrs, empty dirs, fifos; normalises ./ prefixes', async () => {
    const long = `${'a'.repeat(90)}/${'b'.repeat(90)}/${'c'.repeat(90)}/file`;
    const capability = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0xff, 0xff]);
    const layers = [
      await tar([
        { name: './bin/', type: 'directory' },
        { name: './bin/ping', content: 'ping', mode: 0o4755, uid: 3_000_000, gid: 2_200_000, pax: { 'SCHILY.xattr.security.capability': capability } },
        { name: './tmp/', type: 'directory', mode: 0o1777 },
        { name: './empty/', type: 'directory', mode: 0o700 },
        { name: './run/fifo', type: 'fifo', mode: 0o600 },
        { name: `./${long}`, content: 'long' },
        { name: './dïr/ünïcödé ☃', content: 'u' },
        { name: './sg', content: 'sg', mode: 0o2755 },
      ]),
      await tar([{ name: 'bin/ping', type: 'link', linkname: `./${long}` }, { name: 'bin/', type: 'directory', mode: 0o750 }, { name: './sg2', type: 'link', linkname: '/sg'.slice(1) }]),
    ];
    const { entries } = await merge([layers[0]]);
    const byName = new Map(entries.map((e) => [e.name, e]));
    const ping = byName.get('bin/ping')!;
    expect([ping.header.uid, ping.header.gid, ping.header.mode & 0o7777]).toEqual([3_000_000, 2_200_000, 0o4755]);
    expect(((ping.header.pax as PaxRecords)['SCHILY.xattr.security.capability'] as Buffer).equals(capability)).toBe(true);
    expect(byName.get('tmp')!.header.mode & 0o7777).toBe(0o1777);
    expect(byName.get('empty')!.kind).toBe('dir');
    expect(byName.get('run/fifo')!.header.type).toBe('fifo');
    expect(byName.get(long)!.content.toString()).toBe('long');
    expect(byName.get('dïr/ünïcödé ☃')!.content.toString()).toBe('u');
    await expectAllMerges(layers);
  });

  it('refuses entries that escape the root, naming layer and entry, and destroys the output', async () => {
    const layers = [await tar([{ name: 'ok', content: 'x' }]), await tar([{ name: '../evil', content: 'x' }])];
    const merged = mergeLayers(layers.map(memoryLayer), {});
    const streamError = new Promise((resolve) => merged.stream.on('error', resolve));
    merged.stream.resume();
    await expect(merged.stats).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/^layer 2 \(sha256:[0-9a-f]{64}\): entry \.\.\/evil escapes the image root$/) });
    await expect(merged.done).rejects.toBeDefined();
    await streamError;
    expect(merged.stream.destroyed).toBe(true);
    const link = [await tar([{ name: 'l', type: 'link', linkname: '../../etc/shadow' }])];
    await expect(merge(link)).rejects.toMatchObject({ exitCode: 2 });
  });

  it('crosslinks identical contents with identical metadata, counts what it saved, and honours prefixes', async () => {
    const big = 'x'.repeat(10_000);
    const layers = [
      await tar([
        { name: 'env1/lib.so', content: big },
        { name: 'env2/lib.so', content: big },
        { name: 'env3/lib.so', content: big, mode: 0o755 },
        { name: 'other/lib.so', content: big },
        { name: 'env1/same-size', content: 'y'.repeat(10_000) },
        { name: 'env1/empty', content: '' },
        { name: 'env2/empty', content: '' },
      ]),
    ];
    const all = await merge(layers);
    const links = all.entries.filter((e) => e.kind === 'link');
    expect(links.map((e) => `${e.name} => ${e.target}`)).toEqual(['env2/lib.so => env1/lib.so', 'other/lib.so => env1/lib.so']);
    expect(all.stats).toMatchObject({ linksMade: 2, bytesSavedByLinks: 20_000 });
    const some = await merge(layers, { crosslink: ['env2', './env1/'] });
    expect(some.entries.filter((e) => e.kind === 'link').map((e) => e.name)).toEqual(['env2/lib.so']);
    const none = await merge(layers, { crosslink: false });
    expect(none.stats.linksMade).toBe(0);
    await expectAllMerges(layers);
  });

  it('counts what upper layers overwrote or deleted, and drops what it is told to', async () => {
    const layers = [
      await tar([{ name: 'a', content: '12345' }, { name: 'b', content: '123' }, { name: '.dockerenv', content: '' }]),
      await tar([{ name: 'a', content: '1' }, { name: '.wh.b' }]),
    ];
    const { stats, entries } = await merge(layers, { drop: (name) => name === '.dockerenv' });
    expect(names(entries)).toEqual(['a']);
    expect(stats).toMatchObject({ filesDropped: 2, bytesDropped: 8, entriesWritten: 1 });
    expect(stats.bytesRead).toBe(layers[0].length + layers[1].length);
  });

  it('streams large files through and spills large held duplicates', async () => {
    const big = Buffer.alloc(9 * 1024 * 1024, 7);
    const other = Buffer.alloc(9 * 1024 * 1024, 8);
    const layers = [await tar([{ name: 'one', content: big }, { name: 'two', content: other }, { name: 'three', content: big }])];
    const { entries, stats } = await merge(layers);
    expect(entries.map((e) => [e.name, e.kind, e.content.length])).toEqual([
      ['one', 'file', big.length],
      ['two', 'file', other.length],
      ['three', 'link', 0],
    ]);
    expect(entries[1].content.equals(other)).toBe(true);
    expect(stats.linksMade).toBe(1);
  });
});

// ---- random layer stacks against the reference applier ---------------------------------------


const DIRS = ['', 'a', 'b', 'a/c', 'a/c/d'];
const FILES = ['f', 'g', 'h'];

async function randomStack(seed: number): Promise<Buffer[]> {
  const rnd = seededRandom(seed);
  const pick = <T,>(items: T[]): T => items[Math.floor(rnd() * items.length)];
  const anyPath = () => {
    const dir = pick(DIRS);
    const leaf = rnd() < 0.3 ? pick(['a', 'b', 'c', 'd']) : pick(FILES);
    return dir ? `${dir}/${leaf}` : leaf;
  };
  const layers: Buffer[] = [];
  const fs: Fs = new Map();
  const count = 2 + Math.floor(rnd() * 4);
  for (let l = 0; l < count; l++) {
    const specs: Spec[] = [];
    const used = new Set<string>();
    const nonDirs = new Set<string>();
    const blocked = (path: string) => used.has(path) || [...ancestors(path)].some((a) => nonDirs.has(a)) || [...used].some((u) => u.startsWith(`${path}/`));
    const add = (spec: Spec) => {
      const name = normalizeName(spec.name);
      if (name === '' || blocked(name)) return;
      used.add(name);
      if (spec.type !== 'directory') nonDirs.add(name);
      specs.push(spec);
    };
    const ops = 1 + Math.floor(rnd() * 7);
    for (let o = 0; o < ops; o++) {
      const op = rnd();
      const existing = [...fs.keys()].filter((k) => k !== '');
      const prefix = rnd() < 0.2 ? './' : '';
      if (op < 0.3) {
        add({ name: prefix + anyPath(), content: pick(['', 'one', 'two', 'three', 'x'.repeat(600)]), mode: pick([0o644, 0o755, 0o4755]), uid: pick([0, 1000, 3_000_000]) });
      } else if (op < 0.42) {
        add({ name: prefix + pick(DIRS.filter(Boolean).concat(['a/b', 'b/c'])), type: 'directory', mode: pick([0o755, 0o700, 0o1777]) });
      } else if (op < 0.5) {
        add({ name: anyPath(), type: 'symlink', linkname: pick(['f', '/a/f', '../g', 'nowhere']) });
      } else if (op < 0.65) {
        // A hard link to a file of this layer (written earlier) or of the layers below.
        const here = specs.filter((s) => (s.type === undefined || s.type === 'file' || s.type === 'link') && !s.name.split('/').pop()!.startsWith('.wh.')).map((s) => normalizeName(s.name));
        const below = existing.filter((k) => {
          const v = fs.get(k);
          return v !== 'implicit' && v?.kind === 'file' && !used.has(k) && ![...ancestors(k)].some((a) => used.has(a)) && !specs.some((s) => s.type !== 'directory' && normalizeName(s.name).length > 0 && (k.startsWith(`${normalizeName(s.name)}/`)));
        });
        const candidates = here.concat(below);
        if (candidates.length === 0) continue;
        const target = pick(candidates);
        const name = anyPath();
        if (name === target) continue;
        add({ name: prefix + name, type: 'link', linkname: pick(['', './']) + target });
        // The target's version is fixed now: nothing later in this layer may write that path.
        used.add(target);
      } else if (op < 0.8) {
        if (existing.length === 0) continue;
        const path = pick(existing);
        const slash = path.lastIndexOf('/');
        const wh = slash === -1 ? `.wh.${path}` : `${path.slice(0, slash)}/.wh.${path.slice(slash + 1)}`;
        if (!used.has(wh) && ![...ancestors(wh)].some((a) => nonDirs.has(a))) {
          used.add(wh);
          specs.push({ name: wh });
        }
      } else if (op < 0.88) {
        const dirs = existing.filter((k) => isDir(fs.get(k)));
        if (dirs.length === 0) continue;
        const dir = pick(dirs);
        const marker = `${dir}/.wh..wh..opq`;
        if (!used.has(marker) && ![...ancestors(marker)].some((a) => nonDirs.has(a))) {
          used.add(marker);
          specs.push({ name: marker });
        }
      } else {
        // Replace: a file where a directory was, or a directory where a file was.
        if (existing.length === 0) continue;
        const path = pick(existing);
        if (isDir(fs.get(path))) add({ name: path, content: 'replaced' });
        else add({ name: path, type: 'directory' });
      }
    }
    // Whiteouts first sometimes, last other times: the same-layer rule must not depend on order.
    if (rnd() < 0.5) specs.sort((x, y) => Number(!normalizeName(x.name).split('/').pop()!.startsWith('.wh.')) - Number(!normalizeName(y.name).split('/').pop()!.startsWith('.wh.')));
    const bytes = await tar(specs);
    applyLayer(fs, await read(bytes));
    layers.push(bytes);
  }
  return layers;
}

describe('mergeLayers on random layer stacks', () => {
  it('gives the filesystem the layers give, full and partial, with and without crosslinks (200 stacks)', async () => {
    for (let seed = 1; seed <= Number(process.env.MERGE_STACKS ?? 200); seed++) {
      const layers = await randomStack(seed);
      for (let keep = 0; keep < layers.length; keep++) {
        for (const crosslink of [false, true]) {
          try {
            await expectSameFilesystem(layers, keep, crosslink);
          } catch (error) {
            const dump = await Promise.all(layers.map(async (l) => names(await read(l))));
            throw new Error(`seed ${seed}, keep ${keep}, crosslink ${crosslink}: ${(error as Error).message}\nlayers: ${JSON.stringify(dump)}`);
          }
        }
      }
    }
  });
});

