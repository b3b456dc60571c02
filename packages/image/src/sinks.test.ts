import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { ImagewrightError } from '@imagewright/core';
import type { Engine } from '@imagewright/docker';
import { BUSYBOX_IMAGE, busyboxImage, dockerCli, ensureEngine, startRegistry, type Registry as TestRegistry, busyboxLayer, filesLayer, untarFiles } from '@imagewright/testing';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryImage, memoryLayer, streamedImage } from './memory';
import { type ImageConfig, type ImageInProgress, type Layer, serializeConfig, sha256Of } from './model';
import { parseTag, tarHeader, tarOf, writeArchive } from './sink-archive';
import { writeOciArchive, writeOciLayout } from './sink-oci';
import { pushToRegistry } from './sink-registry';

// ---- helpers ---------------------------------------------------------------------------------

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], input?: Readable): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
    if (input) input.pipe(child.stdin!);
  });
}

const docker = (args: string[], input?: Readable) => run(dockerCli(), args, input);

async function ok(result: Promise<Run>): Promise<string> {
  const r = await result;
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}




const CONFIG: Partial<ImageConfig> = { config: { Env: ['PATH=/bin'], Cmd: ['sh'], Labels: { 'org.imagewright.test': 'sinks' } } };

const inProgress = (base: Layer[], top: Buffer, options: { baseInEngine?: boolean; failAfter?: number } = {}) => streamedImage(base, top, { ...options, config: CONFIG });

async function inspectImage(engine: Engine, ref: string): Promise<{ Id: string; RepoTags: string[]; RootFS: { Layers: string[] }; Config: { Labels?: Record<string, string> } }> {
  return (await engine.getImage(ref).inspect()) as never;
}

// ---- fixture ---------------------------------------------------------------------------------

let engine: Engine;
let scratch: string;
let busybox: Buffer;
let hello: Buffer;
const loaded = new Set<string>();

beforeAll(async () => {
  engine = await ensureEngine();
  await busyboxImage(engine);
  busybox = await busyboxLayer(engine);
  hello = await filesLayer({ 'hello/world.txt': 'hello from the sink test\n', 'etc/motd': `made ${Date.now()}\n` });
  scratch = mkdtempSync(join(tmpdir(), 'imagewright-sinks-test-'));
});

afterAll(async () => {
  for (const id of loaded) await engine?.getImage(id).remove({ force: true }).catch(() => undefined);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** `docker load -i FILE`, then the image's content through a container. */
async function loadAndRun(file: string, ref: string, command: string[]): Promise<string> {
  const out = await ok(docker(['load', '-i', file]));
  const id = /Loaded image ID: (sha256:[0-9a-f]{64})/.exec(out)?.[1] ?? (await inspectImage(engine, ref)).Id;
  loaded.add(id);
  return ok(docker(['run', '--rm', '--network', 'none', ref, ...command]));
}

// ---- tar and tags ----------------------------------------------------------------------------

describe('tar pieces', () => {
  it('tarOf writes a tar that tar-stream and GNU tar read back', async () => {
    const files = [
      { name: 'a.json', body: Buffer.from('{"a":1}') },
      { name: `blobs/sha256/${'f'.repeat(64)}`, body: Buffer.alloc(513, 7) },
      { name: 'empty', body: Buffer.alloc(0) },
    ];
    const bytes = tarOf(files);
    expect(bytes.length % 512).toBe(0);
    const back = await untarFiles(Readable.from([bytes]));
    expect([...back.keys()]).toEqual(files.map((f) => f.name));
    for (const f of files) expect(back.get(f.name)!.equals(f.body)).toBe(true);
    const path = join(scratch, 'small.tar');
    require('node:fs').writeFileSync(path, bytes);
    const listing = await ok(run('tar', ['-tvf', path]));
    expect(listing).toContain('a.json');
    expect(listing).toMatch(/\b513\b/);
  });

  it('sizes of 8 GiB and more take base-256; the checksum covers the header', () => {
    const size = 8 ** 11 + 12345;
    const header = tarHeader('big', size);
    expect(header[124]).toBe(0x80);
    let decoded = 0;
    for (let i = 125; i < 136; i++) decoded = decoded * 256 + header[i];
    expect(decoded).toBe(size);
    const small = tarHeader('small', 8 ** 11 - 1);
    expect(small.toString('latin1', 124, 136)).toBe('77777777777\0');
    for (const h of [header, small]) {
      const stored = parseInt(h.toString('latin1', 148, 154), 8);
      const copy = Buffer.from(h);
      copy.fill(' ', 148, 156);
      expect(stored).toBe(copy.reduce((n, b) => n + b, 0));
    }
  });

  it.each([
    ['busybox', 'busybox:latest', 'docker.io/library/busybox:latest', 'latest'],
    ['docker.io/library/busybox:1.36', 'busybox:1.36', 'docker.io/library/busybox:1.36', '1.36'],
    ['me/app:v1', 'me/app:v1', 'docker.io/me/app:v1', 'v1'],
    ['127.0.0.1:5000/team/app:x', '127.0.0.1:5000/team/app:x', '127.0.0.1:5000/team/app:x', 'x'],
    ['localhost/app', 'localhost/app:latest', 'localhost/app:latest', 'latest'],
  ])('parseTag(%s)', (text, familiar, full, tag) => {
    expect(parseTag(text)).toMatchObject({ familiar, full, tag });
  });

  it.each(['Upper/app', 'app:', 'app:-x', 'a//b', ''])('parseTag(%j) is a usage error naming it', (text) => {
    expect(() => parseTag(text, '--tag')).toThrow(ImagewrightError);
    expect(() => parseTag(text, '--tag')).toThrow(`--tag ${JSON.stringify(text)}`);
  });
});

// ---- docker save archives --------------------------------------------------------------------

describe('writeArchive', () => {
  it('an Image to a file: docker load gives the tag, the config bytes and the layers; skopeo reads it as docker-archive and oci-archive', async () => {
    const image = memoryImage([busybox, hello], CONFIG);
    const file = join(scratch, 'image.tar');
    const tag = 'imagewright-test/sink-archive:image';
    await writeArchive(image, { file }, { tags: [tag] });
    expect(readdirSync(scratch).filter((f) => f.includes('.partial'))).toEqual([]);
    const content = await loadAndRun(file, tag, ['cat', '/hello/world.txt']);
    expect(content).toBe('hello from the sink test\n');
    const inspected = await inspectImage(engine, tag);
    expect(inspected.Id).toBe(sha256Of(await image.configBytes()));
    expect(inspected.RootFS.Layers).toEqual((await image.layers()).map((l) => l.diffId));
    expect(inspected.Config.Labels).toEqual({ 'org.imagewright.test': 'sinks' });

    for (const transport of ['docker-archive', 'oci-archive']) {
      const info = JSON.parse(await ok(run('skopeo', ['inspect', `${transport}:${file}`]))) as { Layers: string[]; Labels: Record<string, string> };
      expect(info.Layers, transport).toEqual((await image.layers()).map((l) => l.diffId));
      expect(info.Labels).toEqual({ 'org.imagewright.test': 'sinks' });
      const config = await run('skopeo', ['inspect', '--config', '--raw', `${transport}:${file}`]);
      expect(sha256Of(Buffer.from(config.stdout, 'utf8')), transport).toBe(inspected.Id);
    }
    // The OCI index names the tag as Docker 25 does.
    const index = JSON.parse((await untarFiles(Readable.from([readFileSync(file)]))).get('index.json')!.toString('utf8'));
    expect(index.manifests[0].annotations).toEqual({ 'io.containerd.image.name': `docker.io/${tag}`, 'org.opencontainers.image.ref.name': 'image' });
  });

  it('an image in progress to a file: the top layer is patched in place; the loaded ID is the sha256 of configFor', async () => {
    // Over 1 MiB: several batched writes before the header is patched.
    const top = await filesLayer({ 'top/file': 'top layer\n'.repeat(5000), 'top/random': require('node:crypto').randomBytes(3 << 20).toString('latin1') });
    const image = inProgress([memoryLayer(busybox)], top);
    const file = join(scratch, 'in-progress.tar');
    const tag = 'imagewright-test/sink-archive:in-progress';
    await writeArchive(image, { file }, { tags: [tag] });
    expect(existsSync(`${file}.partial`)).toBe(false);
    const names = [...(await untarFiles(Readable.from([readFileSync(file)]))).keys()];
    expect(names).toContain(`blobs/sha256/${sha256Of(top).slice(7)}`);
    expect(names).not.toContain(`blobs/sha256/${'0'.repeat(64)}`);
    expect(await loadAndRun(file, tag, ['wc', '-c', '/top/file'])).toContain(String(50_000));
    const inspected = await inspectImage(engine, tag);
    expect(image.configs.length).toBeGreaterThan(0);
    expect(inspected.Id).toBe(sha256Of(image.configs[0]));
    expect(inspected.RootFS.Layers).toEqual([sha256Of(busybox), sha256Of(top)]);
  });

  it('an image in progress to a stream (docker load from stdin): the top layer is spooled in a private temp folder, removed after', async () => {
    const top = await filesLayer({ 'streamed/file': 'streamed\n' });
    const image = inProgress([memoryLayer(busybox)], top);
    const spools = mkdtempSync(join(scratch, 'tmp-'));
    const before = process.env.TMPDIR;
    process.env.TMPDIR = spools;
    const seen: string[] = [];
    const watch = setInterval(() => seen.push(...readdirSync(spools)), 1);
    try {
      const pipe = new PassThrough();
      const loading = docker(['load'], pipe);
      await writeArchive(image, { stream: pipe }, { tags: ['imagewright-test/sink-archive:streamed'] });
      const out = await loading;
      expect(out.code, out.stderr).toBe(0);
      expect(out.stdout).toContain('Loaded image: imagewright-test/sink-archive:streamed');
    } finally {
      clearInterval(watch);
      if (before === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = before;
    }
    expect(readdirSync(spools)).toEqual([]);
    expect(seen.some((name) => name.startsWith('imagewright-spool-'))).toBe(true);
    const inspected = await inspectImage(engine, 'imagewright-test/sink-archive:streamed');
    loaded.add(inspected.Id);
    expect(inspected.Id).toBe(sha256Of(image.configs[0]));
    expect(inspected.RootFS.Layers).toEqual([sha256Of(busybox), sha256Of(top)]);
  });

  it('to the process stdout, piped into docker load: the archive is complete', async () => {
    const dist = join(__dirname, '..', 'dist');
    expect(existsSync(join(dist, 'sink-archive.js')), `${dist}: build the package first (nx test does)`).toBe(true);
    const tag = 'imagewright-test/sink-archive:stdout';
    const script = `
      const { writeArchive } = require(${JSON.stringify(join(dist, 'sink-archive.js'))});
      const { memoryImage } = require(${JSON.stringify(join(dist, 'memory.js'))});
      const layer = Buffer.from(process.env.LAYER_TAR, 'base64');
      writeArchive(memoryImage([layer]), { stream: process.stdout }, { tags: [${JSON.stringify(tag)}] })
        .then(() => process.stderr.write('written\\n'), (e) => { process.stderr.write(e.message); process.exit(1); });
    `;
    const layer = await filesLayer({ 'stdout/file': 'through stdout\n' });
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LAYER_TAR: layer.toString('base64') } });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const loading = docker(['load'], child.stdout!);
    const [code] = await once(child, 'exit');
    expect(code, stderr).toBe(0);
    expect(stderr).toBe('written\n');
    const out = await loading;
    expect(out.code, out.stderr).toBe(0);
    const inspected = await inspectImage(engine, tag);
    loaded.add(inspected.Id);
    expect(inspected.RootFS.Layers).toEqual([sha256Of(layer)]);
  });

  it('a merge error midway rejects and leaves neither FILE nor FILE.partial', async () => {
    const top = await filesLayer({ 'big/file': 'x'.repeat(200_000) });
    const image = inProgress([memoryLayer(busybox)], top, { failAfter: 100_000 });
    const dir = mkdtempSync(join(scratch, 'interrupted-'));
    await expect(writeArchive(image, { file: join(dir, 'out.tar') }, { tags: [] })).rejects.toThrow('merge failed');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a process killed by SIGTERM while writing leaves no FILE.partial', async () => {
    const built = join(__dirname, '..', 'dist', 'sink-archive.js');
    expect(existsSync(built), `${built}: build the package first (nx test does)`).toBe(true);
    const dir = mkdtempSync(join(scratch, 'killed-'));
    const file = join(dir, 'out.tar');
    // A top layer that never ends: the writer is mid-layer when the signal comes.
    const script = `
      const { PassThrough } = require('node:stream');
      const { writeArchive } = require(${JSON.stringify(built)});
      const stream = new PassThrough();
      const timer = setInterval(() => stream.write(Buffer.alloc(65536)), 5);
      writeArchive({ name: 'endless', base: [], baseInEngine: false, top: { stream, done: new Promise(() => {}) }, configFor: () => Buffer.from('{}') },
        { file: ${JSON.stringify(file)} }, { tags: [] });
      setTimeout(() => process.stdout.write('writing\\n'), 300);
    `;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(child.stdout!, 'data');
    expect(readdirSync(dir)).toEqual(['out.tar.partial']);
    child.kill('SIGTERM');
    const [code, signal] = await once(child, 'exit');
    expect(signal ?? code).toBe('SIGTERM');
    expect(readdirSync(dir)).toEqual([]);
  });
});

// ---- OCI layouts -----------------------------------------------------------------------------

describe('OCI layouts', () => {
  it('writeOciLayout: skopeo reads each image under its tag; a second image keeps the first', async () => {
    const dir = join(scratch, 'layout');
    const first = memoryImage([busybox, hello], CONFIG);
    const top = await filesLayer({ 'oci/top': 'oci top\n' });
    const second = inProgress([memoryLayer(busybox)], top);
    const a = await writeOciLayout(first, dir, { tag: 'first' });
    const b = await writeOciLayout(second, dir, { tag: 'second' });
    expect(readdirSync(join(dir, 'blobs', 'sha256')).filter((f) => f.startsWith('.'))).toEqual([]);
    for (const [tag, result, layers, config] of [
      ['first', a, (await first.layers()).map((l) => l.diffId), await first.configBytes()],
      ['second', b, [sha256Of(busybox), sha256Of(top)], second.configs[0]],
    ] as const) {
      const info = JSON.parse(await ok(run('skopeo', ['inspect', `oci:${dir}:${tag}`]))) as { Digest: string; Layers: string[] };
      expect(info.Digest).toBe(result.digest);
      expect(info.Layers).toEqual(layers);
      const raw = await run('skopeo', ['inspect', '--config', '--raw', `oci:${dir}:${tag}`]);
      expect(Buffer.from(raw.stdout, 'utf8').equals(config)).toBe(true);
    }
    // Writing under an existing tag replaces that entry only.
    await writeOciLayout(first, dir, { tag: 'second' });
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations: Record<string, string> }> };
    expect(index.manifests.map((m) => [m.annotations['org.opencontainers.image.ref.name'], m.digest])).toEqual([
      ['first', a.digest],
      ['second', a.digest],
    ]);
  });

  it('writeOciArchive of an image in progress: skopeo copies it into the Engine with our config', async () => {
    const top = await filesLayer({ 'oci-archive/top': 'archived\n' });
    const image = inProgress([memoryLayer(busybox)], top);
    const file = join(scratch, 'oci.tar');
    const result = await writeOciArchive(image, file, { tag: 'v1' });
    expect(existsSync(`${file}.partial`)).toBe(false);
    const info = JSON.parse(await ok(run('skopeo', ['inspect', `oci-archive:${file}:v1`]))) as { Digest: string; Layers: string[] };
    expect(info.Digest).toBe(result.digest);
    expect(info.Layers).toEqual([sha256Of(busybox), sha256Of(top)]);
    const raw = await run('skopeo', ['inspect', '--config', '--raw', `oci-archive:${file}:v1`]);
    expect(sha256Of(Buffer.from(raw.stdout, 'utf8'))).toBe(sha256Of(image.configs[0]));
  });
});

// ---- registry --------------------------------------------------------------------------------

describe('pushToRegistry', () => {
  let registry: TestRegistry;
  let env: NodeJS.ProcessEnv;
  let authfile: string;

  beforeAll(async () => {
    registry = await startRegistry();
    const config = mkdtempSync(join(scratch, 'docker-config-'));
    authfile = join(config, 'config.json');
    require('node:fs').writeFileSync(authfile, JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${registry.username}:${registry.password}`).toString('base64') } } }), { mode: 0o600 });
    env = { DOCKER_CONFIG: config };
  });

  afterAll(async () => {
    await registry?.stop();
  });

  async function skopeoInspect(ref: string, extra: string[] = []): Promise<string> {
    return ok(run('skopeo', ['inspect', '--tls-verify=false', '--authfile', authfile, ...extra, `docker://${ref}`]));
  }

  it('an image in progress: gzip top layer streamed; skopeo and an Engine pull see our config and diff ids', async () => {
    const top = await filesLayer({ 'pushed/file': 'pushed\n'.repeat(1000) });
    const image = inProgress([memoryLayer(busybox)], top);
    const ref = `${registry.host}/sinks/in-progress:v1`;
    const { digest } = await pushToRegistry(image, ref, { env });
    const manifest = JSON.parse(await skopeoInspect(ref, ['--raw'])) as { mediaType: string; config: { digest: string }; layers: Array<{ mediaType: string; digest: string }> };
    expect(sha256Of(Buffer.from(JSON.stringify(manifest)))).toBe(digest);
    expect(manifest.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(manifest.layers.map((l) => l.mediaType)).toEqual(Array(2).fill('application/vnd.docker.image.rootfs.diff.tar.gzip'));
    // Layers are stored gzipped: their digests are not the diff ids.
    expect(manifest.layers.map((l) => l.digest)).not.toContain(sha256Of(top));
    expect(manifest.config.digest).toBe(sha256Of(image.configs[0]));

    // The Engine pulls from 127.0.0.1 over plain HTTP: it trusts loopback registries.
    await ok(docker(['--config', join(authfile, '..'), 'pull', '--quiet', ref]));
    const pulled = await inspectImage(engine, ref);
    loaded.add(pulled.Id);
    expect(pulled.Id).toBe(sha256Of(image.configs[0]));
    expect(pulled.RootFS.Layers).toEqual([sha256Of(busybox), sha256Of(top)]);
    expect(await ok(docker(['run', '--rm', '--network', 'none', ref, 'head', '-1', '/pushed/file']))).toBe('pushed\n');
  });

  it('the same Image pushed twice gives the same manifest; layers stored as gzip are mounted from the source repository, never read', async () => {
    const image = memoryImage([busybox, hello], CONFIG);
    const first = `${registry.host}/sinks/source:v1`;
    await pushToRegistry(image, first, { env });
    // Same bytes in: the gzip of the same tar is the same blob.
    const again = await pushToRegistry(image, `${registry.host}/sinks/source:v2`, { env });
    const v1 = JSON.parse(await skopeoInspect(first, ['--raw'])) as { layers: Array<{ digest: string }> };
    const v2 = JSON.parse(await skopeoInspect(`${registry.host}/sinks/source:v2`, ['--raw'])) as { layers: Array<{ digest: string }> };
    expect(v2.layers).toEqual(v1.layers);
    expect(again.digest).toBe(sha256Of(Buffer.from(JSON.stringify(v1))));

    // Base layers as a registry source gives them: gzip blobs, mounted into another repository.
    const { distributionRegistry } = require('@imagewright/registry') as typeof import('@imagewright/registry');
    const client = distributionRegistry(registry.host, { env });
    const stored: Layer[] = v1.layers.map((l, i) => ({
      diffId: sha256Of(i === 0 ? busybox : hello),
      digest: l.digest,
      mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
      size: (l as unknown as { size: number }).size,
      open: async () => {
        throw new Error('a stored gzip layer must not be re-read');
      },
      openBlob: async () => {
        throw new Error('a mounted layer must not be downloaded');
      },
    }));
    const top = await filesLayer({ 'mounted/top': 'on mounted layers\n' });
    const image2 = inProgress(stored, top);
    const target = `${registry.host}/sinks/mounted:v1`;
    await pushToRegistry(image2, target, { env, sourceRegistry: { host: registry.host, repository: 'sinks/source' } });
    for (const layer of v1.layers) expect(await client.headBlob('sinks/mounted', layer.digest)).toBeDefined();
    const info = JSON.parse(await skopeoInspect(target, ['--config', '--raw'])) as { rootfs: { diff_ids: string[] } };
    expect(info.rootfs.diff_ids).toEqual([sha256Of(busybox), sha256Of(hello), sha256Of(top)]);
  });

  it('a reference without a registry host is a usage error', async () => {
    await expect(pushToRegistry(memoryImage([hello]), 'app:v1', { env })).rejects.toThrow(/docker:\/\/app: allowed HOST/);
  });
});
