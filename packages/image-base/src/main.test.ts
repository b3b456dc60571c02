import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Engine } from '@imagewright/docker';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxImage, BUSYBOX_IMAGE, ensureEngine, envFor, runBin, startRegistry, tempDeploymentRoot } from '@imagewright/testing';
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

  it('pulls a `pull: true` root from a real registry with the credentials docker login would store', async () => {
    const busybox = await busyboxImage(engine);
    const registry = await startRegistry();
    const ref = `${registry.host}/roots/busybox:1`;
    try {
      // A DOCKER_CONFIG as `docker login` leaves it; skopeo uses the same file (no password on argv).
      const dockerConfig = mkdtempSync(join(tmpdir(), 'imagewright-dockerconfig-'));
      const auth = Buffer.from(`${registry.username}:${registry.password}`).toString('base64');
      writeFileSync(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth } } }));
      execFileSync('skopeo', ['copy', '-q', '--dest-tls-verify=false', '--dest-authfile', join(dockerConfig, 'config.json'), `docker-daemon:${BUSYBOX_IMAGE}`, `docker://${ref}`]);
      const pullRoot = deploymentWith(`root:\n  image: ${ref}\n  pull: true\n`);
      const env = envFor(pullRoot, 'base', 'unused:latest');

      const anonymous = await runBin('image-base', [], { env: { ...env, DOCKER_CONFIG: mkdtempSync(join(tmpdir(), 'imagewright-empty-')) } });
      expect(anonymous.code).toBe(1);
      expect(anonymous.stderr).toMatch(new RegExp(`pull of ${ref.replace(/[.]/g, '\\.')} failed: .*(no basic auth|unauthorized)`, 'i'));
      expect(anonymous.stderr).not.toContain(registry.password);

      const pulled = await runBin('image-base', ['--json'], { env: { ...env, DOCKER_CONFIG: dockerConfig } });
      expect(pulled.code).toBe(0);
      expect(JSON.parse(pulled.stdout)).toMatchObject({ action: 'pulled', ref, id: busybox });
      // Piped: one plain line per status change, no progress bars or cursor moves.
      expect(pulled.stderr).toBe(`1: Pulling from roots/busybox\nDigest: ${/Digest: (sha256:[0-9a-f]{64})/.exec(pulled.stderr)?.[1]}\nStatus: Downloaded newer image for ${ref}\n`);
      expect(pulled.stderr).not.toContain('\x1b[');
      expect(pulled.stderr).not.toContain(registry.password);
      expect((await runBin('image-base', [], { env: { ...env, DOCKER_CONFIG: dockerConfig } })).stdout).toContain('reused');
    } finally {
      await registry.stop();
      await engine.getImage(ref).remove({ noprune: true }).catch(() => {});
    }
  });

  it('rejects an invalid deployment.yaml with exit 2 naming the key', async () => {
    const bad = deploymentWith('root:\n  image: x\n  debootstrap:\n    variant: huge\n');
    const result = await runBin('image-base', [], { env: envFor(bad, 'base', 'unused:latest') });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('root.debootstrap.variant is invalid');
  });
});
