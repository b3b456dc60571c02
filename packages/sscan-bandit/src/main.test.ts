import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectOneLine, runBin } from '@imagewright/testing';
import { describe, expect, it } from 'vitest';

// Real bandit (Debian's, installed by tools/bootstrap) on files written here.
function sources(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sscan-bandit-'));
  // No extension: found by its `#!` line with no space after `#!`, which the original missed.
  writeFileSync(join(dir, 'tool'), '#!/usr/bin/env python\nimport subprocess\n\ncmd = "ls " + __file__\nsubprocess.call(cmd, shell=True)\n');
  writeFileSync(join(dir, 'shell.py'), 'import subprocess\n\n\ndef run(cmd):\n    return subprocess.Popen(cmd, shell=True)\n');
  writeFileSync(join(dir, 'clean.py'), 'def add(a, b):\n    return a + b\n');
  return dir;
}

describe('sscan-bandit', () => {
  it('reports both findings with file:line, the shebang-only file included, and exits 1', async () => {
    const dir = sources();
    const r = await runBin('sscan-bandit', ['.'], { cwd: dir });
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^shell\.py:5: \[B602 subprocess_popen_with_shell_equals_true\] HIGH\/HIGH /),
      expect.stringMatching(/^tool:5: \[B602 subprocess_popen_with_shell_equals_true\] HIGH\/HIGH /),
    ]);
    expect(r.stdout).not.toContain('clean.py');
    expect(r.stderr).toContain('2 findings in 3 Python files scanned');
  });

  it('--json gives the findings', async () => {
    const dir = sources();
    const r = await runBin('sscan-bandit', ['--json', dir]);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.scanned).toBe(3);
    expect(report.findings).toEqual([
      { tool: 'bandit', file: join(dir, 'shell.py'), line: 5, test: 'B602 subprocess_popen_with_shell_equals_true', severity: 'HIGH', confidence: 'HIGH', text: expect.stringContaining('shell=True') },
      { tool: 'bandit', file: join(dir, 'tool'), line: 5, test: 'B602 subprocess_popen_with_shell_equals_true', severity: 'HIGH', confidence: 'HIGH', text: expect.stringContaining('shell=True') },
    ]);
  });

  it('exits 0 on clean files; --severity and --confidence are passed on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sscan-bandit-'));
    writeFileSync(join(dir, 'clean.py'), 'def add(a, b):\n    return a + b\n');
    // B404 (import subprocess) is LOW severity: reported only with --severity low.
    writeFileSync(join(dir, 'imports.py'), 'import subprocess  # noqa\n\nsubprocess.run(["ls"])\n');
    const clean = await runBin('sscan-bandit', [dir]);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toBe('');
    const low = await runBin('sscan-bandit', ['--severity', 'low', '--confidence', 'low', dir]);
    expect(low.code).toBe(1);
    expect(low.stdout).toMatch(/imports\.py:1: \[B404 /);
  });

  it('refuses bad input with one line and exit 2', async () => {
    expectOneLine(await runBin('sscan-bandit', ['/nonexistent/dir']), 2, /nonexistent\/dir: no such file or directory/);
    expectOneLine(await runBin('sscan-bandit', ['--severity', 'severe', '.']), 2, /--severity "severe": allowed low, medium, high/);
    expectOneLine(await runBin('sscan-bandit', ['--confidence', 'x', '.']), 2, /--confidence "x": allowed/);
  });

  it('a file bandit cannot parse is a finding', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sscan-bandit-'));
    writeFileSync(join(dir, 'broken.py'), 'def (:\n');
    const r = await runBin('sscan-bandit', ['--json', dir]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).findings).toEqual([expect.objectContaining({ file: join(dir, 'broken.py'), test: 'error' })]);
  });

  it('has --help and --version', async () => {
    expect((await runBin('sscan-bandit', ['--help'])).stdout).toContain('Usage: sscan-bandit [OPTIONS] [DIR...]');
    expect((await runBin('sscan-bandit', ['--version'])).stdout).toMatch(/^sscan-bandit \(imagewright\) /);
  });
});
