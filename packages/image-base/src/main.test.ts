import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Engine } from '@imagewright/docker';
import { ensureEngine, envFor, runBin, tempDeploymentRoot } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Real debootstrap from Debian's mirror into a temp dir, imported through the Engine API.
const TAG = `imagewright-test/root:${process.pid}`;
let engine: Engine;

const rootfsLeftovers = () => readdirSync(tmpdir()).filter((n) => n.startsWith('imagewright-rootfs-'));
const deploymentWith = (root: string) =>
  tempDeploymentRoot('base', { 'deployments/base/deployment.yaml': root });

beforeAll(async () => {
  engine = await ensureEngine();
});
afterAll(async () => {
  for (const ref of [TAG, `${TAG}-previous`]) await engine.getImage(ref).remove().catch(() => {});
});

describe('image-base', () => {
  const before = rootfsLeftovers();
  const root = deploymentWith(`root:\n  image: ${TAG}\n  debootstrap:\n    suite: bookworm\n    variant: minbase\n`);
  const env = envFor(root, 'base', 'unused:latest');

  it('makes a one-layer Debian root with debootstrap, then reuses it, then rebuilds keeping a backup', async () => {
    const first = await runBin('image-base', ['--json'], { env });
    expect(first.code).toBe(0);
    const made = JSON.parse(first.stdout);
    expect(made.action).toBe('debootstrapped');
    const inspect = await engine.getImage(TAG).inspect();
    expect(inspect.Id).toBe(made.id);
    expect(inspect.RootFS.Layers).toHaveLength(1);
    expect(inspect.Config.Cmd).toEqual(['bash']);

    // What is inside is a real Debian bookworm with apt, checked by a container of it.
    const container = await engine.createContainer({ Image: TAG, Cmd: ['sh', '-c', 'cat /etc/debian_version; command -v apt-get'] });
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    let text = '';
    stream.on('data', (d: Buffer) => (text += d.toString('latin1')));
    await container.start();
    await container.wait();
    await container.remove();
    expect(text).toMatch(/^.*12\.\d+/m);
    expect(text).toContain('/usr/bin/apt-get');

    const again = await runBin('image-base', [], { env });
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toBe(`${TAG} ${made.id} reused`);

    const rebuilt = JSON.parse((await runBin('image-base', ['--rebuild', '--json'], { env })).stdout);
    expect(rebuilt.action).toBe('debootstrapped');
    if (rebuilt.id !== made.id) {
      expect(rebuilt.backup).toBe(`${TAG}-previous`);
      expect((await engine.getImage(`${TAG}-previous`).inspect()).Id).toBe(made.id);
    }
    expect(rootfsLeftovers()).toEqual(before);
  });

  it('a mirror that does not answer fails with exit 1, makes no tag and leaves no temp root', async () => {
    const badTag = `${TAG}-bad`;
    const bad = deploymentWith(`root:\n  image: ${badTag}\n  debootstrap:\n    mirror: http://127.0.0.1:9/debian\n`);
    const result = await runBin('image-base', [], { env: envFor(bad, 'base', 'unused:latest') });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/debootstrap of bookworm from http:\/\/127\.0\.0\.1:9\/debian failed/);
    await expect(engine.getImage(badTag).inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect(rootfsLeftovers()).toEqual(before);
  });

  it('rejects an invalid deployment.yaml with exit 2 naming the key', async () => {
    const bad = deploymentWith('root:\n  image: x\n  debootstrap:\n    variant: huge\n');
    const result = await runBin('image-base', [], { env: envFor(bad, 'base', 'unused:latest') });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('root.debootstrap.variant is invalid');
  });
});
