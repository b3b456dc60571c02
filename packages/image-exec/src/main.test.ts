import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '@imagewright/docker';
import { BUSYBOX_IMAGE, busyboxImage, ensureEngine, envFor, runBin, tempDeploymentRoot } from '@imagewright/testing';

// Against the real Engine: the built bin (packages/image-exec/dist) in a child process, as users run it.
let engine: Engine;
let root: string;
let env: NodeJS.ProcessEnv;
// Containers made here carry imagewright.test=<RUN>-<case>, to be found and cleaned up.
const RUN = `image-exec-${randomUUID()}`;
const LABEL = `imagewright.test=${RUN}`;

const exec = (args: string[], options: { pars?: string; input?: string } = {}) =>
  runBin('image-exec', args, { env: { ...env, ...(options.pars === undefined ? {} : { IMAGE_RUN_PARS: options.pars }) }, input: options.input });

const labelled = (value: string) => engine.listContainers({ all: true, filters: { label: [`${LABEL}-${value}`] } });

beforeAll(async () => {
  engine = await ensureEngine();
  await busyboxImage(engine);
  root = tempDeploymentRoot('testdep', { 'deployments/testdep/image/data/greeting': 'hello from IMAGE_DIR\n' });
  env = envFor(root, 'testdep', BUSYBOX_IMAGE);
});

afterAll(async () => {
  if (!engine) return;
  const left = await engine.listContainers({ all: true, filters: { label: ['imagewright.test'] } });
  const ours = left.filter((c) => c.Labels['imagewright.test'].startsWith(RUN));
  await Promise.all(ours.map((c) => engine.getContainer(c.Id).remove({ force: true })));
});

describe('image-exec', () => {
  it('passes argv intact: an argument with spaces stays one argument', async () => {
    const r = await exec(['sh', '-c', 'echo "$1"', '_', 'a  b']);
    expect(r).toEqual({ code: 0, stdout: 'a  b\n', stderr: '' });
  });

  it("keeps the command's own options (image-exec options end at CMD)", async () => {
    const r = await exec(['ls', '-a', '/']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')).toEqual(expect.arrayContaining(['.', '..', 'bin', 'tmp']));
  });

  it("returns the container's exit code", async () => {
    expect((await exec(['sh', '-c', 'exit 7'])).code).toBe(7);
    expect((await exec(['false'])).code).toBe(1);
  });

  it('keeps stdout and stderr apart', async () => {
    const r = await exec(['sh', '-c', 'echo out; echo err >&2; echo out2']);
    expect(r).toEqual({ code: 0, stdout: 'out\nout2\n', stderr: 'err\n' });
  });

  it('applies IMAGE_RUN_PARS: -e, -w and -u are visible inside', async () => {
    const r = await exec(['sh', '-c', 'echo "$K|$(pwd)|$(id -u)|$MSG"'], { pars: `--rm -e K=V -w /tmp -u 65534 -e "MSG=two  words"` });
    expect(r).toEqual({ code: 0, stdout: 'V|/tmp|65534|two  words\n', stderr: '' });
  });

  it('resolves a relative bind source against IMAGE_DIR', async () => {
    const r = await exec(['cat', '/data/greeting'], { pars: '--rm -v ./data:/data:ro' });
    expect(r).toEqual({ code: 0, stdout: 'hello from IMAGE_DIR\n', stderr: '' });
  });

  it('attaches stdin with -i and ends it at EOF', async () => {
    const r = await exec(['sh', '-c', 'cat; echo "[eof]"'], { pars: '--rm -i', input: 'line 1\nline 2\n' });
    expect(r).toEqual({ code: 0, stdout: 'line 1\nline 2\n[eof]\n', stderr: '' });
  });

  it('leaves no container with --rm, and keeps one without it', async () => {
    const rm = await exec(['true'], { pars: `--rm -l ${LABEL}-rm` });
    expect(rm.code).toBe(0);
    expect(await labelled('rm')).toEqual([]);

    const name = `iw-test-${RUN}`;
    const kept = await exec(['true'], { pars: `-l ${LABEL}-kept --name ${name}` });
    expect(kept.code).toBe(0);
    const containers = await labelled('kept');
    expect(containers).toHaveLength(1);
    expect(containers[0]).toMatchObject({ State: 'exited', Names: [`/${name}`] });
    await engine.getContainer(containers[0].Id).remove({ force: true });
  });

  it('rejects an unsupported flag with exit 2 and one line naming it', async () => {
    const r = await exec(['true'], { pars: '--rm --cpus 2' });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^image-exec: IMAGE_RUN_PARS: --cpus is not supported \(supported: --rm, -e\/--env, .*\)\n$/);
  });

  it('rejects shell operators and -t without a terminal (exit 2)', async () => {
    expect(await exec(['true'], { pars: '--rm ; rm -rf /' })).toMatchObject({ code: 2, stderr: expect.stringContaining('shell operator ";"') });
    expect(await exec(['true'], { pars: '--rm -it' })).toMatchObject({ code: 2, stderr: expect.stringContaining('stdin is not one') });
  });

  it('fails with exit 1 for an image that is not there, and --image picks the image', async () => {
    const r = await exec(['--image', 'imagewright-test/absent:none', 'true']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('image-exec: image imagewright-test/absent:none not found locally: run image-build (or image-pull)\n');

    const missing = await runBin('image-exec', ['true'], { env: envFor(root, 'testdep', 'imagewright-test/absent:none') });
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringContaining('imagewright-test/absent:none not found locally') });
    expect(await runBin('image-exec', ['--image', BUSYBOX_IMAGE, 'true'], { env: envFor(root, 'testdep', 'imagewright-test/absent:none') })).toMatchObject({ code: 0 });
  });

  it('fails with exit 1 naming a command the image does not have', async () => {
    const r = await exec(['no-such-command']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^image-exec: cannot start "no-such-command" in .*no-such-command.*\n$/);
  });

  it('needs a command, and --help works without config or engine', async () => {
    expect(await exec([])).toEqual({ code: 2, stdout: '', stderr: 'image-exec: missing argument: usage: image-exec [OPTIONS] CMD [ARG...]\n' });
    const help = await runBin('image-exec', ['--help'], { env: { DEPLOYMENT_NAME: '' } });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: image-exec \[OPTIONS\] CMD \[ARG\.\.\.\]\n\nRun a command in a fresh container/);
  });
});
