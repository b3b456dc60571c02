import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '@imagewright/docker';
import { busyboxEntries, childImagesOf, ensureEngine, envFor, filesInImage, loadLayeredImage, patchContainersOf, runBin, tempDeploymentRoot, removeRepository, type LayeredConfig } from '@imagewright/testing';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Real Engine: a busybox image with a full run config is patched by the built bin, and every
// claim is checked against the Engine's own view (inspect, history, a container's export).
const REPO = `imagewright-test/patch-${process.pid}`;
const DEPLOYMENT = 'patchdep';
let engine: Engine;

const SOURCE_CONFIG: LayeredConfig = {
  Env: ['PATH=/bin', 'GREETING=hello world'],
  Entrypoint: ['/bin/sh', '-c', 'echo "$GREETING"; exec "$@"', 'entry'],
  Cmd: ['sh'],
  User: 'nobody',
  WorkingDir: '/tmp',
  Labels: { team: 'platform', 'org.example.note': 'a: b' },
  ExposedPorts: { '8888/tcp': {} },
  Volumes: { '/home': {} },
  StopSignal: 'SIGINT',
};

async function source(tag: string, config: LayeredConfig = SOURCE_CONFIG, extra: { path: string; content: string; mode?: number }[] = []): Promise<string> {
  // Each source its own image (its own ID), whatever the config.
  const files = [{ path: 'etc/source', content: tag }, ...extra];
  const image = await loadLayeredImage(engine, `${REPO}:${tag}`, [busyboxEntries(), files.map((f) => ({ ...f, type: 'file' as const }))], config);
  return image.id;
}

const idOf = async (ref: string) => (await engine.getImage(ref).inspect()).Id;
const short = (id: string) => id.slice(7, 19);
const filesIn = (image: string, prefix: string) => filesInImage(engine, image, prefix);
// Per source: other test files patch at the same time.
const leftovers = async (source: string) => ({ containers: await patchContainersOf(engine, source), images: await childImagesOf(engine, source) });

function workspace(tag: string) {
  const root = tempDeploymentRoot(DEPLOYMENT);
  const env = envFor(root, DEPLOYMENT, `${REPO}:${tag}`);
  const script = (name: string, text: string) => {
    const file = join(root, name);
    writeFileSync(file, text, { mode: 0o755 });
    return file;
  };
  return { root, env, script, ledger: join(root, 'deployments', DEPLOYMENT, 'patches.yaml') };
}

beforeAll(async () => {
  engine = await ensureEngine();
});

afterAll(async () => {
  await removeRepository(engine, REPO);
});

describe('patch-image', () => {
  it('records, commits, keeps the run config, backs up the old image, appends the ledger; image-patches reads it back', async () => {
    const src = await source('main');
    const ws = workspace('main');
    const description = 'Fix "CVE-2026-1": quotes, colons: and\na second line\n  indented # not a comment';
    const script = ws.script('fix.sh', '#!/bin/sh\necho "patching as $(id -u) in $(pwd)"\necho fixed > /etc/fixed\necho to-stderr >&2\n');
    const result = await runBin('patch-image', [script, '--author', 'ops@example.org', '--description', description, '--json'], { env: ws.env });
    expect(result.code, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout);
    const dir = `/opt/patches/${short(src)}`;
    expect(out).toMatchObject({ tag: `${REPO}:main`, previous: src, backup: `${REPO}:pre-patch-${short(src)}`, patchDir: dir, exitStatus: 0, source: { id: src } });
    // The script's output is shown as it runs (stderr: stdout carries the JSON).
    expect(result.stderr).toContain(`patching as 0 in ${dir}`);
    expect(result.stderr).toContain('to-stderr');

    const patched = await engine.getImage(`${REPO}:main`).inspect();
    expect(patched.Id).toBe(out.id);
    expect(await idOf(`${REPO}:pre-patch-${short(src)}`)).toBe(src);
    const original = await engine.getImage(src).inspect();
    for (const field of ['Cmd', 'Entrypoint', 'User', 'WorkingDir', 'Env', 'Labels', 'ExposedPorts', 'Volumes', 'StopSignal'] as const) {
      expect((patched.Config as Record<string, unknown>)[field], field).toEqual((original.Config as Record<string, unknown>)[field]);
    }
    expect(patched.RootFS.Layers).toEqual([...original.RootFS.Layers!, patched.RootFS.Layers!.at(-1)]);
    expect(patched.Author).toBe('ops@example.org');
    expect(patched.Comment).toBe(description);
    const history = await engine.getImage(out.id).history();
    expect(history).toHaveLength((await engine.getImage(src).history()).length + 1);

    const files = await filesIn(out.id, dir.slice(1));
    const metadata = parse(files.get(`${dir.slice(1)}/metadata.yaml`)!.toString());
    expect(metadata).toMatchObject({ author: 'ops@example.org', description, exitStatus: 0, source: { id: src, image: `${REPO}:main` }, script: { name: 'fix.sh' } });
    expect(metadata.script.sha256).toBe(require('node:crypto').createHash('sha256').update(readFileSync(script)).digest('hex'));
    expect(metadata.imagewright).toMatch(/^\d+\.\d+\.\d+/);
    expect(Date.parse(metadata.time)).toBeGreaterThan(Date.now() - 600_000);
    expect(files.get(`${dir.slice(1)}/fix.sh`)?.equals(readFileSync(script))).toBe(true);
    expect(files.get(`${dir.slice(1)}/patch.log`)?.toString()).toBe(`patching as 0 in ${dir}\nto-stderr\n`);
    expect(JSON.parse(files.get(`${dir.slice(1)}/source-inspect.json`)!.toString())[0].Id).toBe(src);
    expect((await filesIn(out.id, 'etc/fixed')).get('etc/fixed')?.toString()).toBe('fixed\n');
    expect(await patchContainersOf(engine, src)).toEqual([]);

    const ledger = parse(readFileSync(ws.ledger, 'utf8'));
    expect(ledger.patches).toHaveLength(1);
    expect(ledger.patches[0]).toMatchObject({ command: 'patch-image', author: 'ops@example.org', description, source: { id: src }, result: { id: out.id, tag: `${REPO}:main`, backup: `${REPO}:pre-patch-${short(src)}` } });

    const history1 = await runBin('image-patches', ['--json'], { env: ws.env });
    expect(history1.code, history1.stderr).toBe(0);
    expect(JSON.parse(history1.stdout)).toEqual([expect.objectContaining({ dir, layer: 2, author: 'ops@example.org', description, exitStatus: 0 })]);

    // A second patch stacks a second folder, named after the first result; both listed in order.
    const second = await runBin('patch-image', ['--author', 'Second Admin <two@example.org>', '--description', 'second', ws.script('again', 'echo again\n'), '--json'], { env: ws.env });
    expect(second.code, second.stderr).toBe(0);
    const out2 = JSON.parse(second.stdout);
    expect(out2.backup).toBe(`${REPO}:pre-patch-${short(out.id)}`);
    expect(await idOf(out2.backup)).toBe(out.id);
    const listed = await runBin('image-patches', ['--json', `${REPO}:main`], { env: ws.env });
    expect(JSON.parse(listed.stdout).map((p: { dir: string; description: string }) => [p.dir, p.description])).toEqual([
      [dir, description],
      [`/opt/patches/${short(out.id)}`, 'second'],
    ]);
    const table = await runBin('image-patches', [], { env: ws.env });
    expect(table.stdout.split('\n')[0]).toMatch(/^#\s+DIR\s+TIME\s+AUTHOR\s+SCRIPT\s+DESCRIPTION$/);
    expect(table.stdout).toContain('Second Admin <two@example.org>');
    const ledgerView = JSON.parse((await runBin('image-patches', ['--ledger', '--json'], { env: ws.env })).stdout);
    expect(ledgerView.map((e: { result: { id: string } }) => e.result.id)).toEqual([out.id, out2.id]);
    // The same history from a docker-archive, no Engine image involved.
    const archive = join(ws.root, 'patched.tar');
    const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
    execFileSync('docker', ['save', '-o', archive, `${REPO}:main`]);
    const fromArchive = await runBin('image-patches', ['--json', `docker-archive:${archive}`], { env: ws.env });
    expect(JSON.parse(fromArchive.stdout)).toEqual(JSON.parse(listed.stdout));
  });

  it('a script that exits 3: exit 1, no commit, the tag, ledger and images as they were, no container', async () => {
    const src = await source('fails');
    const ws = workspace('fails');
    const result = await runBin('patch-image', [ws.script('bad.sh', '#!/bin/sh\necho about to fail\nexit 3\n'), '--author', 'ops@example.org', '--description', 'fails'], { env: ws.env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('about to fail');
    expect(result.stderr).toMatch(/patch-image: bad\.sh exited 3 in .*: nothing committed/);
    expect(await idOf(`${REPO}:fails`)).toBe(src);
    expect(await leftovers(src)).toEqual({ containers: [], images: [] });
    expect(() => readFileSync(ws.ledger)).toThrow();
  });

  it('SIGTERM while the script runs: exit 143, tags as they were, no container, no ledger entry', async () => {
    const src = await source('term');
    const ws = workspace('term');
    const result = await runBin('patch-image', [ws.script('slow.sh', '#!/bin/sh\necho sleeping now\nsleep 60\n'), '--author', 'ops@example.org', '--description', 'slow'], {
      env: ws.env,
      signalWhen: { text: 'sleeping now', signal: 'SIGTERM' },
    });
    expect(result.code).toBe(143);
    expect(await idOf(`${REPO}:term`)).toBe(src);
    await expect(engine.getImage(`${REPO}:pre-patch-${short(src)}`).inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect(await leftovers(src)).toEqual({ containers: [], images: [] });
    expect(() => readFileSync(ws.ledger)).toThrow();
  });

  it('an image with neither Entrypoint nor Cmd stays so (the exact-config path), its history kept', async () => {
    // The test image's config has Cmd ["sh"] unless told otherwise: undefined leaves it out.
    const src = await source('nocmd', { Env: ['PATH=/bin'], Cmd: undefined });
    expect((await engine.getImage(src).inspect()).Config.Cmd ?? null).toBeNull();
    const ws = workspace('nocmd');
    const result = await runBin('patch-image', [ws.script('touch.sh', 'touch /touched\n'), '--author', 'ops@example.org', '--description', 'no command', '--json', '--no-ledger'], { env: ws.env });
    expect(result.code, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout);
    const patched = await engine.getImage(out.id).inspect();
    expect(patched.Config.Cmd ?? null).toBeNull();
    expect(patched.Config.Entrypoint ?? null).toBeNull();
    expect(patched.Config.Env).toEqual(['PATH=/bin']);
    const history = await engine.getImage(out.id).history();
    const sourceHistory = await engine.getImage(src).history();
    expect(history.slice(1).map((h: { CreatedBy: string }) => h.CreatedBy)).toEqual(sourceHistory.map((h: { CreatedBy: string }) => h.CreatedBy));
    expect(history[0]).toMatchObject({ CreatedBy: 'patch-image touch.sh', Comment: 'no command' });
    expect((await filesIn(out.id, 'touched')).has('touched')).toBe(true);
    expect(() => readFileSync(ws.ledger)).toThrow();
  });

  it('--source ID with --tag DEST: DEST gets the result; bad input exits 2 and changes nothing', async () => {
    const src = await source('byid');
    const ws = workspace('byid');
    const script = ws.script('ok.sh', 'true\n');
    const byId = await runBin('patch-image', [script, '--author', 'ops@example.org', '--description', 'by id', '--source', src, '--tag', `${REPO}:other`, '--json'], { env: ws.env });
    expect(byId.code, byId.stderr).toBe(0);
    const out = JSON.parse(byId.stdout);
    expect(out.tag).toBe(`${REPO}:other`);
    expect(out.backup).toBeUndefined();
    expect(await idOf(`${REPO}:byid`)).toBe(src);

    const cases: [string[], RegExp][] = [
      [[script, '--description', 'x'], /--author EMAIL is required/],
      [[script, '--author', 'not-an-email', '--description', 'x'], /--author "not-an-email": allowed an email address/],
      [[script, '--author', 'a@b.c'], /--description TEXT is required/],
      [[join(ws.root, 'missing.sh'), '--author', 'a@b.c', '--description', 'x'], /SCRIPT .*missing\.sh: no such file/],
      [[script, '--author', 'a@b.c', '--description', 'x', '--tag', 'Bad/Tag'], /--tag "Bad\/Tag": not a tag/],
      [[script, '--author', 'a@b.c', '--description', 'x', '--source', src, '--image', src], /--source and --image conflict/],
      [[ws.script('metadata.yaml', 'true\n'), '--author', 'a@b.c', '--description', 'x'], /SCRIPT "metadata\.yaml": that name is the patch record's own/],
    ];
    for (const [args, message] of cases) {
      const result = await runBin('patch-image', args, { env: ws.env });
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    const missing = await runBin('patch-image', [script, '--author', 'a@b.c', '--description', 'x', '--source', `${REPO}:nosuch`], { env: ws.env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no such image in the Engine; pull it first/);
    expect(await idOf(`${REPO}:byid`)).toBe(src);
    // The one child is the --tag DEST result above; the refused runs made none.
    expect(await leftovers(src)).toEqual({ containers: [], images: [out.id] });
  });
});
