import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectOneLine, runBin } from '@imagewright/testing';
import { describe, expect, it } from 'vitest';

function files(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sscan-yaml-'));
  writeFileSync(join(dir, 'good.yml'), 'name: demo\nlist: [1, 2]\n');
  writeFileSync(join(dir, 'broken.yaml'), 'name: demo\nlist: [1, 2\nother: 3\n');
  writeFileSync(join(dir, 'dup.yml'), 'name: a\nversion: 1\nname: b\n');
  writeFileSync(join(dir, 'chart.yaml'), 'image: {{ .Values.image }}\n');
  return dir;
}

describe('sscan-yaml', () => {
  it('reports the broken file and the duplicate key with file:line:col, skips the template, exits 1', async () => {
    const r = await runBin('sscan-yaml', ['.'], { cwd: files() });
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith('broken.yaml:')).length).toBeGreaterThan(0);
    expect(lines).toContainEqual(expect.stringMatching(/^dup\.yml:3:1: \[DUPLICATE_KEY\] Map keys must be unique$/));
    expect(r.stdout).not.toContain('good.yml');
    expect(r.stderr).toMatch(/^skipped {3}chart\.yaml: a template/m);
  });

  it('--json carries findings, skipped and scanned', async () => {
    const dir = files();
    const r = await runBin('sscan-yaml', ['--json', dir]);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.skipped).toEqual([join(dir, 'chart.yaml')]);
    expect(report.scanned).toBe(3);
    expect(report.findings).toContainEqual({ tool: 'yaml', file: join(dir, 'dup.yml'), line: 3, col: 1, test: 'DUPLICATE_KEY', text: 'Map keys must be unique' });
    expect(report.findings.filter((f: { file: string }) => f.file === join(dir, 'broken.yaml'))[0]).toMatchObject({ line: expect.any(Number), col: expect.any(Number) });
  });

  it('exits 0 when everything parses, and 2 on a missing DIR', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sscan-yaml-'));
    writeFileSync(join(dir, 'a.yaml'), 'a: 1\n---\nb: 2\n');
    const r = await runBin('sscan-yaml', [dir]);
    expect([r.code, r.stdout]).toEqual([0, '']);
    expectOneLine(await runBin('sscan-yaml', [join(dir, 'missing')]), 2, /missing: no such file or directory/);
  });
});
