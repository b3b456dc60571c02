import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { followProgress, type Engine } from '@imagewright/docker';
import { BUSYBOX_IMAGE, busyboxImage, dockerConfigWith, ensureEngine, skopeo, startRegistry, type Registry } from '@imagewright/testing';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eachLayer, type Image } from './model';
import { openImage } from './open';
import { openEngineImage } from './source-engine';

const IMAGE = 'imagewright-test/sources:3';
const REPEATS = 'imagewright-test/sources:repeats';

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function hashStream(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

async function packTar(entries: { name: string; data: string }[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const e of entries) pack.entry({ name: e.name, mode: 0o644, mtime: new Date(0) }, e.data);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** busybox + two COPY layers: three layers, built through the Engine (no registry). */
async function threeLayerImage(engine: Engine): Promise<void> {
  await busyboxImage(engine);
  const context = tar.pack();
  context.entry({ name: 'Dockerfile' }, `FROM ${BUSYBOX_IMAGE}\nCOPY one /one\nCOPY two /d/two\nLABEL imagewright.test=sources\n`);
  context.entry({ name: 'one' }, 'one\n'.repeat(1000));
  context.entry({ name: 'two' }, Buffer.alloc(200_000, 7));
  context.finalize();
  await followProgress((await engine.buildImage(context as unknown as NodeJS.ReadableStream, { t: IMAGE, rm: true })) as never);
}

/** An image whose layers repeat ([a, b, a]): `docker save` writes the repeat as a symlink. Loaded from a hand-made archive. */
async function repeatingImage(engine: Engine): Promise<string[]> {
  const a = await packTar([{ name: 'a', data: 'a\n'.repeat(100) }]);
  const b = await packTar([{ name: 'b', data: 'b\n'.repeat(100) }]);
  const diffIds = [sha(a), sha(b), sha(a)];
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: diffIds.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `layer ${i}` })),
    }),
  );
  const archive = tar.pack();
  archive.entry({ name: 'config.json' }, config);
  archive.entry({ name: 'a/layer.tar' }, a);
  archive.entry({ name: 'b/layer.tar' }, b);
  archive.entry({ name: 'manifest.json' }, JSON.stringify([{ Config: 'config.json', RepoTags: [REPEATS], Layers: ['a/layer.tar', 'b/layer.tar', 'a/layer.tar'] }]));
  archive.finalize();
  await followProgress((await engine.loadImage(archive as unknown as NodeJS.ReadableStream)) as never);
  return diffIds;
}

/** Every layer's bytes hash to its diff id, read bottom → top. */
async function checkLayers(image: Image, diffIds: string[]): Promise<void> {
  const layers = await image.layers();
  expect(layers.map((l) => l.diffId)).toEqual(diffIds);
  expect((await image.config()).rootfs.diff_ids).toEqual(diffIds);
  for (const layer of layers) expect(await hashStream(await layer.open())).toBe(layer.diffId);
}

let engine: Engine;
let dir: string;
let id: string;
let diffIds: string[];

beforeAll(async () => {
  engine = await ensureEngine();
  dir = mkdtempSync(join(tmpdir(), 'imagewright-sources-engine-'));
  await threeLayerImage(engine);
  const info = await engine.getImage(IMAGE).inspect();
  id = info.Id;
  diffIds = info.RootFS.Layers ?? [];
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  for (const tag of [IMAGE, REPEATS]) await engine.getImage(tag).remove().catch(() => undefined);
});

describe('archives and layouts made by the Engine and skopeo', () => {
  it('the test image has three layers', () => {
    expect(diffIds).toHaveLength(3);
  });

  it('docker-archive: a docker save file reads with every layer matching its diff id', async () => {
    const file = join(dir, 'saved.tar');
    await pipeline((await engine.getImage(IMAGE).get()) as unknown as Readable, createWriteStream(file));
    const image = await openImage(`docker-archive:${file}`);
    try {
      expect(image.tags).toEqual([IMAGE]);
      expect(sha(await image.configBytes())).toBe(id);
      await checkLayers(image, diffIds);
    } finally {
      await image.close();
    }
  });

  it('oci: and oci-archive: from skopeo copy (gzip layers) read the same layers', async () => {
    const layout = join(dir, 'layout');
    const archive = join(dir, 'layout.tar');
    execFileSync('skopeo', ['copy', '-q', `docker-daemon:${IMAGE}`, `oci:${layout}:tag`]);
    execFileSync('skopeo', ['copy', '-q', `docker-daemon:${IMAGE}`, `oci-archive:${archive}:tag`]);
    for (const location of [`oci:${layout}:tag`, `oci:${layout}`, `oci-archive:${archive}:tag`]) {
      const image = await openImage(location);
      try {
        expect(image.tags).toEqual(['tag']);
        await checkLayers(image, diffIds);
        for (const layer of await image.layers()) expect(await hashStream(await layer.openBlob())).toBe(layer.digest);
      } finally {
        await image.close();
      }
    }
  });
});

describe('the Engine source', () => {
  it('knows layers and tags from inspect, config from the save stream', async () => {
    const image = await openImage(IMAGE);
    try {
      expect((await image.layers()).map((l) => l.diffId)).toEqual(diffIds);
      expect(image.tags).toContain(IMAGE);
      expect(sha(await image.configBytes())).toBe(id);
      expect((await image.config()).config?.Labels).toEqual({ 'imagewright.test': 'sources' });
    } finally {
      await image.close();
    }
  });

  it('eachLayer visits every layer as it arrives and gives results bottom → top', async () => {
    const image = await openImage(`docker-daemon:${IMAGE}`);
    try {
      expect(await eachLayer(image, hashStream)).toEqual(diffIds);
      // After a full pass the config is known too.
      expect(sha(await image.configBytes())).toBe(id);
    } finally {
      await image.close();
    }
  });

  for (const budget of [64 * 1024 * 1024, 0]) {
    it(`opens layers top → bottom (spool ${budget ? 'in memory' : 'on disk'}), and again after reading`, async () => {
      const spoolParent = mkdtempSync(join(dir, 'spool-'));
      const image = await openEngineImage(IMAGE, { what: 'test', spoolMemoryBytes: budget, spoolParent });
      try {
        const layers = await image.layers();
        const read: string[] = [];
        for (const layer of [...layers].reverse()) read.unshift(await hashStream(await layer.open()));
        expect(read).toEqual(diffIds);
        expect(sha(await image.configBytes())).toBe(id);
        const first = image.stats();
        expect(first.saves).toBe(1);
        // The top layer is asked for before anything arrives and is known by its folder's json: never spooled.
        expect(first.streamed).toBeGreaterThanOrEqual(1);
        expect(first.streamed + first.spooled).toBe(diffIds.length);
        expect(first.spooledToDisk).toBe(budget ? 0 : first.spooled);
        // A layer read already comes from a new save stream.
        expect(await hashStream(await layers[1].open())).toBe(diffIds[1]);
        expect(image.stats().saves).toBe(2);
      } finally {
        await image.close();
      }
      expect(readdirSync(spoolParent)).toEqual([]);
    });
  }

  it('willRead: layers that will not be read are skipped, not spooled', async () => {
    const image = await openEngineImage(IMAGE, { what: 'test' });
    try {
      image.willRead([diffIds.length - 1]);
      const layers = await image.layers();
      expect(await hashStream(await layers[diffIds.length - 1].open())).toBe(diffIds[diffIds.length - 1]);
      expect(sha(await image.configBytes())).toBe(id);
      expect(image.stats()).toMatchObject({ saves: 1, streamed: 1, spooled: 0 });
      // One outside the declared set still opens (from a new save stream).
      expect(await hashStream(await layers[0].open())).toBe(diffIds[0]);
    } finally {
      await image.close();
    }
  });

  it('reads an image whose layers repeat (legacy save: a symlinked layer.tar), by eachLayer and in order', async () => {
    const repeated = await repeatingImage(engine);
    const image = await openImage(REPEATS);
    try {
      expect((await image.layers()).map((l) => l.diffId)).toEqual(repeated);
      expect(await eachLayer(image, hashStream)).toEqual(repeated);
    } finally {
      await image.close();
    }
    const ordered = await openImage(REPEATS);
    try {
      const layers = await ordered.layers();
      const read: string[] = [];
      for (const layer of [...layers].reverse()) read.unshift(await hashStream(await layer.open()));
      expect(read).toEqual(repeated);
    } finally {
      await ordered.close();
    }
  });

  it('close() mid-read ends the save stream and removes the spool', async () => {
    const spoolParent = mkdtempSync(join(dir, 'spool-'));
    const image = await openEngineImage(IMAGE, { what: 'test', spoolMemoryBytes: 0, spoolParent });
    const layers = await image.layers();
    const bottom = await layers[0].open();
    // Everything above arrived before the bottom was read: spooled to disk or still to come.
    await new Promise((resolve) => bottom.once('readable', resolve));
    await image.close();
    expect(bottom.destroyed || bottom.readableEnded).toBe(true);
    expect(readdirSync(spoolParent)).toEqual([]);
    await expect(image.configBytes()).rejects.toMatchObject({ message: expect.stringMatching(/already closed/) });
  });

  it('names a missing image in one line', async () => {
    await expect(openImage('imagewright-test/no-such-image:nope', { input: '--from' })).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringMatching(/^--from "imagewright-test\/no-such-image:nope": no such image in the Engine; allowed/),
    });
  });
});

describe('the registry source', () => {
  let registry: Registry;
  let dockerConfig: string;
  beforeAll(async () => {
    registry = await startRegistry();
    dockerConfig = dockerConfigWith({ [registry.host]: { username: registry.username, password: registry.password } });
  });
  afterAll(async () => {
    await registry?.stop();
    if (dockerConfig) rmSync(dockerConfig, { recursive: true, force: true });
  });

  for (const format of ['v2s2', 'oci'] as const) {
    it(`docker://: a ${format} manifest pushed by skopeo reads with verified layers`, async () => {
      const ref = `${registry.host}/sources/img:${format}`;
      const digest = skopeo.push(dockerConfig, IMAGE, ref, format);
      const env = { ...process.env, DOCKER_CONFIG: dockerConfig };
      for (const location of [`docker://${ref}`, `docker://${registry.host}/sources/img@${digest}`]) {
        const image = await openImage(location, { env });
        try {
          // skopeo keeps Docker's config bytes for v2s2; for OCI it converts them (a new digest).
          if (format === 'v2s2') expect(sha(await image.configBytes())).toBe(id);
          await checkLayers(image, diffIds);
          for (const layer of await image.layers()) expect(await hashStream(await layer.openBlob())).toBe(layer.digest);
        } finally {
          await image.close();
        }
      }
    });
  }

  it('docker://: a missing tag is one line naming it', async () => {
    const env = { ...process.env, DOCKER_CONFIG: dockerConfig };
    await expect(openImage(`docker://${registry.host}/sources/img:missing`, { env })).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/no such manifest/) });
  });
});

