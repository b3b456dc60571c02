import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { envFor, REPO_ROOT, runBin, tempDeploymentRoot } from '@imagewright/testing';
import { describe, expect, it } from 'vitest';

const FIXTURE = join(REPO_ROOT, 'packages', 'environments', 'src', '__fixtures__', 'tess-frozen.yml');
const REQUIREMENTS = join(REPO_ROOT, 'packages', 'environments', 'src', '__fixtures__', 'tess-requirements.txt');
// The original image-chill's perl, run for real: the oracle for the pip and conda rewrites.
const perlChill = (text: string) =>
  execFileSync('perl', ['-pe', 's/^(  -.*)=(\\d+\\.\\d+\\.\\d+)/\\1~=\\2/; s/==(\\d+\\.\\d+\\.\\d+)/~=\\1/'], { input: text, encoding: 'utf8' });

describe('image-chill', () => {
  it('FILE: the chilled text on stdout, as the original perl rewrites it', async () => {
    const result = await runBin('image-chill', [FIXTURE]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(perlChill(readFileSync(FIXTURE, 'utf8')));
    expect(result.stdout).toContain('  - python~=3.7.10\n');
    expect(result.stdout).toContain('    - absl-py~=0.13.0\n');
  });

  it('- reads stdin; an unreadable FILE is exit 2 naming it', async () => {
    const piped = await runBin('image-chill', ['-'], { input: 'name: x\ndependencies:\n  - pip:\n    - a==1.2.3\n' });
    expect(piped.stdout).toBe('name: x\ndependencies:\n  - pip:\n    - a~=1.2.3\n');
    const requirements = await runBin('image-chill', ['-'], { input: readFileSync(REQUIREMENTS, 'utf8') });
    expect(requirements.code).toBe(0);
    expect(requirements.stdout).toBe(readFileSync(REQUIREMENTS.replace('.txt', '-chilly.txt'), 'utf8'));
    const missing = await runBin('image-chill', ['/nonexistent/x-frozen.yml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toMatch(/^image-chill: \/nonexistent\/x-frozen\.yml: cannot read it \(ENOENT\)/);
  });

  it('text that is neither a frozen YAML nor requirements: exit 2, one line naming the input and the line, nothing echoed', async () => {
    const prose = await runBin('image-chill', ['-'], { input: 'name: x\ndependencies:\n  - a=1.2.3\nThis line is prose, not YAML.\n' });
    expect(prose.code).toBe(2);
    expect(prose.stdout).toBe('');
    expect(prose.stderr).toMatch(/^image-chill: - \(stdin\): line 4 \("This line is prose, not YAML\."\): not valid YAML \(.+\): allowed a frozen conda-export YAML .* or a pip requirements file\n$/);
    const root = tempDeploymentRoot('d', { 'notes.json': '{"image": "x", "tags": ["a"]}\n' });
    const json = await runBin('image-chill', [join(root, 'notes.json')]);
    expect(json.code).toBe(2);
    expect(json.stdout).toBe('');
    expect(json.stderr).toBe(
      `image-chill: ${join(root, 'notes.json')}: line 1 ("{\\"image\\": \\"x\\", \\"tags\\": [\\"a\\"]}"): a flow mapping ({…}), not the block YAML conda writes: allowed a frozen conda-export YAML (name, channels, dependencies, apt, prefix) or a pip requirements file\n`,
    );
  });

  it("the deployment: chilly files beside the frozen ones; an environment without one is exit 1", async () => {
    const image = 'deployments/d/image/environments';
    const root = tempDeploymentRoot('d', {
      [`${image}/a/kernel.name`]: 'A\n',
      [`${image}/b/kernel.name`]: 'B\n',
      [`${image}/frozen/a-frozen.yml`]: 'name: a\nchannels: []\ndependencies:\n  - python=3.11.2\n  - pip:\n    - six==1.16.0\napt:\n  - python3-six=1.16.0-4\n',
      [`${image}/frozen/notes.txt`]: 'left alone\n',
    });
    const env = envFor(root, 'd', 'x/d:latest');
    const first = await runBin('image-chill', [], { env });
    expect(first.code).toBe(1);
    // Status lines on stderr, in the shape every command uses.
    expect(first.stdout).toBe('');
    expect(first.stderr).toBe(`written   ${image}/frozen/a-chilly.yml\nmissing   ${image}/frozen/b-frozen.yml: run image-freeze first\n`);
    expect(readFileSync(join(root, image, 'frozen/a-chilly.yml'), 'utf8')).toBe(
      'name: a\nchannels: []\ndependencies:\n  - python~=3.11.2\n  - pip:\n    - six~=1.16.0\napt:\n  - python3-six\n',
    );
    mkdirSync(join(root, image, 'b'), { recursive: true });
    writeFileSync(join(root, image, 'frozen/b-frozen.yml'), 'name: b\nchannels: []\ndependencies:\n  - python=3.11.2\n');
    const second = await runBin('image-chill', ['--json'], { env });
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toEqual([
      { environment: 'a', from: `${image}/frozen/a-frozen.yml`, to: `${image}/frozen/a-chilly.yml`, status: 'unchanged' },
      { environment: 'b', from: `${image}/frozen/b-frozen.yml`, to: `${image}/frozen/b-chilly.yml`, status: 'written' },
    ]);
    expect(readFileSync(join(root, image, 'frozen/notes.txt'), 'utf8')).toBe('left alone\n');
  });
});
