import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImagewrightError } from '@imagewright/core';
import { describe, expect, it } from 'vitest';
import { parseExport, pins, renderExport, type EnvironmentExport } from './conda-yaml';

const fixture = (name: string) => readFileSync(join(__dirname, '__fixtures__', name), 'utf8');

const parseError = (text: string): ImagewrightError => {
  try {
    parseExport(text, 'x/tess-frozen.yml');
  } catch (error) {
    return error as ImagewrightError;
  }
  throw new Error('did not throw');
};

describe('renderExport / parseExport', () => {
  it.each(['tess-frozen.yml', 'roman-cal-frozen.yml'])('round-trips %s byte for byte', (name) => {
    const text = fixture(name);
    expect(renderExport(parseExport(text, name))).toBe(text);
  });

  it('parses the conda export shape', () => {
    const e = parseExport(fixture('tess-frozen.yml'), 'tess-frozen.yml');
    expect(e.name).toBe('tess');
    expect(e.channels).toEqual(['conda-forge']);
    expect(e.dependencies[0]).toBe('_libgcc_mutex=0.1');
    const pip = e.dependencies.find((d) => typeof d !== 'string') as { pip: string[] };
    expect(pip.pip[0]).toBe('absl-py==0.13.0');
    expect(pip.pip).toHaveLength(268);
    expect(e.prefix).toBe('/opt/conda/envs/tess');
    expect(e.apt).toBeUndefined();
    expect(e.kind).toBeUndefined();
  });

  it('writes apt after dependencies and before prefix, channels: [] when empty, never kind', () => {
    const e: EnvironmentExport = {
      name: 'system',
      kind: 'system',
      channels: [],
      dependencies: ['python=3.11.2', { pip: ['numpy==1.24.2'] }],
      apt: ['python3-numpy=1:1.24.2-1+deb12u1', 'libc6=2.36-9+deb12u4'],
      prefix: '/usr',
    };
    const text = renderExport(e);
    expect(text).toBe(
      'name: system\nchannels: []\ndependencies:\n  - python=3.11.2\n  - pip:\n    - numpy==1.24.2\n' +
        'apt:\n  - python3-numpy=1:1.24.2-1+deb12u1\n  - libc6=2.36-9+deb12u4\nprefix: /usr\n',
    );
    const { kind, ...written } = e;
    expect(parseExport(text, 'f')).toEqual(written);
  });

  it('writes empty lists in flow style and leaves out what is absent', () => {
    expect(renderExport({ name: 'e', channels: [], dependencies: [], apt: [] })).toBe('name: e\nchannels: []\ndependencies: []\napt: []\n');
    expect(renderExport({ name: 'e', channels: ['c'], dependencies: [{ pip: [] }] })).toBe('name: e\nchannels:\n  - c\ndependencies:\n  - pip: []\n');
  });

  it('quotes scalars only when YAML needs it, and they read back the same', () => {
    const e: EnvironmentExport = {
      name: '2021',
      channels: ['true'],
      dependencies: ['- odd', '#hash', { pip: ['-e git+https://example.org/x.git#egg=x', 'astrocut @ git+https://github.com/spacetelescope/astrocut@s3-support', 'a: b'] }],
      prefix: 'two\nlines',
    };
    const text = renderExport(e);
    expect(text).toBe(
      "name: '2021'\nchannels:\n  - 'true'\ndependencies:\n  - '- odd'\n  - '#hash'\n  - pip:\n" +
        '    - -e git+https://example.org/x.git#egg=x\n    - astrocut @ git+https://github.com/spacetelescope/astrocut@s3-support\n' +
        "    - 'a: b'\nprefix: \"two\\nlines\"\n",
    );
    expect(parseExport(text, 'f')).toEqual(e);
  });

  it.each([
    ['name: [unclosed\n', 'not valid YAML'],
    ['- a\n', 'not a mapping'],
    ['name: e\nvariables:\n  A: 1\n', 'unknown key variables'],
    ['channels: []\n', 'name is not a non-empty string'],
    ['name: e\ndependencies: numpy\n', 'dependencies is not a list'],
    ['name: e\ndependencies:\n  - 1.5\n', 'dependencies[0] is neither a string nor {pip: [...]}'],
    ['name: e\ndependencies:\n  - pip: numpy\n', 'dependencies[0].pip is not a list'],
    ['name: e\ndependencies:\n  - conda: [x]\n', 'dependencies[0] is neither'],
    ['name: e\napt:\n  - {a: 1}\n', 'apt[0] is not a non-empty string'],
    ['name: e\nprefix: 3\n', 'prefix is not a string'],
  ])('rejects %j as a failure naming the file and the expected shape', (text, what) => {
    const error = parseError(text);
    expect(error).toBeInstanceOf(ImagewrightError);
    expect(error.exitCode).toBe(1);
    expect(error.message).toMatch(/^x\/tess-frozen\.yml: /);
    expect(error.message).toContain(what);
    expect(error.message).toContain('expected a conda env export');
    expect(error.message).not.toContain('\n');
  });
});

describe('pins', () => {
  it('keys every package by section and lowercased name', () => {
    const p = pins({
      name: 'e',
      channels: [],
      dependencies: [
        'numpy=1.24.2',
        'conda-forge::scipy=1.10.1=py311_0',
        'unpinned',
        { pip: ['PyYAML==6.0', 'aiobotocore[boto3]==2.4.0', 'astrocut @ git+https://github.com/spacetelescope/astrocut@s3-support', '-e git+https://x/y.git#egg=y', 'loose~=1.2.3'] },
      ],
      apt: ['python3-numpy=1:1.24.2-1+deb12u1', 'libc6:amd64=2.36-9'],
    });
    expect(Object.fromEntries(p)).toEqual({
      'conda:numpy': { section: 'conda', name: 'numpy', version: '1.24.2' },
      'conda:scipy': { section: 'conda', name: 'scipy', version: '1.10.1=py311_0' },
      'conda:unpinned': { section: 'conda', name: 'unpinned', version: '' },
      'pip:pyyaml': { section: 'pip', name: 'PyYAML', version: '6.0' },
      'pip:aiobotocore[boto3]': { section: 'pip', name: 'aiobotocore[boto3]', version: '2.4.0' },
      'pip:astrocut': { section: 'pip', name: 'astrocut', version: 'git+https://github.com/spacetelescope/astrocut@s3-support' },
      'pip:-e git+https://x/y.git#egg=y': { section: 'pip', name: '-e git+https://x/y.git#egg=y', version: '' },
      'pip:loose': { section: 'pip', name: 'loose', version: '~=1.2.3' },
      'apt:python3-numpy': { section: 'apt', name: 'python3-numpy', version: '1:1.24.2-1+deb12u1' },
      'apt:libc6:amd64': { section: 'apt', name: 'libc6:amd64', version: '2.36-9' },
    });
  });

  it('finds every package of a real export', () => {
    const p = pins(parseExport(fixture('tess-frozen.yml'), 'tess-frozen.yml'));
    expect(p.size).toBe(305);
    expect(p.get('conda:python')).toEqual({ section: 'conda', name: 'python', version: '3.7.10' });
    expect(p.get('pip:absl-py')).toEqual({ section: 'pip', name: 'absl-py', version: '0.13.0' });
  });
});
