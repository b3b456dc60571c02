import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '@imagewright/docker';
import { BUSYBOX_IMAGE, busyboxImage, ensureEngine, envFor, runBin, tempDeploymentRoot } from '@imagewright/testing';

// Against the real Engine. The containers are kept (no --rm) to read what they were created with.
let engine: Engine;
let env: NodeJS.ProcessEnv;
const LABEL = `imagewright.test=run-lab-${randomUUID()}`;

const ours = () => engine.listContainers({ all: true, filters: { label: [LABEL] } });

beforeAll(async () => {
  engine = await ensureEngine();
  await busyboxImage(engine);
  env = { ...envFor(tempDeploymentRoot('testdep'), 'testdep', BUSYBOX_IMAGE), IMAGE_RUN_PARS: `-e JUPYTER_ENABLE_LAB=yes -l ${LABEL}` };
});

afterAll(async () => {
  if (engine) await Promise.all((await ours()).map((c) => engine.getContainer(c.Id).remove({ force: true })));
});

describe('run-lab', () => {
  it('publishes 8888 on top of IMAGE_RUN_PARS and passes the command intact', async () => {
    const r = await runBin('run-lab', ['sh', '-c', 'echo "$JUPYTER_ENABLE_LAB|$1"', '_', 'x  y'], { env });
    expect(r).toEqual({ code: 0, stdout: 'yes|x  y\n', stderr: '' });
    const [container] = await ours();
    const info = await engine.getContainer(container.Id).inspect();
    expect(info.HostConfig.PortBindings).toEqual({ '8888/tcp': [{ HostIp: '', HostPort: '8888' }] });
    expect(Object.keys(info.Config.ExposedPorts ?? {})).toEqual(['8888/tcp']);
    await engine.getContainer(container.Id).remove({ force: true });
  });

  it('keeps a -p for 8888 that IMAGE_RUN_PARS has already', async () => {
    const r = await runBin('run-lab', ['true'], { env: { ...env, IMAGE_RUN_PARS: `${env.IMAGE_RUN_PARS} -p 127.0.0.1:8888:8888` } });
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
    const [container] = await ours();
    const info = await engine.getContainer(container.Id).inspect();
    expect(info.HostConfig.PortBindings).toEqual({ '8888/tcp': [{ HostIp: '127.0.0.1', HostPort: '8888' }] });
    await engine.getContainer(container.Id).remove({ force: true });
  });

  it("runs the image's CMD when given no command, and returns its exit code", async () => {
    const r = await runBin('run-lab', [], { env });
    expect(r.code).toBe(0);
    const [container] = await ours();
    const info = await engine.getContainer(container.Id).inspect();
    expect([info.Path, ...info.Args]).toEqual(['sh']);
    expect((await runBin('run-lab', ['sh', '-c', 'exit 9'], { env: { ...env, IMAGE_RUN_PARS: '--rm' } })).code).toBe(9);
  });
});
