import { beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, busyboxImage, ensureEngine, envFor, runBin, tempDeploymentRoot } from '@imagewright/testing';

// Against the real Engine, stdin piped (no TTY).
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  await busyboxImage(await ensureEngine());
  env = envFor(tempDeploymentRoot('testdep'), 'testdep', BUSYBOX_IMAGE);
});

describe('image-root-sh', () => {
  it('runs the piped script as uid 0 and gid 0, whatever user IMAGE_RUN_PARS sets', async () => {
    const r = await runBin('image-root-sh', [], { env: { ...env, IMAGE_RUN_PARS: '--rm -u 65534:65534 -e K=V' }, input: 'echo "$(id -u):$(id -g) $K"\n' });
    expect(r).toEqual({ code: 0, stdout: '0:0 V\n', stderr: '' });
  });

  it("returns the shell's exit code and takes the image as its argument", async () => {
    const absent = envFor(tempDeploymentRoot('testdep'), 'testdep', 'imagewright-test/absent:none');
    expect(await runBin('image-root-sh', [BUSYBOX_IMAGE], { env: absent, input: 'exit 4\n' })).toEqual({ code: 4, stdout: '', stderr: '' });
  });
});
