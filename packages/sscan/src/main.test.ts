import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectOneLine, REPO_ROOT, runBin } from '@imagewright/testing';
import { describe, expect, it } from 'vitest';

const TOOLS = ['sscan-bandit', 'sscan-deps', 'sscan-yaml', 'sscan-lint'];
// sscan-deps is another package's command: sscan reports it FAILED when it is not built.
const depsBuilt = existsSync(join(REPO_ROOT, 'packages', 'sscan-deps', 'dist', 'main.js'));

/** A bandit finding (the first tool) and a broken YAML file (a later one). */
function failing(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sscan-'));
  writeFileSync(join(dir, 'tool'), '#!/usr/bin/env python\nimport subprocess\n\nsubprocess.call("ls " + __file__, shell=True)\n');
  writeFileSync(join(dir, 'bad.yaml'), 'a: [1\n');
  return dir;
}

describe('sscan', () => {
  it('runs every tool even when the first fails: a banner and a result line each, exit 1', async () => {
    const r = await runBin('sscan', ['.'], { cwd: failing() });
    expect(r.code).toBe(1);
    for (const tool of TOOLS) {
      expect(r.stdout).toContain(`==== ${tool} ====`);
      expect(r.stdout).toMatch(new RegExp(`^(OK    |FAILED)  ${tool}`, 'm'));
    }
    expect(r.stdout).toMatch(/^FAILED {2}sscan-bandit$/m);
    expect(r.stdout).toMatch(/^FAILED {2}sscan-yaml$/m);
    expect(r.stdout).toMatch(/^OK {6}sscan-lint$/m);
    // The tools' own output, under their banners.
    expect(r.stdout).toMatch(/==== sscan-bandit ====\ntool:4: \[B602 /);
    expect(r.stdout).toMatch(/^bad\.yaml:\d+:\d+: \[/m);
    expect(r.stdout).toMatch(depsBuilt ? /^OK {6}sscan-deps: no frozen specs/m : /^FAILED {2}sscan-deps: not built/m);
    expect(r.stdout).toMatch(/^sscan: \d ok, \d failed$/m);
  });

  it('--json: every tool with status, exit and findings', async () => {
    const dir = failing();
    const r = await runBin('sscan', ['--json', dir]);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.tools.map((t: { name: string }) => t.name)).toEqual(TOOLS);
    const byName = Object.fromEntries(report.tools.map((t: { name: string }) => [t.name, t]));
    expect(byName['sscan-bandit']).toMatchObject({ status: 'failed', exit: 1, findings: [expect.objectContaining({ file: join(dir, 'tool'), line: 4 })] });
    expect(byName['sscan-yaml']).toMatchObject({ status: 'failed', exit: 1, findings: [expect.objectContaining({ file: join(dir, 'bad.yaml') })] });
    expect(byName['sscan-lint']).toMatchObject({ status: 'ok', exit: 0, findings: [] });
    expect(report.failed).toBe(report.tools.filter((t: { status: string }) => t.status !== 'ok').length);
  });

  it('--skip leaves tools out; --markdown is a table', async () => {
    const dir = failing();
    const r = await runBin('sscan', ['--markdown', '--skip', 'bandit', '--skip', 'sscan-deps', '--skip', 'yaml', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('| sscan-lint | ✅ OK | 0 |');
    expect(r.stdout).toContain('| sscan-bandit | skipped |');
    expect(r.stdout).toContain('**1 ok, 0 failed, 3 skipped**');
    expectOneLine(await runBin('sscan', ['--skip', 'safety', dir]), 2, /--skip "safety": allowed bandit, deps, yaml, lint/);
    expectOneLine(await runBin('sscan', [join(dir, 'missing')]), 2, /missing: no such file or directory/);
  });

  it('passes on deployments/demo and deployments/common', async () => {
    const r = await runBin('sscan', ['deployments/demo', 'deployments/common']);
    expect(r.stdout).toMatch(/^sscan: 4 ok, 0 failed$/m);
    expect(r.code).toBe(0);
  });
});
