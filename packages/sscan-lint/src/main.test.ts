import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectOneLine, runBin } from '@imagewright/testing';
import { describe, expect, it } from 'vitest';

function files(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sscan-lint-'));
  writeFileSync(join(dir, 'tool'), '#!/usr/bin/env python\nimport os\n');
  writeFileSync(join(dir, 'ok.py'), `def f():\n    return ${'1 + '.repeat(25)}1\n`);
  writeFileSync(join(dir, 'greet'), '#!/bin/sh\necho $1\n');
  writeFileSync(join(dir, 'clean.sh'), '#!/bin/sh\necho "$1"\n');
  return dir;
}

describe('sscan-lint', () => {
  it('reports a flake8 and a shellcheck finding with file:line, exits 1', async () => {
    const r = await runBin('sscan-lint', ['.'], { cwd: files() });
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toEqual([
      "tool:2:1: [F401] 'os' imported but unused",
      expect.stringMatching(/^greet:2:6: \[SC2086\] INFO Double quote/),
    ]);
    expect(r.stderr).toContain('2 findings in 4 Python and shell files scanned');
  });

  it('--json', async () => {
    const dir = files();
    const r = await runBin('sscan-lint', ['--json', dir]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({
      scanned: 4,
      findings: [
        { tool: 'flake8', file: join(dir, 'tool'), line: 2, col: 1, test: 'F401', text: "'os' imported but unused" },
        { tool: 'shellcheck', file: join(dir, 'greet'), line: 2, col: 6, test: 'SC2086', severity: 'info', text: expect.stringContaining('Double quote') },
      ],
    });
  });

  it("keeps the original's settings (120 columns, E302 ignored) and exits 0 when clean", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sscan-lint-'));
    writeFileSync(join(dir, 'wide.py'), `import os\ndef f():\n    return os.sep + "${'x'.repeat(95)}"\n`);
    const r = await runBin('sscan-lint', [dir]);
    expect([r.code, r.stdout]).toEqual([0, '']);
    expectOneLine(await runBin('sscan-lint', ['--nope']), 2, /unknown option --nope/);
  });
});
