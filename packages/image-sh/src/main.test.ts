import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, busyboxImage, ensureEngine, envFor, runBin, tempDeploymentRoot } from '@imagewright/testing';

// Against the real Engine, stdin piped (no TTY): the shell reads the script from it.
let root: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  await busyboxImage(await ensureEngine());
  root = tempDeploymentRoot('testdep');
  env = envFor(root, 'testdep', BUSYBOX_IMAGE);
});

describe('image-sh', () => {
  it('runs a piped script in sh when the image has no bash, and returns its exit code', async () => {
    const r = await runBin('image-sh', [], { env, input: 'echo "hi from $0"\nid -u\nexit 3\n' });
    expect(r).toEqual({ code: 3, stdout: 'hi from sh\n0\n', stderr: '' });
  });

  it('keeps the flags of IMAGE_RUN_PARS', async () => {
    const r = await runBin('image-sh', [], { env: { ...env, IMAGE_RUN_PARS: '--rm -u 65534 -e K=V' }, input: 'echo "$(id -u) $K"\n' });
    expect(r).toEqual({ code: 0, stdout: '65534 V\n', stderr: '' });
  });

  it('runs bash with the rc file when the image has bash', async () => {
    // A stand-in bash, first on PATH, shows how it was called.
    const bin = join(root, 'fakebin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'bash'), '#!/bin/sh\necho "bash $*"\n');
    chmodSync(join(bin, 'bash'), 0o755);
    const r = await runBin('image-sh', [], { env: { ...env, IMAGE_RUN_PARS: `--rm -v ${bin}:/opt/fakebin:ro -e PATH=/opt/fakebin:/bin` } });
    expect(r).toEqual({ code: 0, stdout: 'bash --rcfile /etc/bash.bashrc\n', stderr: '' });
  });

  it('takes the image as its argument or as --image, with docker-run flags before it', async () => {
    const absent = envFor(root, 'testdep', 'imagewright-test/absent:none');
    expect(await runBin('image-sh', [BUSYBOX_IMAGE], { env: absent, input: 'echo ok\n' })).toEqual({ code: 0, stdout: 'ok\n', stderr: '' });
    expect(await runBin('image-sh', ['--image', BUSYBOX_IMAGE], { env: absent, input: 'echo ok\n' })).toEqual({ code: 0, stdout: 'ok\n', stderr: '' });
    const flagged = await runBin('image-sh', ['-e', 'K=flag', '-u', '65534', BUSYBOX_IMAGE], { env: absent, input: 'echo "$K $(id -u)"\n' });
    expect(flagged).toEqual({ code: 0, stdout: 'flag 65534\n', stderr: '' });
    const r = await runBin('image-sh', ['--pull', 'never'], { env: absent, input: 'echo ok\n' });
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('imagewright-test/absent:none');
  });

  it('rejects a second argument and an unsupported IMAGE_RUN_PARS flag (exit 2)', async () => {
    expect(await runBin('image-sh', ['a', 'b'], { env })).toMatchObject({ code: 2, stderr: expect.stringContaining('unexpected argument "b"') });
    expect(await runBin('image-sh', ['--image', 'a', 'b'], { env })).toMatchObject({ code: 2, stderr: expect.stringContaining('given twice') });
    expect(await runBin('image-sh', [], { env: { ...env, IMAGE_RUN_PARS: '--blkio-weight 10' } })).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/^image-sh: IMAGE_RUN_PARS: --blkio-weight is not supported \(supported: .*\)\n$/),
    });
  });
});
