import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '@imagewright/docker';
import { BUSYBOX_IMAGE, busyboxImage, dockerCli, ensureEngine, runBin } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineRef } from './engine-ref';

let engine: Engine;
let busyboxId: string;
let dir: string;
let archive: string;

beforeAll(async () => {
  engine = await ensureEngine();
  busyboxId = await busyboxImage(engine);
  dir = mkdtempSync(join(tmpdir(), 'engine-ref-'));
  archive = join(dir, 'busybox.tar');
  const saved = spawnSync(dockerCli(), ['save', '-o', archive, BUSYBOX_IMAGE], { encoding: 'utf8' });
  if (saved.status !== 0) throw new Error(saved.stderr);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('engineRef', () => {
  it("keeps the Engine's references and gives registry ones to the Engine to pull", async () => {
    expect(await engineRef('app:1')).toBe('app:1');
    expect(await engineRef('docker-daemon:app:1')).toBe('app:1');
    expect(await engineRef('docker://registry.example:5000/app:1')).toBe('registry.example:5000/app:1');
  });

  it('loads an archive into the Engine, untagged, and names it by ID', async () => {
    const tagsBefore = (await engine.getImage(busyboxId).inspect()).RepoTags;
    expect(await engineRef(`docker-archive:${archive}`)).toBe(busyboxId);
    expect((await engine.getImage(busyboxId).inspect()).RepoTags).toEqual(tagsBefore);
  });

  it('refuses a bad reference in one line naming the input', async () => {
    await expect(engineRef('ftp://x/y', { input: '--image' })).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/^--image "ftp:\/\/x\/y": unknown transport/) });
    await expect(engineRef(`oci:${join(dir, 'none')}`)).rejects.toMatchObject({ exitCode: 2 });
  });

  it('the Engine commands take it: docker-history of an archive', async () => {
    const fromArchive = await runBin('docker-history', [`docker-archive:${archive}`, '--json']);
    expect(fromArchive.stderr).toBe('');
    expect(fromArchive.code).toBe(0);
    const fromEngine = await runBin('docker-history', [BUSYBOX_IMAGE, '--json']);
    expect(JSON.parse(fromArchive.stdout).map((e: { createdBy: string }) => e.createdBy)).toEqual(JSON.parse(fromEngine.stdout).map((e: { createdBy: string }) => e.createdBy));
  });
});
