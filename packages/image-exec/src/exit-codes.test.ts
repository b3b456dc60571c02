import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImagewrightError } from '@imagewright/core';
import { type Engine, parseRunFlags, runCaptured, runContainer } from '@imagewright/docker';
import { BUSYBOX_IMAGE, busyboxImage, ensureEngine, startRegistry } from '@imagewright/testing';

// runContainer against the real Engine: docker run's exit codes (125 refused, 126 cannot invoke,
// 127 not found, else the container's own status) and --pull. Containers carry a label of this run.
let engine: Engine;
const RUN = `exit-codes-${randomUUID()}`;
const LABEL = `imagewright.test=${RUN}`;

beforeAll(async () => {
  engine = await ensureEngine();
  await busyboxImage(engine);
});

afterAll(async () => {
  if (!engine) return;
  const left = await engine.listContainers({ all: true, filters: { label: [LABEL] } });
  await Promise.all(left.map((c) => engine.getContainer(c.Id).remove({ force: true })));
});

/** Runs CMD (no stdin, no TTY): the exit code, or the error's code and message, plus the output. */
async function run(cmd: string[], options: { pars?: string; image?: string } = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const flags = parseRunFlags(`-l ${LABEL} ${options.pars ?? '--rm'}`);
  try {
    const code = await runContainer(engine, { image: options.image ?? BUSYBOX_IMAGE, cmd, flags, stdout, stderr, stdin: new PassThrough() });
    return { code, thrown: false, message: '', stdout: out, stderr: err };
  } catch (error) {
    if (!(error instanceof ImagewrightError)) throw error;
    return { code: error.exitCode as number, thrown: true, message: error.message, stdout: out, stderr: err };
  }
}

const ours = () => engine.listContainers({ all: true, filters: { label: [LABEL] } });

describe('runContainer exit codes, as docker run', () => {
  it('127 when the command is not found (on PATH or by path)', async () => {
    const onPath = await run(['no-such-command']);
    expect(onPath).toMatchObject({ code: 127, thrown: true });
    expect(onPath.message).toMatch(/^cannot start "no-such-command" in imagewright-test\/busybox:latest: .*executable file not found/);
    const byPath = await run(['/no/such/file']);
    expect(byPath).toMatchObject({ code: 127, thrown: true });
    expect(byPath.message).toContain('no such file or directory');
    // A --rm container that never started is not left behind.
    expect(await ours()).toEqual([]);
  });

  it('126 when the command exists but cannot be invoked', async () => {
    const notExecutable = await run(['/etc/passwd']);
    expect(notExecutable).toMatchObject({ code: 126, thrown: true });
    expect(notExecutable.message).toContain('permission denied');
    expect((await run(['/tmp'])).code).toBe(126);
  });

  it("the container's own status otherwise, 126 and 127 from its shell included", async () => {
    expect(await run(['sh', '-c', 'exit 3'])).toMatchObject({ code: 3, thrown: false });
    expect(await run(['true'])).toMatchObject({ code: 0, thrown: false });
    const shell = await run(['sh', '-c', 'no-such-command']);
    expect(shell).toMatchObject({ code: 127, thrown: false });
    expect(shell.stderr).toContain('no-such-command');
    expect(await run(['sh', '-c', '/etc/passwd'])).toMatchObject({ code: 126, thrown: false });
  });

  it('125 when the Engine refuses to create or start the container', async () => {
    // Refused at create: below the Engine's minimum memory.
    const create = await run(['true'], { pars: '--rm -m 1k' });
    expect(create).toMatchObject({ code: 125, thrown: true });
    expect(create.message).toMatch(/^cannot create a container of imagewright-test\/busybox:latest: .*[Mm]inimum memory/);
    // Refused at start: a GPU on a machine without one.
    const start = await run(['true'], { pars: '--rm --gpus all' });
    expect(start).toMatchObject({ code: 125, thrown: true });
    expect(start.message).toMatch(/^cannot start "true" in .*: .*(device driver|gpu)/i);
    // Refused at create: the name is taken.
    const name = `iw-exit-${randomUUID().slice(0, 8)}`;
    expect((await run(['true'], { pars: `--name ${name}` })).code).toBe(0);
    const taken = await run(['true'], { pars: `--name ${name}` });
    expect(taken).toMatchObject({ code: 125, thrown: true });
    expect(taken.message).toContain('is already in use');
    await engine.getContainer(name).remove({ force: true });
    expect(await ours()).toEqual([]);
  });

  it("keeps runCaptured's `missing` message for a command the image lacks", async () => {
    const error = await runCaptured(engine, { image: BUSYBOX_IMAGE, cmd: ['/opt/no/tool'], missing: 'the image has no tool' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImagewrightError);
    expect(error).toMatchObject({ message: 'the image has no tool', exitCode: 1 });
  });
});

describe('--pull, as docker run', () => {
  it('missing pulls an absent image with docker-login credentials, always pulls anyway, never refuses (125)', async () => {
    const registry = await startRegistry();
    const ref = `${registry.host}/iw/busybox:${RUN.slice(-12)}`;
    const savedConfig = process.env.DOCKER_CONFIG;
    try {
      const dockerConfig = mkdtempSync(join(tmpdir(), 'imagewright-dockerconfig-'));
      const auth = Buffer.from(`${registry.username}:${registry.password}`).toString('base64');
      writeFileSync(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth } } }));
      execFileSync('skopeo', ['copy', '-q', '--dest-tls-verify=false', '--dest-authfile', join(dockerConfig, 'config.json'), `docker-daemon:${BUSYBOX_IMAGE}`, `docker://${ref}`]);
      await engine.getImage(ref).remove().catch(() => undefined);

      const never = await run(['true'], { image: ref, pars: '--rm --pull never' });
      expect(never).toMatchObject({ code: 125, thrown: true, message: `image ${ref} not found locally and --pull never: build it (image-build) or pull it` });

      // No credentials: docker's "Unable to find image" line, then the pull's refusal.
      process.env.DOCKER_CONFIG = mkdtempSync(join(tmpdir(), 'imagewright-empty-'));
      const anonymous = await run(['true'], { image: ref });
      expect(anonymous).toMatchObject({ code: 125, thrown: true });
      expect(anonymous.stderr).toBe(`Unable to find image '${ref}' locally\n`);
      expect(anonymous.message).toMatch(new RegExp(`^cannot pull ${ref.replace(/[.]/g, '\\.')}: .*(no basic auth|unauthorized)`, 'i'));
      expect(anonymous.message).not.toContain('HTTP code');

      process.env.DOCKER_CONFIG = dockerConfig;
      const pulled = await run(['echo', 'pulled'], { image: ref });
      expect(pulled).toMatchObject({ code: 0, thrown: false, stdout: 'pulled\n' });
      // Progress as the pull renders it in a pipe: one plain line per status.
      expect(pulled.stderr).toMatch(new RegExp(`^Unable to find image '${ref.replace(/[.]/g, '\\.')}' locally\\n.*Pulling from iw/busybox\\n[^]*Status: Downloaded newer image for `));
      expect(pulled.stderr).not.toContain(registry.password);

      const always = await run(['true'], { image: ref, pars: '--rm --pull always' });
      expect(always).toMatchObject({ code: 0, thrown: false });
      expect(always.stderr).toContain(`Status: Image is up to date for ${ref}`);
      expect(always.stderr).not.toContain('Unable to find image');

      process.env.DOCKER_CONFIG = mkdtempSync(join(tmpdir(), 'imagewright-empty-'));
      // always pulls even when the image is here, so a refused pull is 125 though it exists.
      expect(await run(['true'], { image: ref, pars: '--rm --pull always' })).toMatchObject({ code: 125, thrown: true });
    } finally {
      if (savedConfig === undefined) delete process.env.DOCKER_CONFIG;
      else process.env.DOCKER_CONFIG = savedConfig;
      await engine.getImage(ref).remove().catch(() => undefined);
      await registry.stop();
    }
  });
});
