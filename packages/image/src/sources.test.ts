import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveIndex } from './archive-index';
import { type Image, type ImageConfig } from './model';
import { openImage } from './open';
import { normaliseTag } from './source-archive';
import { choosePlatform, parsePlatform } from './source-oci';
import { splitRegistryRef } from './source-registry';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const hex = (digest: string) => digest.slice('sha256:'.length);

interface TarItem {
  name: string;
  data?: Buffer | string;
  type?: 'file' | 'symlink' | 'directory' | 'link';
  linkname?: string;
}

async function packTar(items: TarItem[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const item of items) {
    if (item.type && item.type !== 'file') pack.entry({ name: item.name, type: item.type, linkname: item.linkname });
    else pack.entry({ name: item.name, mode: 0o644 }, item.data ?? '');
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** A layer tar with the given files (content made unique by `seed`). */
const layerTar = (seed: string, files: string[]) => packTar(files.map((f) => ({ name: f, data: `${seed}:${f}\n`.repeat(50) })));

async function readStream(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function configFor(diffIds: string[], extra: Partial<ImageConfig> = {}): Buffer {
  const config: ImageConfig = {
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/bin'], Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `step ${i}` })),
    ...extra,
  };
  return Buffer.from(JSON.stringify(config));
}

async function expectLayers(image: Image, tars: Buffer[]): Promise<void> {
  const layers = await image.layers();
  expect(layers.map((l) => l.diffId)).toEqual(tars.map(sha));
  expect((await image.config()).rootfs.diff_ids).toEqual(tars.map(sha));
  for (const [i, layer] of layers.entries()) expect(sha(await readStream(await layer.open()))).toBe(sha(tars[i]));
  // Random access: a layer reads again.
  expect(sha(await readStream(await layers[0].open()))).toBe(sha(tars[0]));
}

let dir: string;
let tars: Buffer[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'imagewright-sources-'));
  tars = [await layerTar('a', ['bin/a', 'etc/a']), await layerTar('b', ['bin/b']), await layerTar('c', ['usr/c', 'usr/d'])];
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Docker ≤24 `docker save`: layers [a, b, a(again: a symlink), c(gzip)], two tagged images. */
async function legacyArchive(file: string): Promise<{ layers: Buffer[]; config: Buffer }> {
  const layers = [tars[0], tars[1], tars[0], tars[2]];
  const config = configFor(layers.map(sha));
  const id = hex(sha(config));
  const other = configFor([sha(tars[1])], { author: 'other' });
  const v1 = ['1'.repeat(64), '2'.repeat(64), '3'.repeat(64), '4'.repeat(64)];
  const items: TarItem[] = [
    // Random order as the Engine writes them: the symlink before its target, manifest.json last.
    { name: `${v1[2]}/`, type: 'directory' },
    { name: `${v1[2]}/layer.tar`, type: 'symlink', linkname: `../${v1[0]}/layer.tar` },
    { name: `${v1[3]}/`, type: 'directory' },
    { name: `${v1[3]}/layer.tar`, data: gzipSync(tars[2]) },
    { name: `${id}.json`, data: config },
    { name: `${hex(sha(other))}.json`, data: other },
    { name: `${v1[0]}/`, type: 'directory' },
    { name: `${v1[0]}/VERSION`, data: '1.0' },
    { name: `${v1[0]}/json`, data: '{}' },
    { name: `${v1[0]}/layer.tar`, data: tars[0] },
    { name: `${v1[1]}/layer.tar`, data: tars[1] },
    {
      name: 'manifest.json',
      data: JSON.stringify([
        { Config: `${id}.json`, RepoTags: ['test/img:1', 'test/img:latest'], Layers: v1.map((v) => `${v}/layer.tar`) },
        { Config: `${hex(sha(other))}.json`, RepoTags: ['registry.local:5000/other:2'], Layers: [`${v1[1]}/layer.tar`] },
      ]),
    },
  ];
  writeFileSync(file, await packTar(items));
  return { layers, config };
}

/** Docker ≥25 `docker save`: OCI layout blobs plus manifest.json. */
async function ociSaveArchive(file: string): Promise<{ layers: Buffer[]; config: Buffer }> {
  const layers = [tars[1], tars[2]];
  const config = configFor(layers.map(sha));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(l), size: l.length })),
    }),
  );
  const index = { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'new' } }] };
  writeFileSync(
    file,
    await packTar([
      { name: 'blobs/', type: 'directory' },
      { name: 'blobs/sha256/', type: 'directory' },
      ...layers.map((l) => ({ name: `blobs/sha256/${hex(sha(l))}`, data: l })),
      { name: `blobs/sha256/${hex(sha(config))}`, data: config },
      { name: `blobs/sha256/${hex(sha(manifest))}`, data: manifest },
      { name: 'index.json', data: JSON.stringify(index) },
      { name: 'manifest.json', data: JSON.stringify([{ Config: `blobs/sha256/${hex(sha(config))}`, RepoTags: ['test/new:25'], Layers: layers.map((l) => `blobs/sha256/${hex(sha(l))}`) }]) },
      { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
    ]),
  );
  return { layers, config };
}

describe('docker-archive', () => {
  it('reads the Docker ≤24 layout: symlinked repeated layer, gzip layer, image chosen by tag', async () => {
    const file = join(dir, 'legacy.tar');
    const { layers, config } = await legacyArchive(file);
    const image = await openImage(`docker-archive:${file}:test/img:1`);
    try {
      expect(image.tags).toEqual(['test/img:1', 'test/img:latest']);
      expect(sha(await image.configBytes())).toBe(sha(config));
      await expectLayers(image, layers);
      const stored = await image.layers();
      expect(stored[2].size).toBe(tars[0].length); // the symlink resolves to the first copy
      expect(stored[3].mediaType).toMatch(/gzip/);
      expect(stored[3].digest).toBe(sha(gzipSync(tars[2])));
      expect(sha(await readStream(await stored[3].openBlob()))).toBe(stored[3].digest);
    } finally {
      await image.close();
      await image.close();
    }
    const other = await openImage(`docker-archive:${file}:registry.local:5000/other:2`);
    expect((await other.config()).author).toBe('other');
    await other.close();
    const byIndex = await openImage(`docker-archive:${file}:@1`);
    expect((await byIndex.layers()).map((l) => l.diffId)).toEqual([sha(tars[1])]);
    await byIndex.close();
  });

  it('reads the Docker ≥25 layout (blobs named by digest) through manifest.json', async () => {
    const file = join(dir, 'oci-save.tar');
    const { layers } = await ociSaveArchive(file);
    const image = await openImage(`docker-archive:${file}`);
    try {
      expect(image.tags).toEqual(['test/new:25']);
      await expectLayers(image, layers);
    } finally {
      await image.close();
    }
  });

  it('refuses bad input with one line naming it and what is allowed', async () => {
    const file = join(dir, 'legacy-bad.tar');
    await legacyArchive(file);
    await expect(openImage(`docker-archive:${file}`)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/holds 2 images; name one .*test\/img:1/) });
    await expect(openImage(`docker-archive:${file}:nope:1`)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/no image tagged nope:1.*it holds test\/img:1/) });
    await expect(openImage(`docker-archive:${join(dir, 'missing.tar')}`, { input: '--from' })).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/^--from docker-archive:.*missing\.tar: no such file; allowed a tar file/) });
    const text = join(dir, 'text.tar');
    writeFileSync(text, 'hello world\n'.repeat(100));
    await expect(openImage(`docker-archive:${text}`)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/not a tar file/) });
    const gz = join(dir, 'gz.tar.gz');
    writeFileSync(gz, gzipSync(await packTar([{ name: 'x', data: 'x' }])));
    await expect(openImage(`docker-archive:${gz}`)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/gzip-compressed file/) });
    const plain = join(dir, 'plain.tar');
    writeFileSync(plain, await packTar([{ name: 'etc/passwd', data: 'root' }]));
    await expect(openImage(`docker-archive:${plain}`)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/no manifest\.json \(not a docker save archive\)/) });
    const oci = join(dir, 'oci-only.tar');
    writeFileSync(oci, await packTar([{ name: 'index.json', data: '{"manifests":[]}' }, { name: 'oci-layout', data: '{}' }]));
    await expect(openImage(`docker-archive:${oci}`)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/use oci-archive:/) });
  });

  it('fails a layer whose bytes do not match its diff id, naming the layer', async () => {
    const layers = [tars[0], tars[1]];
    const config = configFor([sha(tars[0]), sha(tars[2])]); // the second diff id lies
    const file = join(dir, 'corrupt.tar');
    writeFileSync(
      file,
      await packTar([
        { name: 'c.json', data: config },
        { name: 'l0/layer.tar', data: layers[0] },
        { name: 'l1/layer.tar', data: gzipSync(layers[1]) },
        { name: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', RepoTags: null, Layers: ['l0/layer.tar', 'l1/layer.tar'] }]) },
      ]),
    );
    const image = await openImage(`docker-archive:${file}`);
    const [good, bad] = await image.layers();
    expect(sha(await readStream(await good.open()))).toBe(sha(tars[0]));
    await expect(readStream(await bad.open())).rejects.toMatchObject({ exitCode: 1, message: expect.stringMatching(/layer 2\/2 \(l1\/layer\.tar\).*digest is .*not sha256:/) });
    await image.close();
  });

  it('refuses a zstd layer with one line', async () => {
    const zstdMagic = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(60)]);
    const config = configFor([sha(tars[0])]);
    const file = join(dir, 'zstd.tar');
    writeFileSync(file, await packTar([{ name: 'c.json', data: config }, { name: 'l/layer.tar', data: zstdMagic }, { name: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', Layers: ['l/layer.tar'] }]) }]));
    const image = await openImage(`docker-archive:${file}`);
    await expect((await image.layers())[0].open()).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/zstd-compressed layer; allowed uncompressed or gzip/) });
    await image.close();
  });
});

/** An OCI layout: index.json → a nested index (amd64, arm64) named "multi", and a plain manifest named "single". */
async function ociLayout(root: string): Promise<{ amd64: Buffer[]; arm64: Buffer[]; single: Buffer[] }> {
  const blobs = new Map<string, Buffer>();
  const put = (b: Buffer) => {
    blobs.set(sha(b), b);
    return sha(b);
  };
  const image = (layers: Buffer[], gzip: boolean, arch: string) => {
    const config = configFor(layers.map(sha), { architecture: arch });
    const stored = layers.map((l) => (gzip ? gzipSync(l) : l));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: put(config), size: config.length },
        layers: stored.map((s) => ({ mediaType: `application/vnd.oci.image.layer.v1.tar${gzip ? '+gzip' : ''}`, digest: put(s), size: s.length })),
      }),
    );
    return { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: put(manifest), size: manifest.length };
  };
  const amd64 = [tars[0], tars[1]];
  const arm64 = [tars[2]];
  const single = [tars[1]];
  const nested = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: 'application/vnd.example.unknown+json', digest: sha('x'), size: 1 },
        { ...image(arm64, false, 'arm64'), platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        { ...image(amd64, true, 'amd64'), platform: { os: 'linux', architecture: 'amd64' } },
      ],
    }),
  );
  const index = {
    schemaVersion: 2,
    manifests: [
      { mediaType: 'application/vnd.oci.image.index.v1+json', digest: put(nested), size: nested.length, annotations: { 'org.opencontainers.image.ref.name': 'multi' } },
      { ...image(single, false, 'amd64'), annotations: { 'org.opencontainers.image.ref.name': 'single', 'io.containerd.image.name': 'example.com/single:1' } },
    ],
  };
  mkdirSync(join(root, 'blobs', 'sha256'), { recursive: true });
  for (const [digest, bytes] of blobs) writeFileSync(join(root, 'blobs', 'sha256', hex(digest)), bytes);
  writeFileSync(join(root, 'index.json'), JSON.stringify(index));
  writeFileSync(join(root, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  return { amd64, arm64, single };
}

async function tarDirectory(root: string, file: string): Promise<void> {
  const { readdirSync, readFileSync, statSync } = await import('node:fs');
  const items: TarItem[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      if (statSync(join(root, path)).isDirectory()) {
        items.push({ name: `./${path}/`, type: 'directory' });
        walk(path);
      } else items.push({ name: `./${path}`, data: readFileSync(join(root, path)) });
    }
  };
  walk('');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, await packTar(items));
}

describe('oci and oci-archive', () => {
  let layout: string;
  let made: Awaited<ReturnType<typeof ociLayout>>;
  beforeAll(async () => {
    layout = join(dir, 'layout');
    made = await ociLayout(layout);
    await tarDirectory(layout, join(dir, 'layout.tar'));
  });

  for (const transport of ['oci', 'oci-archive'] as const) {
    const where = () => (transport === 'oci' ? layout : join(dir, 'layout.tar'));

    it(`${transport}: a ref name through a nested index, the platform chosen, gzip layers decompressed`, async () => {
      const amd = await openImage(`${transport}:${where()}:multi`);
      try {
        expect((await amd.config()).architecture).toBe('amd64');
        expect(amd.tags).toEqual(['multi']);
        await expectLayers(amd, made.amd64);
        const [first] = await amd.layers();
        expect(first.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
        expect(sha(await readStream(await first.openBlob()))).toBe(first.digest);
      } finally {
        await amd.close();
      }
      const arm = await openImage(`${transport}:${where()}:multi`, { platform: 'linux/arm64' });
      await expectLayers(arm, made.arm64);
      await arm.close();
      await expect(openImage(`${transport}:${where()}:multi`, { platform: 'linux/s390x' })).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/no image for linux\/s390x; it has linux\/arm64\/v8, linux\/amd64/) });
      const single = await openImage(`${transport}:${where()}:single`);
      expect(single.tags).toEqual(['single', 'example.com/single:1']);
      await expectLayers(single, made.single);
      await single.close();
    });

    it(`${transport}: refuses a missing ref, an ambiguous layout and a missing layout`, async () => {
      await expect(openImage(`${transport}:${where()}:nope`)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/nope: no image with that ref name; allowed a ref name or @N; it holds multi, single/) });
      await expect(openImage(`${transport}:${where()}`)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/holds 2 images; name one/) });
      await expect(openImage(`${transport}:${join(dir, 'nowhere')}`)).rejects.toMatchObject({ exitCode: 2 });
    });
  }

  it('oci: a directory without index.json is refused', async () => {
    const empty = join(dir, 'empty-layout');
    mkdirSync(empty, { recursive: true });
    await expect(openImage(`oci:${empty}`)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/no index\.json; allowed an OCI image layout/) });
  });
});

describe('archive index', () => {
  it('indexes long names (PAX), follows symlinks and hard links, reads byte ranges', async () => {
    const long = `${'d'.repeat(120)}/${'n'.repeat(130)}`;
    const file = join(dir, 'index.tar');
    writeFileSync(
      file,
      await packTar([
        { name: long, data: 'long one' },
        { name: 'dir/link', type: 'symlink', linkname: `../${long}` },
        { name: 'hard', type: 'link', linkname: long },
        { name: 'empty', data: '' },
        { name: 'ünïcode', data: 'ü' },
      ]),
    );
    const index = await ArchiveIndex.open(file, 'test');
    expect(index.resolve('dir/link')?.name).toBe(long);
    expect(index.resolve('hard')?.name).toBe(long);
    expect((await index.read('dir/link')).toString()).toBe('long one');
    expect((await readStream(index.stream('empty'))).length).toBe(0);
    expect((await readStream(index.stream('./ünïcode'))).toString()).toBe('ü');
    expect(index.has('nothing')).toBe(false);
    await index.close();
  });
});

describe('references and platforms', () => {
  it('normalises tags as docker shows them', () => {
    expect(normaliseTag('docker.io/library/busybox')).toBe('busybox:latest');
    expect(normaliseTag('localhost:5000/x')).toBe('localhost:5000/x:latest');
    expect(normaliseTag('a/b:1')).toBe('a/b:1');
  });

  it('splits registry references', () => {
    expect(splitRegistryRef('busybox')).toMatchObject({ host: 'docker.io', repository: 'library/busybox', reference: 'latest' });
    expect(splitRegistryRef('127.0.0.1:5000/a/b:t')).toMatchObject({ host: '127.0.0.1:5000', repository: 'a/b', tag: 't', reference: 't' });
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(splitRegistryRef(`ghcr.io/o/r:t@${digest}`)).toMatchObject({ host: 'ghcr.io', repository: 'o/r', tag: 't', reference: digest });
    expect(() => splitRegistryRef('Bad/Repo')).toThrow(/invalid repository name/);
    expect(() => splitRegistryRef('a@sha256:xyz')).toThrow(/invalid digest/);
  });

  it('chooses a platform', () => {
    const d = (architecture: string, variant?: string) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: architecture, size: 1, platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) } });
    const list = [d('arm', 'v7'), d('arm64', 'v8'), d('amd64')];
    expect(choosePlatform(list, parsePlatform(undefined), 'x').digest).toBe('amd64');
    expect(choosePlatform(list, parsePlatform('linux/arm64'), 'x').digest).toBe('arm64');
    expect(() => parsePlatform('linux')).toThrow(/allowed os\/arch/);
  });
});
