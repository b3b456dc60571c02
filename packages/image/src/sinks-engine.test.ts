import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import type { Engine } from '@imagewright/docker';
import { BUSYBOX_IMAGE, busyboxImage, dockerCli, ensureEngine } from '@imagewright/testing';
import { execFile } from 'node:child_process';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryImage, memoryLayer, streamedImage } from './memory';
import { type ImageConfig, type ImageInProgress, type Layer, serializeConfig, sha256Of } from './model';
import { loadIntoEngine } from './sink-engine';

// ---- helpers ---------------------------------------------------------------------------------

async function layerTar(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  const dirs = new Set<string>();
  for (const name of Object.keys(files)) {
    const parts = name.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  for (const dir of [...dirs].sort()) pack.entry({ name: `${dir}/`, type: 'directory', mode: 0o755, mtime: new Date(0) });
  for (const [name, content] of Object.entries(files)) pack.entry({ name, mode: 0o644, mtime: new Date(0) }, content);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as unknown as Readable) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** busybox's one layer, as the Engine saves it. */
async function busyboxLayer(engine: Engine): Promise<Buffer> {
  const files = new Map<string, Buffer>();
  const extract = tar.extract();
  extract.on('entry', (header, entry, next) => {
    const chunks: Buffer[] = [];
    entry.on('data', (c) => chunks.push(c as Buffer));
    entry.on('end', () => {
      files.set(header.name, Buffer.concat(chunks));
      next();
    });
  });
  const finished = once(extract, 'finish');
  ((await engine.getImage(BUSYBOX_IMAGE).get()) as unknown as Readable).pipe(extract);
  await finished;
  const manifest = JSON.parse(files.get('manifest.json')!.toString('utf8')) as Array<{ Layers: string[] }>;
  return files.get(manifest[0].Layers[0])!;
}

const CONFIG: Partial<ImageConfig> = { config: { Env: ['PATH=/bin'], Cmd: ['sh'], WorkingDir: '/work', Labels: { 'org.imagewright.test': 'engine-sink', made: String(Date.now()) } } };

const inProgress = (base: Layer[], top: Buffer, options: { baseInEngine?: boolean; failAfter?: number } = {}) => streamedImage(base, top, { ...options, config: CONFIG });

/** A layer the Engine has: reading it is a failure of the test (the load must leave it out). */
function untouchable(layer: Layer): Layer {
  const refuse = async (): Promise<Readable> => {
    throw new Error(`layer ${layer.diffId} was read, but the Engine has it`);
  };
  return { ...layer, open: refuse, openBlob: refuse };
}

function dockerRun(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(dockerCli(), args, (error, stdout, stderr) => (error ? reject(new Error(`${stderr}`)) : resolve(stdout)));
  });
}

type Inspected = { Id: string; RepoTags?: string[]; RootFS: { Layers: string[] }; Config: { Labels?: Record<string, string>; WorkingDir?: string } };

async function imageIds(engine: Engine): Promise<Set<string>> {
  return new Set((await engine.listImages({ all: true })).map((i) => i.Id));
}

// ---- fixture ---------------------------------------------------------------------------------

let engine: Engine;
let busybox: Buffer;
const made = new Set<string>();

beforeAll(async () => {
  engine = await ensureEngine();
  await busyboxImage(engine);
  busybox = await busyboxLayer(engine);
});

afterAll(async () => {
  for (const id of made) await engine?.getImage(id).remove({ force: true }).catch(() => undefined);
});

// ---- tests -----------------------------------------------------------------------------------

describe('loadIntoEngine', () => {
  it('a full squash: imported while it streams, then our exact config; untagged; no intermediate image left', async () => {
    const top = Buffer.concat([busybox.subarray(0, busybox.length - 1024), await layerTar({ 'squashed/file': `squashed ${Date.now()}\n` })]);
    const image = inProgress([], top);
    const before = await imageIds(engine);
    const progress: number[] = [];
    const result = await loadIntoEngine(engine, image, { onProgress: (sent) => progress.push(sent) });
    made.add(result.id);
    expect(result.id).toBe(sha256Of(image.configs[image.configs.length - 1]));
    expect(result.diffIds).toEqual([sha256Of(top)]);
    const inspected = (await engine.getImage(result.id).inspect()) as unknown as Inspected;
    expect(inspected.RootFS.Layers).toEqual([sha256Of(top)]);
    expect(inspected.RepoTags ?? []).toEqual([]);
    expect(inspected.Config.Labels).toEqual(CONFIG.config!.Labels);
    expect(inspected.Config.WorkingDir).toBe('/work');
    // The import's own image is gone: only ours is new.
    const added = [...(await imageIds(engine))].filter((id) => !before.has(id));
    expect(added).toEqual([result.id]);
    expect(progress[progress.length - 1]).toBe(top.length);
    expect(await dockerRun(['run', '--rm', '--network', 'none', result.id, 'sh', '-c', 'pwd; cat /squashed/file'])).toMatch(/^\/work\nsquashed \d+\n$/);
  });

  it('a partial squash whose base the Engine has: the base is not sent, the top is; our config', async () => {
    const top = await layerTar({ 'partial/file': `partial ${Date.now()}\n` });
    const image = inProgress([untouchable(memoryLayer(busybox))], top, { baseInEngine: true });
    const result = await loadIntoEngine(engine, image);
    made.add(result.id);
    expect(result.id).toBe(sha256Of(image.configs[0]));
    expect(result.diffIds).toEqual([sha256Of(busybox), sha256Of(top)]);
    expect(await dockerRun(['run', '--rm', '--network', 'none', result.id, 'cat', '/partial/file'])).toMatch(/^partial \d+\n$/);
  });

  it('an Image: every layer sent (the Engine may lack them); the ID is the config digest', async () => {
    const extra = await layerTar({ 'image/file': `image ${Date.now()}\n` });
    const image = memoryImage([busybox, extra], CONFIG);
    const result = await loadIntoEngine(engine, image);
    made.add(result.id);
    expect(result.id).toBe(sha256Of(await image.configBytes()));
    expect(result.diffIds).toEqual([sha256Of(busybox), sha256Of(extra)]);
    const inspected = (await engine.getImage(result.id).inspect()) as unknown as Inspected;
    expect(inspected.RepoTags ?? []).toEqual([]);
  });

  it('a merge error midway: the load fails with it and leaves no new image', async () => {
    for (const base of [[], [untouchable(memoryLayer(busybox))]]) {
      const top = await layerTar({ 'broken/file': 'y'.repeat(300_000) });
      const image = inProgress(base, top, { failAfter: 150_000, baseInEngine: true });
      const before = await imageIds(engine);
      await expect(loadIntoEngine(engine, image)).rejects.toThrow('merge failed');
      const added = [...(await imageIds(engine))].filter((id) => !before.has(id));
      expect(added, `base of ${base.length}`).toEqual([]);
    }
  });

  it('a config whose diff_ids do not match the layers is refused before anything is tagged', async () => {
    const image = memoryImage([busybox], CONFIG);
    const wrong = { ...image, configBytes: async () => serializeConfig({ ...(await image.config()), rootfs: { type: 'layers', diff_ids: [sha256Of(Buffer.from('other'))] } }) };
    await expect(loadIntoEngine(engine, wrong)).rejects.toThrow(/diff_ids/);
  });
});
