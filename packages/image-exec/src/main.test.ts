import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

const exec = (args: string[], options: { pars?: string; input?: string; cwd?: string } = {}) =>
  runBin('image-exec', args, { env: { ...env, ...(options.pars === undefined ? {} : { IMAGE_RUN_PARS: options.pars }) }, input: options.input, cwd: options.cwd });

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

  // Bug: ./x resolved against IMAGE_DIR, and the Engine made a root-owned folder in the sources.
  it('resolves a relative bind source against the current folder, as docker run does', async () => {
    const here = mkdtempSync(join(tmpdir(), 'imagewright-cwd-'));
    mkdirSync(join(here, 'data'));
    writeFileSync(join(here, 'data', 'greeting'), 'hello from the current folder\n');
    const r = await exec(['sh', '-c', 'cat /data/greeting; touch /made/x'], { pars: '--rm -v ./data:/data:ro -v ./made:/made', cwd: here });
    expect(r).toEqual({ code: 0, stdout: 'hello from the current folder\n', stderr: '' });
    expect(existsSync(join(here, 'made', 'x'))).toBe(true);
    expect(existsSync(join(root, 'deployments', 'testdep', 'image', 'made'))).toBe(false);
  });

  it('takes docker-run flags before CMD, on top of IMAGE_RUN_PARS, and leaves CMD untouched', async () => {
    const r = await exec(['-e', 'FOO=from-flag', '-w', '/tmp', '-u=65534', 'sh', '-c', 'echo "$K|$FOO|$(pwd)|$(id -u)|$1"', '_', '-e'], { pars: '--rm -e K=V' });
    expect(r).toEqual({ code: 0, stdout: 'V|from-flag|/tmp|65534|-e\n', stderr: '' });
  });

  // Node 20 takes --env-file for itself even after the script (nodejs/node#54232).
  it("reads --env-file in docker's meaning (a container environment), not Node's", async () => {
    const here = mkdtempSync(join(tmpdir(), 'imagewright-envfile-'));
    writeFileSync(join(here, 'vars'), '# comment\nGREETING=hi there\n\nOTHER=2\n');
    const r = await exec(['--env-file', './vars', 'sh', '-c', 'echo "$GREETING|$OTHER"'], { cwd: here });
    expect(r).toEqual({ code: 0, stdout: 'hi there|2\n', stderr: '' });
    const missing = await exec(['--env-file', './nosuch', 'true'], { cwd: here });
    expect(missing.code).toBe(2);
    expect(missing.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(missing.stderr).toContain('nosuch');
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
    const r = await exec(['true'], { pars: '--rm --blkio-weight 10' });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^image-exec: IMAGE_RUN_PARS: --blkio-weight is not supported \(supported: --rm, -e\/--env, .*\)\n$/);
    const onCommandLine = await exec(['--blkio-weight', '10', 'true']);
    expect(onCommandLine.code).toBe(2);
    expect(onCommandLine.stderr).toMatch(/^image-exec: command line: --blkio-weight is not supported/);
  });

  it('says an unterminated quote in IMAGE_RUN_PARS is one (exit 2)', async () => {
    const r = await exec(['true'], { pars: `--rm -e "A=b` });
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^image-exec: IMAGE_RUN_PARS: .*unterminated/i);
  });

  it('rejects shell operators and -t without a terminal (exit 2)', async () => {
    expect(await exec(['true'], { pars: '--rm ; rm -rf /' })).toMatchObject({ code: 2, stderr: expect.stringContaining('shell operator ";"') });
    expect(await exec(['true'], { pars: '--rm -it' })).toMatchObject({ code: 2, stderr: expect.stringContaining('stdin is not one') });
  });

  it('fails with exit 125 (as docker run) for an image that is not there, and --image picks the image', async () => {
    const r = await exec(['--pull', 'never', '--image', 'imagewright-test/absent:none', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('imagewright-test/absent:none');

    const missing = await runBin('image-exec', ['--pull=never', 'true'], { env: envFor(root, 'testdep', 'imagewright-test/absent:none') });
    expect(missing).toMatchObject({ code: 125, stderr: expect.stringContaining('imagewright-test/absent:none') });
    expect(await runBin('image-exec', ['--image', BUSYBOX_IMAGE, 'true'], { env: envFor(root, 'testdep', 'imagewright-test/absent:none') })).toMatchObject({ code: 0 });
  });

  it('exits 127 naming a command the image does not have, 126 for one it cannot invoke (as docker run)', async () => {
    const r = await exec(['no-such-command']);
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/^image-exec: .*no-such-command.*\n$/);
    const notExecutable = await exec(['/etc/passwd']);
    expect(notExecutable.code).toBe(126);
    expect(notExecutable.stderr).toContain('/etc/passwd');
  });

  it('needs a command, and --help works without config or engine', async () => {
    expect(await exec([])).toEqual({ code: 2, stdout: '', stderr: 'image-exec: missing argument: usage: image-exec [OPTIONS] [DOCKER RUN FLAGS] CMD [ARG...]\n' });
    const help = await runBin('image-exec', ['--help'], { env: { DEPLOYMENT_NAME: '' } });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: image-exec \[OPTIONS\] \[DOCKER RUN FLAGS\] CMD \[ARG\.\.\.\]\n\nRun a command in a fresh container/);
    expect(help.stdout).toContain('125 the Engine refused the container');
  });
});
