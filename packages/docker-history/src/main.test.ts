import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { humanSize } from '@imagewright/core';
import { followProgress, type Engine, type HistoryJson } from '@imagewright/docker';
import { BUSYBOX_IMAGE, busyboxImage, ensureEngine, envFor, runBin, tempDeploymentRoot } from '@imagewright/testing';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The real `docker` CLI is the oracle: same engine, same image, its own formatting.
const docker = (...args: string[]) => execFileSync('docker', args, { encoding: 'utf8' });
const lines = (text: string) => text.split('\n').filter((l) => l !== '');

/** Cells of a docker-style table, cut at the header's column starts. */
function cells(table: string): string[][] {
  const [header, ...rows] = lines(table);
  const names = ['IMAGE', header.includes('CREATED AT') ? 'CREATED AT' : 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'];
  const starts = names.map((n) => header.indexOf(n));
  expect(starts.every((s, i) => s >= 0 && (i === 0 || s > starts[i - 1]))).toBe(true);
  return [header, ...rows].map((line) => starts.map((s, i) => line.slice(s, starts[i + 1]).trim()));
}

const TAG = `imagewright-test/history:t${process.pid}`;
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
  root = tempDeploymentRoot();
  env = envFor(root, 'testdep', TAG);
});

afterAll(async () => {
  await engine?.getImage(TAG).remove({ force: true }).catch(() => undefined);
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
