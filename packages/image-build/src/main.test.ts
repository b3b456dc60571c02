import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '@imagewright/docker';
import { BUSYBOX_IMAGE, busyboxImage, ensureEngine, removeChainTags, envFor, REPO_ROOT, runBin, tempDeploymentRoot } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A small chain on the real engine: root = the busybox test image, common and mission images
// built FROM it, so the whole build → tag → backup path runs in seconds.
const REPO = `imagewright-test/build-${process.pid}`;
let engine: Engine;

const idOf = async (ref: string) => {
  try {
    return (await engine.getImage(ref).inspect()).Id;
  } catch {
    return undefined;
  }
};

function chainRoot(custom: string) {
  const root = tempDeploymentRoot('chain', {
    'deployments/chain/deployment.yaml': `root:\n  image: ${BUSYBOX_IMAGE}\n  pull: true\n`,
    'deployments/common/image/Dockerfile': 'ARG ROOT_IMAGE\nFROM ${ROOT_IMAGE}\nARG USE_FROZEN\nRUN echo "common $USE_FROZEN" > /common\n',
    'deployments/common/image/Dockerfile.trailer': 'CMD ["cat", "/common", "/mission"]\n',
    'deployments/chain/image/Dockerfile.custom': custom,
  });
  return { root, env: { ...envFor(root, 'chain', `${REPO}:latest`), USE_FROZEN: '0' } };
}

beforeAll(async () => {
  engine = await ensureEngine();
  await busyboxImage(engine);
});
afterAll(async () => {
  // Per-run tags only; the images' layers are shared with the cached busybox image.
  await removeChainTags(engine, REPO);
});

describe('image-build', () => {
  it('builds common then mission, tags both, and keeps a -previous backup on rebuild', async () => {
    const { root, env } = chainRoot('ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo one > /mission\n');
    const first = await runBin('image-build', [], { env });
    expect(first.stderr).toContain('==> building common image');
    expect(first.code).toBe(0);
    const commonId = await idOf(`${REPO}:common-latest`);
    const firstId = await idOf(`${REPO}:latest`);
    expect(first.stdout.trim().split('\n')).toEqual([`${REPO}:common-latest ${commonId}`, `${REPO}:latest ${firstId}`]);
    // The mission image really is FROM the new common image, with the build arg applied.
    const run = await runBin('image-exec', ['cat', '/common', '/mission'], { env });
    expect(run.stdout).toBe('common 0\none\n');

    writeFileSync(join(root, 'deployments/chain/image/Dockerfile.custom'), 'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo two > /mission\n');
    const second = await runBin('image-build', ['--json'], { env });
    expect(second.code).toBe(0);
    const result = JSON.parse(second.stdout);
    expect(result.image.previous).toBe(firstId);
    expect(result.image.backup).toBe(`${REPO}:latest-previous`);
    expect(await idOf(`${REPO}:latest-previous`)).toBe(firstId);
    expect(await idOf(`${REPO}:latest`)).toBe(result.image.id);
    expect(result.common.id).toBe(commonId); // unchanged common: same image, no backup
    expect(result.common.backup).toBeUndefined();
  });

  it('a failing step shows its output, exits 1 and moves no tag', async () => {
    const { root, env } = chainRoot('ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo good > /mission\n');
    expect((await runBin('image-build', [], { env })).code).toBe(0);
    const before = { image: await idOf(`${REPO}:latest`), common: await idOf(`${REPO}:common-latest`) };
    // The common image changes too: even its tag must stay put when the mission build fails.
    writeFileSync(join(root, 'deployments/common/image/Dockerfile'), 'ARG ROOT_IMAGE\nFROM ${ROOT_IMAGE}\nRUN echo changed > /common\n');
    writeFileSync(
      join(root, 'deployments/chain/image/Dockerfile.custom'),
      'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo "step output before failing" && exit 3\n',
    );
    const failed = await runBin('image-build', [], { env });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('step output before failing');
    expect(failed.stderr).toMatch(/returned a non-zero code: 3/);
    expect(failed.stdout).toBe('');
    expect(await idOf(`${REPO}:latest`)).toBe(before.image);
    expect(await idOf(`${REPO}:common-latest`)).toBe(before.common);
  });

  it('an interrupt (SIGINT) mid-build leaves tags as they were and no container behind', async () => {
    const { root, env } = chainRoot('ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo fast > /mission\n');
    expect((await runBin('image-build', [], { env })).code).toBe(0);
    const before = { image: await idOf(`${REPO}:latest`), common: await idOf(`${REPO}:common-latest`) };
    writeFileSync(join(root, 'deployments/common/image/Dockerfile'), 'ARG ROOT_IMAGE\nFROM ${ROOT_IMAGE}\nRUN echo other > /common\n');
    writeFileSync(join(root, 'deployments/chain/image/Dockerfile.custom'), 'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo slow-step-started && sleep 60\n');
    const containersBefore = (await engine.listContainers({ all: true })).length;
    const result = await runBin('image-build', [], { env, signalWhen: { text: 'slow-step-started', signal: 'SIGINT' } });
    expect(result.code).not.toBe(0);
    expect(await idOf(`${REPO}:latest`)).toBe(before.image);
    expect(await idOf(`${REPO}:common-latest`)).toBe(before.common);
    // The Engine cancels the build when the client goes away and removes its container.
    let containers = (await engine.listContainers({ all: true })).length;
    for (let i = 0; i < 20 && containers > containersBefore; i++) {
      await new Promise((r) => setTimeout(r, 250));
      containers = (await engine.listContainers({ all: true })).length;
    }
    expect(containers).toBe(containersBefore);
  });

  it('an unknown deployment is a config error listing the known ones', async () => {
    const { env } = chainRoot('FROM x\n');
    const result = await runBin('image-build', [], { env: { ...env, DEPLOYMENT_NAME: 'nope' } });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toMatch(/^image-build: deployment "nope" not found .*: allowed chain$/);
  });

  it('an unreachable engine is one line naming the DOCKER_HOST tried, exit 2', async () => {
    const { env } = chainRoot('FROM x\n');
    const result = await runBin('image-build', [], { env: { ...env, DOCKER_HOST: 'unix:///nonexistent/docker.sock' } });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('unix:///nonexistent/docker.sock');
  });

  it('builds the embedded demo deployment end to end (debootstrap root, Debian Python libraries)', async () => {
    const env = { ...envFor(REPO_ROOT, 'demo', 'imagewright-test/demo:latest'), USE_FROZEN: '1' };
    const build = await runBin('image-build', [], { env });
    expect(build.stderr.slice(-2000)).not.toMatch(/error/i);
    expect(build.code).toBe(0);
    const science = await runBin('image-exec', ['/opt/envs/science/bin/python', '-c', 'import numpy, yaml; print("science", numpy.__name__)'], { env });
    expect(science.stdout).toBe('science numpy\n');
    const tools = await runBin('image-exec', ['/opt/envs/tools/bin/python', '-c', 'import requests; print("tools ok")'], { env });
    expect(tools.stdout).toBe('tools ok\n');
    const user = await runBin('image-exec', ['id', '-un'], { env });
    expect(user.stdout).toBe('jovyan\n');
    // Built from the committed frozen specs: its environment tests pass (imports, notebook, script).
    const test = await runBin('image-test', [], { env });
    expect(test.stdout).toMatch(/^image-test: 6 passed, 0 failed, 0 skipped/m);
    expect(test.code).toBe(0);
  });
});
