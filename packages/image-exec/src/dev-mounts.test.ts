import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devRunFlags, type Engine, runContainer } from '@imagewright/docker';
import { BUSYBOX_IMAGE, busyboxImage, ensureEngine } from '@imagewright/testing';

// Issue 8: image-dev mounted $IMAGE_DIR/environments over /opt/environments, hiding the image's
// /opt/environments/test (the runner image-test calls): 127 inside image-dev. Against the Engine,
// with an image that has the runner and a checkout that has different sources.
let engine: Engine;
const IMAGE = `imagewright-test/dev-mounts:${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  engine = await ensureEngine();
  await busyboxImage(engine);
  // The image as the common trailer leaves it: environments copied in, plus the test runner.
  const container = await engine.createContainer({
    Image: BUSYBOX_IMAGE,
    Cmd: ['sh', '-c', 'mkdir -p /opt/environments/science && echo image > /opt/environments/science/marker && printf "#!/bin/sh\\necho runner \\$*\\n" > /opt/environments/test && chmod +x /opt/environments/test'],
  });
  await container.start();
  expect((await container.wait()).StatusCode).toBe(0);
  const [repo, tag] = IMAGE.split(':');
  await container.commit({ repo, tag });
  await container.remove();
});

afterAll(async () => {
  await engine?.getImage(IMAGE).remove().catch(() => undefined);
});

describe("image-dev's mounts", () => {
  it("show the checkout's environments and frozen files, and keep the image's own /opt/environments/test", async () => {
    const root = mkdtempSync(join(tmpdir(), 'imagewright-devmounts-'));
    const COMMON_DIR = join(root, 'common');
    const IMAGE_DIR = join(root, 'dep');
    mkdirSync(join(COMMON_DIR, 'common-scripts'), { recursive: true });
    writeFileSync(join(COMMON_DIR, 'common-scripts', 'tool'), 'checkout tool\n');
    mkdirSync(join(IMAGE_DIR, 'environments', 'science'), { recursive: true });
    mkdirSync(join(IMAGE_DIR, 'environments', 'frozen'), { recursive: true });
    writeFileSync(join(IMAGE_DIR, 'environments', 'science', 'marker'), 'checkout\n');
    writeFileSync(join(IMAGE_DIR, 'environments', 'frozen', 'science-frozen.yml'), 'name: science\n');

    const flags = { ...devRunFlags({ COMMON_DIR, IMAGE_DIR, DEPLOYMENT_NAME: 'dep' }, false), rm: true, interactive: false };
    const stdout = new PassThrough();
    let out = '';
    stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const script = '/opt/environments/test science; cat /opt/environments/science/marker /opt/common-scripts/tool; ls /opt/environments/frozen; echo "$JH_DEVELOP"';
    const code = await runContainer(engine, { image: IMAGE, cmd: ['sh', '-c', script], flags, stdout, stderr: process.stderr, stdin: new PassThrough() });
    expect({ code, out }).toEqual({ code: 0, out: 'runner science\ncheckout\ncheckout tool\nscience-frozen.yml\n1\n' });

    // Read-write: what is written inside lands in the checkout.
    const write = await runContainer(engine, { image: IMAGE, cmd: ['sh', '-c', 'echo edited > /opt/environments/science/marker'], flags, stdout, stderr: process.stderr, stdin: new PassThrough() });
    expect(write).toBe(0);
    expect(readFileSync(join(IMAGE_DIR, 'environments', 'science', 'marker'), 'utf8')).toBe('edited\n');
  });
});
