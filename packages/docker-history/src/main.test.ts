import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { humanSize } from '@imagewright/core';
import { followProgress, type Engine, type HistoryJson } from '@imagewright/docker';
import { BUSYBOX_IMAGE, busyboxImage, dockerCli, ensureEngine, envFor, runBin, tempDeploymentRoot } from '@imagewright/testing';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The real `docker` CLI is the oracle: same engine, same image, its own formatting.
const docker = (...args: string[]) => execFileSync(dockerCli(), args, { encoding: 'utf8' });
const lines = (text: string) => text.split('\n').filter((l) => l !== '');

/** Cells of a docker-style table, cut at the header's column starts. */
function cells(table: string): string[][] {
  const [header, ...rows] = lines(table);
  const names = ['IMAGE', header.includes('CREATED AT') ? 'CREATED AT' : 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'];
  const starts = names.map((n) => header.indexOf(n));
  expect(starts.every((s, i) => s >= 0 && (i === 0 || s > starts[i - 1]))).toBe(true);
  return [header, ...rows].map((line) => starts.map((s, i) => line.slice(s, starts[i + 1]).trim()));
}

/** docker history --no-trunc with these args: stdout, or the failure's exit code and stderr. */
function dockerHistory(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(dockerCli(), ['history', '--no-trunc', ...args], { encoding: 'utf8', env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const collect = (stream: tar.Pack) =>
  new Promise<Buffer>((res, rej) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c) => chunks.push(c as Buffer));
    stream.on('end', () => res(Buffer.concat(chunks)));
    stream.on('error', rej);
  });

/**
 * An image whose history has fixed dates (so CREATED never ticks): a 1970 root (docker shows N/A),
 * a 1999 step (N/A too), a 2001 step; tabs, newlines and <&> in CreatedBy and Comment. Loaded with
 * `docker load` from a docker-archive made here.
 */
async function fixedDateImage(tag: string): Promise<void> {
  const layer = tar.pack();
  layer.entry({ name: 'hello.txt' }, 'hello\n');
  layer.finalize();
  const layerTar = await collect(layer);
  const config = {
    architecture: 'amd64',
    os: 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: [`sha256:${createHash('sha256').update(layerTar).digest('hex')}`] },
    created: '2001-02-03T04:05:06Z',
    history: [
      { created: '1970-01-01T00:00:00Z', created_by: '/bin/sh -c #(nop) ADD file:hello.txt in / ', comment: 'epoch\tzero <root>' },
      { created: '1999-12-31T23:59:59Z', created_by: '/bin/sh -c #(nop)  LABEL a=b', empty_layer: true },
      { created: '2001-02-03T04:05:06Z', created_by: "RUN /bin/sh -c printf 'a\tb' && echo x > /y\nline two", comment: 'multi\tline\ncomment <&>', empty_layer: true },
    ],
  };
  const archive = tar.pack();
  archive.entry({ name: 'config.json' }, JSON.stringify(config));
  archive.entry({ name: 'layer.tar' }, layerTar);
  archive.entry({ name: 'manifest.json' }, JSON.stringify([{ Config: 'config.json', RepoTags: [tag], Layers: ['layer.tar'] }]));
  archive.finalize();
  execFileSync(dockerCli(), ['load', '-q'], { input: await collect(archive) });
}

const TAG = `imagewright-test/history:t${process.pid}`;
const FIXED = `imagewright-test/history-fixed:t${process.pid}`;
let engine: Engine;
let root: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  engine = await ensureEngine();
  await busyboxImage(engine);
  // Two steps on the busybox image: one that adds bytes, one metadata-only (0B).
  const context = tar.pack();
  context.entry({ name: 'Dockerfile' }, `FROM ${BUSYBOX_IMAGE}\nRUN echo x > /x\nLABEL a=b\n`);
  context.finalize();
  const stream = await engine.buildImage(context as unknown as NodeJS.ReadableStream, { t: TAG, rm: true, forcerm: true });
  await followProgress(stream as never);
  await fixedDateImage(FIXED);
  root = tempDeploymentRoot();
  env = envFor(root, 'testdep', TAG);
});

afterAll(async () => {
  await engine?.getImage(TAG).remove({ force: true }).catch(() => undefined);
  await engine?.getImage(FIXED).remove({ force: true }).catch(() => undefined);
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('docker-history', () => {
  it('shows the configured image: the same rows, order, CREATED BY and sizes as docker history', async () => {
    const oracle = lines(docker('history', '--no-trunc', '--format', '{{.ID}}\t{{.CreatedBy}}\t{{.Size}}', TAG)).map((l) => l.split('\t'));
    const bytes = lines(docker('image', 'history', '--no-trunc', '--human=false', '--format', '{{.ID}}\t{{.Size}}', TAG)).map((l) => l.split('\t'));
    const result = await runBin('docker-history', ['--json'], { env });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as HistoryJson[];

    expect(rows).toHaveLength(3); // LABEL, RUN, the imported busybox root
    expect(rows.map((r) => r.id)).toEqual(oracle.map(([id]) => id));
    expect(rows.map((r) => r.createdBy.replace(/\t/g, ' '))).toEqual(oracle.map(([, by]) => by));
    expect(rows.map((r) => [r.id, String(r.size)])).toEqual(bytes);
    expect(rows.map((r) => humanSize(r.size))).toEqual(oracle.map(([, , size]) => size));
    expect(rows[0].createdBy).toContain('LABEL a=b');
    expect(rows[0].size).toBe(0);
    expect(rows[1].createdBy).toContain('echo x > /x');
    expect(rows[1].size).toBeGreaterThan(0);
    expect(rows[0].tags).toContain(TAG);
  });

  it('prints the table of docker history --no-trunc, cell for cell', async () => {
    const before = cells(docker('history', '--no-trunc', TAG));
    const result = await runBin('docker-history', [], { env });
    const after = cells(docker('history', '--no-trunc', TAG));
    expect(result.code).toBe(0);
    const ours = cells(result.stdout);
    expect(ours[0]).toEqual(['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT']);
    expect(ours).toHaveLength(before.length);
    ours.forEach((row, i) => {
      // CREATED is an age: it may tick between the oracle's runs, so it must be one of them.
      expect([before[i][1], after[i][1]]).toContain(row[1]);
      expect([row[0], row[2], row[3], row[4]]).toEqual([before[i][0], before[i][2], before[i][3], before[i][4]]);
    });
    expect(ours[1][1]).toMatch(/ ago$/);
  });

  it('prints the same bytes as docker history --no-trunc (multi-line and tabbed cells included)', async () => {
    for (const image of [TAG, FIXED]) {
      const before = docker('history', '--no-trunc', image);
      const result = await runBin('docker-history', [image], { env });
      const after = docker('history', '--no-trunc', image);
      expect(result.code).toBe(0);
      expect([before, after]).toContain(result.stdout);
    }
    // The fixed image's dates never tick: N/A up to 2000, as docker shows them.
    expect((await runBin('docker-history', [FIXED], { env })).stdout).toMatch(/^<missing> +N\/A +\/bin\/sh -c #\(nop\) ADD/m);
  });

  describe('--format: byte for byte what docker history --no-trunc --format prints', () => {
    const formats = [
      '{{.ID}}',
      '{{.CreatedSince}}',
      '{{.CreatedAt}}',
      '{{.CreatedBy}}',
      '{{.Size}}',
      '{{.Comment}}',
      '{{json .}}',
      'json',
      '{{json .CreatedBy}}',
      'table',
      'table {{.ID}}\\t{{.Size}}',
      'table {{.CreatedSince}}\t{{.CreatedBy}}\t{{.Comment}}\t{{.Size}}',
      'table {{json .}}',
      'table {{pad .Size 1 1}}\\t{{upper .Comment}}|{{truncate .CreatedAt 4}}',
      '{{.ID}}: {{.CreatedBy}} ({{.Size}})',
      '{{upper .Comment}}|{{lower .CreatedBy}}|{{title .Comment}}',
      '{{truncate .ID 19}}|{{pad .Comment 2 1}}|{{pad "" 1 1}}|',
      '{{join (split .CreatedBy " ") ","}}',
      '{{println .ID .Size}}',
      '{{.Size | json}}|{{.Comment | upper | json}}',
      '  {{- .Size -}}  \\n',
      '{{/* note */}}{{len .CreatedBy}} {{print 1 2 "x" 3}}',
    ];
    it.each(formats)('%s', async (format) => {
      const oracle = dockerHistory(['--format', format, FIXED]);
      expect(oracle.code).toBe(0);
      const result = await runBin('docker-history', ['--format', format, FIXED], { env });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(oracle.stdout);
    });

    it.each(['table', '{{.CreatedSince}} {{.CreatedAt}} {{.Size}}', '{{json .}}'])('--no-human as --human=false, in another time zone: %s', async (format) => {
      const tz = { ...process.env, TZ: 'Asia/Kolkata' };
      const oracle = dockerHistory(['--human=false', '--format', format, FIXED], tz);
      expect(oracle.code).toBe(0);
      expect(oracle.stdout).toContain('+05:30');
      const result = await runBin('docker-history', ['--no-human', '--format', format, FIXED], { env: { ...env, TZ: 'Asia/Kolkata' } });
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(oracle.stdout);
    });

    it('the configured image, whose ages tick: the same as docker just before or just after', async () => {
      const format = 'table {{.ID}}\t{{.CreatedSince}}\t{{json .}}';
      const before = dockerHistory(['--format', format, TAG]).stdout;
      const result = await runBin('docker-history', ['--format', format], { env });
      const after = dockerHistory(['--format', format, TAG]).stdout;
      expect(result.code).toBe(0);
      expect([before, after]).toContain(result.stdout);
    });

    it('--no-trunc is accepted and changes nothing (never truncated)', async () => {
      const plain = await runBin('docker-history', ['--format', '{{json .}}', FIXED], { env });
      const noTrunc = await runBin('docker-history', ['--no-trunc', '--format', '{{json .}}', FIXED], { env });
      expect(noTrunc.code).toBe(0);
      expect(noTrunc.stdout).toBe(plain.stdout);
      expect((await runBin('docker-history', ['--no-trunc', FIXED], { env })).stdout).toBe(docker('history', '--no-trunc', FIXED));
    });

    it.each([
      ['{{.Nope}}', /^docker-history: --format "\{\{\.Nope\}\}": can't evaluate field Nope \(allowed: \.ID, \.CreatedSince, \.CreatedAt, \.CreatedBy, \.Size, \.Comment\)\n$/],
      ['{{nope .ID}}', /^docker-history: --format "\{\{nope \.ID\}\}": function "nope" not defined \(allowed: json, .*\)\n$/],
      ['{{.ID', /^docker-history: --format "\{\{\.ID": unclosed action\n$/],
      ['{{upper 3}}', /^docker-history: --format "\{\{upper 3\}\}": upper: expected string; found 3\n$/],
    ])('a template docker refuses too is exit 2, one line naming it: %s', async (format, message) => {
      expect(dockerHistory(['--format', format, FIXED]).code).not.toBe(0);
      const result = await runBin('docker-history', ['--format', format, FIXED], { env });
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(message);
    });

    it('a bad template is refused before the engine is asked (no engine needed)', async () => {
      const result = await runBin('docker-history', ['--format', '{{.ID', FIXED], { env: { ...env, DOCKER_HOST: 'unix:///nonexistent/docker.sock' } });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('unclosed action');
    });

    it('conflicts with --json and --quiet: exit 2', async () => {
      for (const other of ['--json', '-q', '--quiet']) {
        const result = await runBin('docker-history', ['--format', '{{.ID}}', other, FIXED], { env });
        expect(result.code).toBe(2);
        expect(result.stderr).toMatch(/^docker-history: --format and --(json|quiet) conflict: give at most one\n$/);
      }
    });
  });

  it('--no-human matches docker history --human=false exactly (RFC 3339 times, bytes)', async () => {
    const result = await runBin('docker-history', ['--no-human'], { env });
    expect(result.code).toBe(0);
    expect(cells(result.stdout)).toEqual(cells(docker('history', '--no-trunc', '--human=false', TAG)));
  });

  it('-q prints the full IDs only, as docker history -q --no-trunc', async () => {
    const result = await runBin('docker-history', ['-q'], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(docker('history', '-q', '--no-trunc', TAG));
  });

  it('--json times are the engine timestamps', async () => {
    const result = await runBin('docker-history', ['--json'], { env });
    const rows = JSON.parse(result.stdout) as HistoryJson[];
    const createdAt = lines(docker('history', '--no-trunc', '--format', '{{.CreatedAt}}', TAG));
    expect(rows.map((r) => Date.parse(r.created))).toEqual(createdAt.map((t) => Date.parse(t)));
    for (const r of rows) {
      expect(r.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
      expect(Array.isArray(r.tags)).toBe(true);
    }
  });

  it('IMAGE overrides the configured image', async () => {
    const result = await runBin('docker-history', ['--json', BUSYBOX_IMAGE], { env });
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as HistoryJson[];
    expect(rows.map((r) => r.id)).toEqual(lines(docker('history', '-q', '--no-trunc', BUSYBOX_IMAGE)));
    expect(rows.at(-1)?.comment).toBe('Imported from -');
  });

  it('an image that is not here: exit 1, one line naming it', async () => {
    const result = await runBin('docker-history', ['imagewright-test/no-such-image:nope'], { env });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^docker-history: image imagewright-test\/no-such-image:nope not found locally: .+\n$/);
  });

  it('usage errors exit 2: unknown flag, invalid reference, two images', async () => {
    const flag = await runBin('docker-history', ['--bogus'], { env });
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('unknown option --bogus');
    const invalid = await runBin('docker-history', ['Not::Valid'], { env });
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('is invalid');
    const two = await runBin('docker-history', [TAG, TAG], { env });
    expect(two.code).toBe(2);
  });
});
