import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, type Engine } from '@imagewright/docker';
import { busyboxImage, BUSYBOX_IMAGE, dockerCli, ensureEngine, REPO_ROOT, runBin } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A busybox image built by the Engine with a layer that deletes and overwrites files of the one
// below and a copy of busybox itself (a duplicate). The oracle for sizes is GNU tar listing the
// layers of `docker save`.
let engine: Engine;
let id: string;
let work: string;
let archive: string;

const BIG = 100_000;
const KEEP = 5_000;

/** Per layer (bottom → top), per GNU tar: regular-file bytes and non-directory, non-whiteout entries. */
let oracle: { size: number; files: number }[];

beforeAll(async () => {
  engine = await ensureEngine();
  await busyboxImage(engine);
  work = mkdtempSync(join(tmpdir(), 'iw-image-layers-'));
  const context = join(work, 'context');
  mkdirSync(context);
  writeFileSync(
    join(context, 'Dockerfile'),
    [
      `FROM ${BUSYBOX_IMAGE}`,
      `RUN mkdir -p /data/gone && head -c ${BIG} /dev/zero > /data/big && head -c ${KEEP} /dev/zero > /data/keep && echo bye > /data/gone/f && cp /bin/busybox /data/bb-copy`,
      'ENV UNUSED=1',
      'RUN rm -r /data/big /data/gone && echo x > /data/keep',
      '',
    ].join('\n'),
  );
  id = await buildImage(engine, { context, noCache: true, output: { write: () => true } as never });
  archive = join(work, 'image.tar');
  const save = spawnSync(dockerCli(), ['save', '-o', archive, id], { encoding: 'utf8' });
  expect(save.stderr).toBe('');
  const unpacked = join(work, 'saved');
  mkdirSync(unpacked);
  expect(spawnSync('tar', ['-xf', archive, '-C', unpacked]).status).toBe(0);
  const manifest = JSON.parse(readFileSync(join(unpacked, 'manifest.json'), 'utf8')) as { Layers: string[] }[];
  oracle = manifest[0].Layers.map((layer) => {
    const listing = spawnSync('tar', ['--numeric-owner', '-tvf', join(unpacked, layer)], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
    const lines = listing.map((l) => ({ type: l[0], size: Number(l.split(/\s+/)[2]), name: l.split(/\s+/).slice(5).join(' ') }));
    const kept = lines.filter((l) => l.type !== 'd' && !/(^|\/)\.wh\./.test(l.name));
    return { size: kept.filter((l) => l.type === '-').reduce((sum, l) => sum + l.size, 0), files: kept.length };
  });
}, 600_000);

afterAll(async () => {
  if (id) await engine?.getImage(id).remove({ force: true }).catch(() => undefined);
  if (work) rmSync(work, { recursive: true, force: true });
});

const layers = (args: string[]) => runBin('image-layers', args);

interface Report {
  image: string;
  layers: { index: number; diffId: string; createdBy: string; size: number; files: number; deletions: number; hiddenFiles: number; hiddenBytes: number }[];
  imageBytes: number;
  finalBytes: number;
  wastedBytes: number;
  efficiency: number;
  wasted: { path: string; copies: number; bytes: number }[];
  duplicates: { groups: number; files: number; bytes: number; top: { paths: string[]; size: number }[] };
  ci?: { pass: boolean; failed: string[] };
}

describe('image-layers', () => {
  it('--json: sizes per layer as tar lists them, the deleted and overwritten files as wasted, busybox and its copy as duplicates', async () => {
    const r = await layers(['--json', id]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const report = JSON.parse(r.stdout) as Report;
    expect(report.layers.map((l) => ({ size: l.size, files: l.files }))).toEqual(oracle);
    const diffIds = JSON.parse(spawnSync(dockerCli(), ['image', 'inspect', '--format', '{{json .RootFS.Layers}}', id], { encoding: 'utf8' }).stdout) as string[];
    expect(report.layers.map((l) => l.diffId)).toEqual(diffIds);
    const [base, adds, removes] = report.layers;
    expect(adds.createdBy).toMatch(/head -c 100000/);
    expect(removes.createdBy).toMatch(/rm -r \/data\/big/);
    // /data/big, /data/keep's first version and /data/gone/f are thrown away by the top layer.
    expect(adds).toMatchObject({ hiddenFiles: 3, hiddenBytes: BIG + KEEP + 4 });
    expect(base.hiddenBytes + removes.hiddenBytes).toBe(0);
    expect(removes.deletions).toBe(2);
    expect(report.wastedBytes).toBe(BIG + KEEP + 4);
    expect(report.imageBytes).toBe(oracle.reduce((sum, l) => sum + l.size, 0));
    expect(report.finalBytes).toBe(report.imageBytes - report.wastedBytes);
    expect(report.efficiency).toBeCloseTo(report.finalBytes / report.imageBytes, 10);
    expect(report.wasted.map((w) => w.path)).toEqual(['data/big', 'data/keep', 'data/gone/f']);
    const busyboxSize = readFileSync('/bin/busybox').length;
    expect(report.duplicates).toMatchObject({ groups: 1, files: 2, bytes: busyboxSize });
    expect(report.duplicates.top[0].paths).toEqual(['bin/busybox', 'data/bb-copy']);
  });

  it('any location: a docker save archive gives the same report', async () => {
    const fromEngine = JSON.parse((await layers(['--json', id])).stdout) as Report;
    const r = await layers(['--json', '--image', `docker-archive:${archive}`]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect({ ...(JSON.parse(r.stdout) as Report), image: '' }).toEqual({ ...fromEngine, image: '' });
  });

  it('plain lines in a pipe; a table on a terminal', async () => {
    const r = await layers([id]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 3).map((l) => l.replace(/^(layer \d+): .*/, '$1'))).toEqual(['layer 0', 'layer 1', 'layer 2']);
    expect(lines[2]).toMatch(/^layer 2: 2B in 1 files, 0B wasted: .*rm -r \/data\/big/);
    expect(lines).toContain(`wasted: ${BIG + KEEP + 4} (105kB) in 3 files overwritten or deleted by later layers`);
    const tty = spawnSync('script', ['-qec', `${join(REPO_ROOT, 'packages', 'image-layers', 'dist', 'main.js')} ${id}`, '/dev/null'], { env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined }, encoding: 'utf8' });
    expect(tty.status).toBe(0);
    expect(tty.stdout.replace(/\r/g, '').split('\n')[0]).toMatch(/^LAYER +SIZE +FILES +WASTED +CREATED BY$/);
  });

  it('--ci: exit 1 naming each threshold failed; passing thresholds exit 0', async () => {
    const fail = await layers(['--ci', '--max-wasted', '100k', '--min-efficiency', '0.9999', id]);
    expect(fail.code).toBe(1);
    expect(fail.stdout).toMatch(/^FAIL wasted 105004 bytes \(105kB\) > --max-wasted 100000 bytes \(100kB\)$/m);
    expect(fail.stdout).toMatch(/^FAIL efficiency 0\.\d{4} < --min-efficiency 0\.9999$/m);
    const pass = await layers(['--ci', '--max-wasted', '105004', id]);
    expect(pass.code).toBe(0);
    expect(pass.stdout).toMatch(/^PASS every threshold$/m);
    const json = await layers(['--ci', '--json', '--max-wasted', '1KiB', id]);
    expect(json.code).toBe(1);
    expect((JSON.parse(json.stdout) as Report).ci).toMatchObject({ pass: false, failed: [expect.stringMatching(/^wasted .* > --max-wasted 1024 bytes/)] });
  });

  it('bad thresholds: exit 2, one line, before the image is read', async () => {
    const cases: [string[], RegExp][] = [
      [['--ci', '--max-wasted', 'lots'], /^image-layers: --max-wasted "lots": allowed bytes/],
      [['--ci', '--min-efficiency', '1.5'], /^image-layers: --min-efficiency "1.5": allowed a ratio from 0 to 1/],
      [['--max-wasted', '1'], /^image-layers: --max-wasted goes with --ci/],
    ];
    for (const [args, message] of cases) {
      const r = await layers([...args, 'imagewright-test/none:nothing']);
      expect(r).toMatchObject({ code: 2, stdout: '' });
      expect(r.stderr).toMatch(message);
      expect(r.stderr.split('\n')).toHaveLength(2);
    }
  });
});
