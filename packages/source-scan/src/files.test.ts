import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classify, frozenSpecs, isPythonShebang, isShellShebang, sourceFiles, walkFiles } from './files';
import { formatFinding } from './findings';
import { checkYaml, flake8Findings } from './tools';

describe('shebangs', () => {
  it.each([
    '#!/usr/bin/env python',
    '#! /usr/bin/env python3',
    '#!  /usr/bin/python3.11',
    '#! /usr/bin/python3.11',
    '#!/usr/bin/env -S python3 -u',
    '#!/opt/conda/bin/python',
    '#!/usr/bin/env python2.7 -O',
  ])('%s is Python', (line) => expect(isPythonShebang(line)).toBe(true));

  it.each(['#!/bin/sh', '#!/usr/bin/env pythonic', '#!/usr/bin/pythonic', '# python', 'import python', '#!/usr/bin/env bash python', ''])(
    '%j is not Python',
    (line) => expect(isPythonShebang(line)).toBe(false),
  );

  it('tells shell scripts by sh or bash', () => {
    expect(isShellShebang('#!/bin/sh')).toBe(true);
    expect(isShellShebang('#!/usr/bin/env bash')).toBe(true);
    expect(isShellShebang('#! /bin/bash -eu')).toBe(true);
    expect(isShellShebang('#!/bin/shell')).toBe(false);
    expect(isShellShebang('#!/usr/bin/env python3')).toBe(false);
  });
});

describe('discovery', () => {
  const dir = mkdtempSync(join(tmpdir(), 'source-scan-'));
  const write = (path: string, content: string | Buffer) => {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  };
  write('tool', '#!/usr/bin/env python\nprint(1)\n');
  write('bin/run', '#! /usr/bin/python3.11\n');
  write('lib/mod.py', 'x = 1\n');
  write('notes', '#!/usr/bin/env pythonic\n');
  write('start.sh', 'echo hi\n');
  write('setup', '#!/bin/bash\n');
  write('conf.yaml', 'a: 1\n');
  write('binary.py', Buffer.from([0x23, 0x21, 0x00, 0x01]));
  for (const skipped of ['.git', 'node_modules', 'dist', '__pycache__']) write(`${skipped}/x.py`, 'x = 1\n');
  write('deployments/d/image/environments/frozen/sci-frozen.yml', 'dependencies: []\n');
  write('deployments/d/image/env-frozen/sci/requirements.txt', 'numpy==1.0\n');

  it('finds Python by extension and by shebang, skipping binaries and build/VCS folders', () => {
    expect(sourceFiles([dir], 'python').map((p) => p.slice(dir.length + 1)).sort()).toEqual(['bin/run', 'lib/mod.py', 'tool']);
  });

  it('classifies shell and YAML', () => {
    expect(sourceFiles([dir], 'shell').map((p) => p.slice(dir.length + 1)).sort()).toEqual(['setup', 'start.sh']);
    expect(classify(join(dir, 'conf.yaml'))).toBe('yaml');
    expect(classify(join(dir, 'notes'))).toBeUndefined();
  });

  it('takes files as given and refuses a missing target', () => {
    expect(walkFiles([join(dir, 'tool')])).toEqual([join(dir, 'tool')]);
    expect(() => walkFiles([join(dir, 'missing')])).toThrow(/missing: no such file or directory/);
  });

  it('finds frozen specs in both layouts', () => {
    expect(frozenSpecs([dir]).map((p) => p.slice(dir.length + 1)).sort()).toEqual([
      'deployments/d/image/env-frozen/sci/requirements.txt',
      'deployments/d/image/environments/frozen/sci-frozen.yml',
    ]);
  });
});

describe('parsers', () => {
  it("reads flake8's default lines", () => {
    const out = 'a/b.py:3:1: F401 \'os\' imported but unused\nweird line\ntool:10:121: E501 line too long (130 > 120 characters)\n';
    expect(flake8Findings(out)).toEqual([
      { tool: 'flake8', file: 'a/b.py', line: 3, col: 1, test: 'F401', text: "'os' imported but unused" },
      { tool: 'flake8', file: 'tool', line: 10, col: 121, test: 'E501', text: 'line too long (130 > 120 characters)' },
    ]);
  });

  it('formats a bandit finding as the editors want it', () => {
    expect(
      formatFinding({ tool: 'bandit', file: 'x.py', line: 4, test: 'B602 subprocess_popen_with_shell_equals_true', severity: 'HIGH', confidence: 'HIGH', text: 'shell' }),
    ).toBe('x.py:4: [B602 subprocess_popen_with_shell_equals_true] HIGH/HIGH shell');
  });

  it('checks YAML documents with their positions, skipping templates', () => {
    const dir = mkdtempSync(join(tmpdir(), 'source-scan-yaml-'));
    writeFileSync(join(dir, 'dup.yml'), 'a: 1\nb: 2\na: 3\n');
    writeFileSync(join(dir, 'second.yaml'), 'ok: 1\n---\nx: [1\n');
    writeFileSync(join(dir, 'chart.yaml'), 'name: {{ .Values.name }}\n');
    writeFileSync(join(dir, 'empty.yaml'), '');
    const files = ['dup.yml', 'second.yaml', 'chart.yaml', 'empty.yaml'].map((f) => join(dir, f));
    const { findings, skipped } = checkYaml(files, { show: (p) => p.slice(dir.length + 1) });
    expect(skipped).toEqual(['chart.yaml']);
    expect(findings.map((f) => [f.file, f.line, f.test])).toEqual([
      ['dup.yml', 3, 'DUPLICATE_KEY'],
      ['second.yaml', 4, findings[1]?.test],
    ]);
    expect(findings[1].test).toMatch(/^[A-Z_]+$/);
  });
});
