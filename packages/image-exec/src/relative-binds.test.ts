import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Engine, parseRunFlags, runContainer } from '@imagewright/docker';
import { BUSYBOX_IMAGE, busyboxImage, ensureEngine, envFor, runBin, tempDeploymentRoot } from '@imagewright/testing';

// Issue 8, bug 4: ./relative paths of the run flags resolve against the current directory, as
// with `docker run`; before, they resolved against IMAGE_DIR and the Engine made folders there.
let engine: Engine;
let work: string;
const saved = process.cwd();

beforeAll(async () => {
  engine = await ensureEngine();
  await busyboxImage(engine);
  work = mkdtempSync(join(tmpdir(), 'imagewright-cwd-'));
  mkdirSync(join(work, 'data'));
  writeFileSync(join(work, 'data', 'greeting'), 'hello from the current directory\n');
  writeFileSync(join(work, 'vars.env'), 'FROM_FILE=yes\n');
});

afterAll(() => process.chdir(saved));

describe('relative paths in docker-run flags', () => {
  it('runContainer resolves -v, --mount and --env-file against process.cwd() when given no cwd', async () => {
    process.chdir(work);
    const stdout = new PassThrough();
    let out = '';
    stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const flags = parseRunFlags('--rm -v ./data:/v:ro --mount type=bind,src=./data,dst=/m,readonly --env-file vars.env');
    const code = await runContainer(engine, { image: BUSYBOX_IMAGE, cmd: ['sh', '-c', 'cat /v/greeting /m/greeting; echo "$FROM_FILE"'], flags, stdout, stderr: process.stderr, stdin: new PassThrough() });
    process.chdir(saved);
    expect(code).toBe(0);
    expect(out).toBe('hello from the current directory\nhello from the current directory\nyes\n');
  });

  it('image-exec run from a folder mounts that folder, and creates nothing in IMAGE_DIR', async () => {
    const root = tempDeploymentRoot('testdep');
    const env = { ...envFor(root, 'testdep', BUSYBOX_IMAGE), IMAGE_RUN_PARS: '--rm -v ./data:/data:ro' };
    const r = await runBin('image-exec', ['cat', '/data/greeting'], { env, cwd: work });
    expect(r).toMatchObject({ code: 0, stdout: 'hello from the current directory\n' });
    expect(existsSync(join(root, 'deployments', 'testdep', 'image', 'data'))).toBe(false);
  });
});
