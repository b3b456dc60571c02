import type { Readable } from 'node:stream';
import type { Engine } from '@imagewright/docker';
import { busyboxImage, dockerCli, ensureEngine, busyboxLayer, filesLayer } from '@imagewright/testing';
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryImage, memoryLayer, streamedImage } from './memory';
import { type ImageConfig, type Layer, serializeConfig, sha256Of } from './model';
import { loadIntoEngine } from './sink-engine';

// ---- helpers ---------------------------------------------------------------------------------



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
    const top = Buffer.concat([busybox.subarray(0, busybox.length - 1024), await filesLayer({ 'squashed/file': `squashed ${Date.now()}\n` })]);
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
    const top = await filesLayer({ 'partial/file': `partial ${Date.now()}\n` });
    const image = inProgress([untouchable(memoryLayer(busybox))], top, { baseInEngine: true });
    const result = await loadIntoEngine(engine, image);
    made.add(result.id);
    expect(result.id).toBe(sha256Of(image.configs[0]));
    expect(result.diffIds).toEqual([sha256Of(busybox), sha256Of(top)]);
    expect(await dockerRun(['run', '--rm', '--network', 'none', result.id, 'cat', '/partial/file'])).toMatch(/^partial \d+\n$/);
  });

  it('an Image: every layer sent (the Engine may lack them); the ID is the config digest', async () => {
    const extra = await filesLayer({ 'image/file': `image ${Date.now()}\n` });
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
      const top = await filesLayer({ 'broken/file': 'y'.repeat(300_000) });
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
