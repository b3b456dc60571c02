import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { frozenSpecsIn } from '@imagewright/environments';
import { readCondaSpec, readRequirements } from './deps';

describe('readRequirements', () => {
  it('pins name==version (extras, markers, ===, hashes on continued lines); lists unpinned and option lines', () => {
    const pins = readRequirements(
      [
        '# comment',
        'aiobotocore[boto3]==2.4.0',
        '    # via s3fs',
        "typing-extensions==4.4.0 ; python_version < '3.10'",
        'Foo.Bar===1.0+local',
        'urllib3==1.26.17 \\',
        '    --hash=sha256:abc \\',
        '    --hash=sha256:def',
        'numpy>=1.20',
        'numpy==1.*',
        'astrocut @ git+https://github.com/spacetelescope/astrocut@s3-support',
        '-r base.txt',
        '--index-url https://example.org/simple',
        '',
      ].join('\n'),
      'r.txt',
    );
    expect(pins.packages).toEqual([
      { section: 'pip', name: 'aiobotocore', version: '2.4.0' },
      { section: 'pip', name: 'typing-extensions', version: '4.4.0' },
      { section: 'pip', name: 'Foo.Bar', version: '1.0+local' },
      { section: 'pip', name: 'urllib3', version: '1.26.17' },
    ]);
    expect(pins.unpinned).toEqual(['numpy>=1.20', 'numpy==1.*', 'astrocut @ git+https://github.com/spacetelescope/astrocut@s3-support']);
    expect(pins.skipped).toEqual(['-r base.txt', '--index-url https://example.org/simple']);
  });
});

describe('readCondaSpec', () => {
  it('conda name=version[=build] and channel::name, the pip: section, apt pins; unpinned conda specs listed', () => {
    const pins = readCondaSpec(
      ['name: x', 'channels: [conda-forge]', 'dependencies:', '  - python=3.11.2', '  - numpy=1.18.5=py38h3ee3e9d_0', '  - conda-forge::openssl==3.0.8', '  - scipy>=1.10', '  - pip:', '    - requests==2.25.1', 'apt:', '  - python3-yaml=6.0-3+b2', ''].join('\n'),
      'x.yml',
    );
    expect(pins.packages).toEqual([
      { section: 'conda', name: 'python', version: '3.11.2' },
      { section: 'conda', name: 'numpy', version: '1.18.5' },
      { section: 'conda', name: 'openssl', version: '3.0.8' },
      { section: 'pip', name: 'requests', version: '2.25.1' },
      { section: 'apt', name: 'python3-yaml', version: '6.0-3+b2' },
    ]);
    expect(pins.unpinned).toEqual(['scipy>=1.10']);
  });
});

describe('frozenSpecsIn', () => {
  const root = mkdtempSync(join(tmpdir(), 'iw-frozen-specs-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("the flat layout's *-frozen.yml (not chilly specs nor safety.ignore) and env-frozen/<env>/requirements.{yml,txt}", () => {
    const frozen = join(root, 'environments', 'frozen');
    mkdirSync(frozen, { recursive: true });
    for (const f of ['tess-frozen.yml', 'base-frozen.yml', 'tess-chilly.yml', 'safety.ignore']) writeFileSync(join(frozen, f), '');
    mkdirSync(join(root, 'env-frozen', 'tess'), { recursive: true });
    mkdirSync(join(root, 'env-frozen', 'roman'), { recursive: true });
    writeFileSync(join(root, 'env-frozen', 'tess', 'requirements.txt'), '');
    writeFileSync(join(root, 'env-frozen', 'tess', 'requirements.yml'), '');
    writeFileSync(join(root, 'env-frozen', 'roman', 'requirements.txt'), '');
    expect(frozenSpecsIn(root).map((f) => f.slice(root.length + 1))).toEqual([
      'environments/frozen/base-frozen.yml',
      'environments/frozen/tess-frozen.yml',
      'env-frozen/roman/requirements.txt',
      'env-frozen/tess/requirements.yml',
      'env-frozen/tess/requirements.txt',
    ]);
    expect(frozenSpecsIn(join(root, 'missing'))).toEqual([]);
  });
});
