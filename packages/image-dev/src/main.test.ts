import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_LABEL, type Engine } from '@imagewright/docker';
import { BUSYBOX_IMAGE, busyboxImage, ensureEngine, envFor, runBin, tempDeploymentRoot } from '@imagewright/testing';

// Against the real Engine. image-dev keeps its container: each test finds it by its label and removes it.
let engine: Engine;
const deployment = `dev${randomUUID().slice(0, 8)}`;

const ours = () => engine.listContainers({ all: true, filters: { label: [`${DEV_LABEL}=${deployment}`] } });

beforeAll(async () => {
  engine = await ensureEngine();
  await busyboxImage(engine);
});

afterAll(async () => {
  if (engine) await Promise.all((await ours()).map((c) => engine.getContainer(c.Id).remove({ force: true })));
});

describe('image-dev', () => {
  it('mounts the sources read-write, sets JH_DEVELOP, ignores IMAGE_RUN_PARS and keeps the container', async () => {
    const root = tempDeploymentRoot(deployment, {
      'deployments/common/image/common-scripts/hello': 'hello from common-scripts\n',
      'deployments/common/image/common-env/marker': '',
      [`deployments/${deployment}/image/environments/sci/sci.pip`]: 'six\n',
    });
    // An unsupported flag and --rm: both ignored, so neither an error nor a removed container.
    const env = { ...envFor(root, deployment, BUSYBOX_IMAGE), IMAGE_RUN_PARS: '--rm --blkio-weight 10' };
    const script = 'cat /opt/common-scripts/hello; ls /opt/common-env; echo "JH_DEVELOP=$JH_DEVELOP"; echo made > /opt/environments/sci/made-inside\n';
    const r = await runBin('image-dev', [], { env, input: script });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('hello from common-scripts\nmarker\nJH_DEVELOP=1\n');
    expect(readFileSync(join(root, 'deployments', deployment, 'image', 'environments', 'sci', 'made-inside'), 'utf8')).toBe('made\n');

    const containers = await ours();
    expect(containers).toHaveLength(1);
    const info = await engine.getContainer(containers[0].Id).inspect();
    const name = info.Name.replace(/^\//, '');
    expect(r.stderr).toBe(
      `image-dev: container ${name} (${info.Id.slice(0, 12)}) kept: docker cp ${name}:PATH . to recover files, docker start -ai ${name} to go back in, docker rm ${name} to remove it\n`,
    );
    expect(info.State.Status).toBe('exited');
    expect(info.HostConfig.AutoRemove).toBe(false);
    const mounts = Object.fromEntries(info.Mounts.map((m) => [m.Destination, { source: m.Source, rw: m.RW, type: m.Type }]));
    expect(mounts).toEqual({
      '/opt/common-scripts': { source: join(root, 'deployments/common/image/common-scripts'), rw: true, type: 'bind' },
      '/opt/common-env': { source: join(root, 'deployments/common/image/common-env'), rw: true, type: 'bind' },
      // Each environment on its own: the image's /opt/environments/test (the runner) stays visible.
      '/opt/environments/sci': { source: join(root, 'deployments', deployment, 'image/environments/sci'), rw: true, type: 'bind' },
    });
    await engine.getContainer(info.Id).remove({ force: true });
  });

  it('leaves common-env out when the checkout has none, takes the image as its argument and docker-run flags before it', async () => {
    const root = tempDeploymentRoot(deployment, {
      'deployments/common/image/common-scripts/x': '',
      [`deployments/${deployment}/image/environments/tools/tools.pip`]: '',
    });
    const env = envFor(root, deployment, 'imagewright-test/absent:none');
    const r = await runBin('image-dev', ['-e', 'K=flag', BUSYBOX_IMAGE], { env, input: 'ls /opt /opt/environments; echo "$K"; exit 6\n' });
    expect(r.code).toBe(6);
    expect(r.stdout).toBe('/opt:\ncommon-scripts\nenvironments\n\n/opt/environments:\ntools\nflag\n');
    expect(r.stderr).toMatch(/^image-dev: container \S+ \([0-9a-f]{12}\) kept: /);
    const [container] = await ours();
    await engine.getContainer(container.Id).remove({ force: true });
  });

  it('refuses a checkout without common-scripts (exit 2), creating nothing', async () => {
    const root = tempDeploymentRoot(deployment);
    const r = await runBin('image-dev', [], { env: envFor(root, deployment, BUSYBOX_IMAGE), input: 'true\n' });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`image-dev: ${join(root, 'deployments/common/image/common-scripts')}: missing (allowed: a checkout with that folder, mounted at /opt/common-scripts)\n`);
    expect(existsSync(join(root, 'deployments/common/image/common-scripts'))).toBe(false);
    expect(await ours()).toEqual([]);
  });
});
