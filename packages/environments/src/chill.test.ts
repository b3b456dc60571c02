import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeploymentTree, type Deployment } from '@imagewright/core';
import { afterEach, describe, expect, it } from 'vitest';
import { ImagewrightError } from '@imagewright/core';
import { chillDeployment, chillInput, chillRequirements, chillText } from './chill';

const fixture = (name: string) => readFileSync(join(__dirname, '__fixtures__', name), 'utf8');

// The original image-chill, run for real: the goldens must keep matching it.
const PERL_SPEC = 's/^(  -.*)=(\\d+\\.\\d+\\.\\d+)/\\1~=\\2/; s/==(\\d+\\.\\d+\\.\\d+)/~=\\1/';
const PERL_PIP = 's/==(\\d+\\.\\d+\\.\\d+)/~=\\1/';
const perl = (program: string, input: string) => execFileSync('perl', ['-pe', program], { input, encoding: 'utf8' });

describe('chillText', () => {
  it.each(['tess', 'roman-cal'])('%s: matches the committed golden, and perl still produces that golden', (env) => {
    const frozen = fixture(`${env}-frozen.yml`);
    const golden = fixture(`${env}-chilly.yml`);
    expect(chillText(frozen)).toBe(golden);
    expect(perl(PERL_SPEC, frozen)).toBe(golden);
    expect(golden).toMatch(/\n  - python~=3\.\d+\.\d+\n/);
    expect(golden).toContain('    - typing-extensions~=3.10.0.0\n');
  });

  it('agrees with perl on awkward lines (greedy match, first pip match only, CRLF, 4 spaces, no final newline)', () => {
    const text = [
      'name: x',
      'dependencies:',
      '  - a=1.2.3=4.5.6',
      '  - b==1.2.3',
      '  - c=1.2',
      '  - d>=1.2.3',
      '  - e=1.2.3\r',
      '  - cr\r=1.2.3', // perl's . matches \r: the reason for the s flag
      '   - f=1.2.3',
      '  - pip:',
      '    - g==1.2.3==4.5.6',
      '    - h==1.2',
      '    - i==10.20.30.post1',
      '    - j @ git+https://x/j@v1.2.3',
      '# k=1.2.3 and l==1.2.3 in a comment',
      'prefix: /opt/m=1.2.3',
    ].join('\n');
    expect(chillText(text)).toBe(perl(PERL_SPEC, text));
  });

  it('drops apt versions instead (Debian has no ~=), and only inside the top-level apt section', () => {
    const text = [
      'name: system',
      'channels: []',
      'dependencies:',
      '  - python=3.11.2',
      '  - pip:',
      '    - numpy==1.24.2',
      'apt:',
      '  # the interpreter and its numpy',
      '  - python3-numpy=1:1.24.2-1+deb12u1',
      '  - libfoo=1.2.3  # why it is pinned',
      '  - libc6:amd64=2.36-9+deb12u4',
      '  - already-loose',
      '',
      'prefix: /usr',
      '',
    ].join('\n');
    expect(chillText(text)).toBe(
      [
        'name: system',
        'channels: []',
        'dependencies:',
        '  - python~=3.11.2',
        '  - pip:',
        '    - numpy~=1.24.2',
        'apt:',
        '  # the interpreter and its numpy',
        '  - python3-numpy',
        '  - libfoo  # why it is pinned',
        '  - libc6:amd64',
        '  - already-loose',
        '',
        'prefix: /usr',
        '',
      ].join('\n'),
    );
  });

  it('leaves everything after the apt section to the perl rules', () => {
    const text = 'name: x\napt:\n  - a=1.2.3\nextra:\n  - b=1.2.3\n';
    expect(chillText(text)).toBe('name: x\napt:\n  - a\nextra:\n  - b~=1.2.3\n');
  });
});

describe('chillRequirements', () => {
  it('matches the committed golden and perl on a real pip-compile output', () => {
    const frozen = fixture('tess-requirements.txt');
    const golden = fixture('tess-requirements-chilly.txt');
    expect(chillRequirements(frozen)).toBe(golden);
    expect(perl(PERL_PIP, frozen)).toBe(golden);
    expect(golden).toContain('\nabsl-py~=1.3.0\n');
    expect(golden).toContain('\naas-timeseries==0.1b4\n'); // not x.y.z: stays pinned
  });

  it('applies only the pip rule', () => {
    expect(chillRequirements('  - a=1.2.3\nb==1.2.3\n')).toBe('  - a=1.2.3\nb~=1.2.3\n');
  });
});

describe('chillInput: what image-chill FILE|- accepts', () => {
  it('frozen YAML and requirements keep their chill byte for byte, whatever the input is called', () => {
    for (const env of ['tess', 'roman-cal']) {
      expect(chillInput(fixture(`${env}-frozen.yml`), '-')).toBe(fixture(`${env}-chilly.yml`));
      expect(chillInput(fixture(`${env}-frozen.yml`), 'x.txt')).toBe(fixture(`${env}-chilly.yml`));
    }
    expect(chillInput(fixture('tess-requirements.txt'), '-')).toBe(fixture('tess-requirements-chilly.txt'));
    expect(chillInput(fixture('tess-requirements.txt'), 'requirements.in')).toBe(perl(PERL_PIP, fixture('tess-requirements.txt')));
  });

  it('takes what image-freeze writes (apt pins, empty lists) and what pip takes (options, URLs, extras, markers, hashes)', () => {
    const frozen = 'name: sys\nchannels: []\ndependencies:\n  - python=3.11.2\n  - pip:\n    - six==1.16.0\napt:\n  - python3-six=1.16.0-4\nprefix: /usr\n';
    expect(chillInput(frozen, '-')).toBe(chillText(frozen));
    const requirements = [
      '# comment',
      '--index-url https://pypi.org/simple',
      '-r other.txt',
      '-e git+https://github.com/x/y.git@v1.2.3#egg=y',
      'numpy==1.24.2 ; python_version >= "3.8"  # why',
      'requests[security,socks] >= 2.8.1, == 2.8.*',
      'six (==1.16.0)',
      'pkg @ https://example.com/pkg-1.2.3.tar.gz',
      './local/dir',
      'https://example.com/wheel-1.2.3-py3-none-any.whl',
      'hashed==1.2.3 \\',
      '    --hash=sha256:abcdef',
      'bare-name',
      '',
    ].join('\n');
    expect(chillInput(requirements, '-')).toBe(perl(PERL_PIP, requirements));
    expect(chillInput('', '-')).toBe(''); // pip takes an empty file too
  });

  const rejected = (text: string, input = '- (stdin)') => {
    try {
      chillInput(text, input);
    } catch (error) {
      expect(error).toBeInstanceOf(ImagewrightError);
      expect((error as ImagewrightError).exitCode).toBe(2);
      expect((error as Error).message).not.toContain('\n');
      expect((error as Error).message).toMatch(/: allowed a frozen conda-export YAML \(name, channels, dependencies, apt, prefix\) or a pip requirements file$/);
      return (error as Error).message;
    }
    throw new Error(`accepted: ${JSON.stringify(text)}`);
  };

  it.each([
    ['prose', 'Hello world, this is not a spec.\n', 'line 1 ("Hello world, this is not a spec."): not a pip requirement'],
    ['a JSON blob', '{"name": "x", "dependencies": ["a=1.2.3"]}\n', 'line 1 ("{\\"name\\": \\"x\\", \\"dependencies\\": [\\"a=1.2.3\\"]}"): a flow mapping'],
    ['a YAML that is not an environment', 'image: x\ntags:\n  - a\n', 'line 1 ("image: x"): unknown key "image"'],
    ['an environment with a bad item', 'name: x\ndependencies:\n  - a=1.2.3\n  - {b: 1}\n', 'line 4 ("- {b: 1}"): a dependencies item that is not a package or {pip: [...]}'],
    ['a flow list of packages', 'name: x\ndependencies: [a=1.2.3]\n', 'line 2 ("dependencies: [a=1.2.3]"): dependencies is a flow list'],
    ['an environment without a name', 'channels:\n  - conda-forge\ndependencies:\n  - a=1.2.3\n', 'line 1 ("channels:"): no name: key'],
    ['a YAML list', '- a=1.2.3\n- b=1.2.3\n', 'line 1 ("- a=1.2.3"): not a YAML mapping'],
    ['broken YAML', 'name: x\ndependencies:\n  - a\n bad: [\n', 'line 4'],
    ['requirements with a stray line', 'numpy==1.2.3\nsix==1.16.0\nthis is not one\n', 'line 3 ("this is not one"): not a pip requirement'],
    ['a conda pin in requirements', 'numpy==1.2.3\nscipy=1.2.3\n', 'line 2 ("scipy=1.2.3"): not a pip requirement'],
  ])('%s: exit 2 naming the input and the wrong line', (_, text, message) => {
    expect(rejected(text)).toContain(`- (stdin): ${message}`);
  });

  it('names a file as given', () => {
    expect(rejected('just words here\n', 'deployments/x/notes.md')).toMatch(/^deployments\/x\/notes\.md: line 1 /);
  });
});

describe('chillDeployment', () => {
  const roots: string[] = [];
  afterEach(() => roots.splice(0).forEach((r) => rmSync(r, { recursive: true, force: true })));

  function deployment(envs: string[], files: Record<string, string>): Deployment {
    const root = mkdtempSync(join(tmpdir(), 'imagewright-environments-'));
    roots.push(root);
    const image = join(root, 'deployments', 'dep', 'image');
    for (const env of envs) mkdirSync(join(image, 'environments', env), { recursive: true });
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(join(image, path, '..'), { recursive: true });
      writeFileSync(join(image, path), content);
    }
    return new DeploymentTree(root).deployment('dep');
  }

  it('flat layout: writes <env>-chilly.yml beside the frozen file, reports missing ones, then unchanged', () => {
    const d = deployment(['exoplanet', 'tess'], { 'environments/frozen/tess-frozen.yml': fixture('tess-frozen.yml'), 'environments/frozen/notes.txt': 'keep' });
    const dir = join(d.imageDir, 'environments', 'frozen');
    expect(chillDeployment(d)).toEqual([
      { environment: 'exoplanet', from: join(dir, 'exoplanet-frozen.yml'), to: join(dir, 'exoplanet-chilly.yml'), status: 'missing' },
      { environment: 'tess', from: join(dir, 'tess-frozen.yml'), to: join(dir, 'tess-chilly.yml'), status: 'written' },
    ]);
    expect(readFileSync(join(dir, 'tess-chilly.yml'), 'utf8')).toBe(fixture('tess-chilly.yml'));
    expect(readdirSync(dir).sort()).toEqual(['notes.txt', 'tess-chilly.yml', 'tess-frozen.yml']);

    const mtime = statSync(join(dir, 'tess-chilly.yml')).mtimeMs;
    expect(chillDeployment(d).map((r) => r.status)).toEqual(['missing', 'unchanged']);
    expect(statSync(join(dir, 'tess-chilly.yml')).mtimeMs).toBe(mtime);
  });

  it('replaces a stale chilly file', () => {
    const d = deployment(['tess'], { 'environments/frozen/tess-frozen.yml': 'name: tess\ndependencies:\n  - a=1.2.3\n', 'environments/frozen/tess-chilly.yml': 'old\n' });
    expect(chillDeployment(d)[0]!.status).toBe('written');
    expect(readFileSync(join(d.imageDir, 'environments/frozen/tess-chilly.yml'), 'utf8')).toBe('name: tess\ndependencies:\n  - a~=1.2.3\n');
  });

  it('env-frozen layout: creates env-chilly/<env>/ with requirements.yml and, when frozen, requirements.txt', () => {
    const d = deployment(['roman-cal', 'tess'], {
      'env-frozen/tess/requirements.yml': fixture('tess-frozen.yml'),
      'env-frozen/tess/requirements.txt': fixture('tess-requirements.txt'),
      'env-frozen/roman-cal/requirements.yml': fixture('roman-cal-frozen.yml'),
    });
    const chilly = join(d.imageDir, 'env-chilly');
    expect(chillDeployment(d).map((r) => [r.environment, r.to, r.status])).toEqual([
      ['roman-cal', join(chilly, 'roman-cal/requirements.yml'), 'written'],
      ['tess', join(chilly, 'tess/requirements.yml'), 'written'],
      ['tess', join(chilly, 'tess/requirements.txt'), 'written'],
    ]);
    expect(readFileSync(join(chilly, 'tess/requirements.txt'), 'utf8')).toBe(fixture('tess-requirements-chilly.txt'));
    expect(readFileSync(join(chilly, 'roman-cal/requirements.yml'), 'utf8')).toBe(fixture('roman-cal-chilly.yml'));
    expect(existsSync(join(chilly, 'roman-cal/requirements.txt'))).toBe(false);
    expect(readdirSync(join(chilly, 'tess')).sort()).toEqual(['requirements.txt', 'requirements.yml']);
  });
});
