import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findRoot } from './config';
import { loadConfig, readEnvFile } from './load';
import { thrown } from './test-support';

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** A checkout with deployments/common/image, deployments/a/image and deployments/b/image. */
function checkout(): string {
  // realpath: bash's $(pwd) reports the physical folder.
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'imagewright-load-')));
  temps.push(root);
  for (const dir of ['common/image', 'a/image', 'b/image']) mkdirSync(join(root, 'deployments', dir), { recursive: true });
  return root;
}

/** A minimal environment: nothing from the developer's shell leaks into the config. */
const cleanEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME, ...extra });


describe('readEnvFile', () => {
  it('reads exports, quotes, $(pwd) as the file folder and ${VAR} expansion', () => {
    const root = checkout();
    const file = join(root, 'setup-env');
    writeFileSync(
      file,
      [
        '# a setup-env like the template',
        'export DEPLOYMENT_NAME=a',
        'export IMAGEWRIGHT_ROOT=$(pwd)',
        'export IMAGE_REPO="${DEPLOYMENT_NAME}-notebooks"',
        `export IMAGE_RUN_PARS='--rm -e X="a b"'`,
        'IMAGE_TAG=unexported-but-set-a', // set -a: plain assignments count as sourced
        'NOT_A_CONFIG_NAME=1',
        'if [ -n "$IMAGEWRIGHT_READING_SETUP_ENV" ]; then export IMAGE_UBUNTU_NAME=skipped-eval; fi',
        'echo this goes nowhere',
        '',
      ].join('\n'),
    );
    const vars = readEnvFile(file, cleanEnv());
    expect(vars.DEPLOYMENT_NAME).toBe('a');
    expect(vars.IMAGEWRIGHT_ROOT).toBe(root);
    expect(vars.IMAGE_REPO).toBe('a-notebooks');
    expect(vars.IMAGE_RUN_PARS).toBe('--rm -e X="a b"');
    expect(vars.IMAGE_TAG).toBe('unexported-but-set-a');
    expect(vars.IMAGE_UBUNTU_NAME).toBe('skipped-eval');
    expect(vars).not.toHaveProperty('NOT_A_CONFIG_NAME');
    expect(vars).not.toHaveProperty('PATH');
  });

  it('runs in the file folder even when called from elsewhere (relative path)', () => {
    const root = checkout();
    mkdirSync(join(root, 'sub'));
    writeFileSync(join(root, 'sub', 'env'), 'export IMAGEWRIGHT_ROOT=$(pwd)\n');
    const relativePath = relative(process.cwd(), join(root, 'sub', 'env'));
    expect(relativePath.startsWith('/')).toBe(false);
    expect(readEnvFile(relativePath, cleanEnv()).IMAGEWRIGHT_ROOT).toBe(join(root, 'sub'));
  });

  it('refuses a missing file with exit 2 naming it', () => {
    const missing = join(checkout(), 'no-such-setup-env');
    const e = thrown(() => readEnvFile(missing, cleanEnv()));
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain(missing);
  });
});

describe('loadConfig', () => {
  it('loads a known deployment from the environment', () => {
    const root = checkout();
    const { config, tree } = loadConfig({ env: cleanEnv({ IMAGEWRIGHT_ROOT: root, DEPLOYMENT_NAME: 'b' }), cwd: '/' });
    expect(config.IMAGEWRIGHT_ROOT).toBe(root);
    expect(config.IMAGE_DIR).toBe(join(root, 'deployments', 'b', 'image'));
    expect(tree.names()).toEqual(['a', 'b']);
  });

  it('refuses an unknown deployment, listing the known ones', () => {
    const root = checkout();
    const e = thrown(() => loadConfig({ env: cleanEnv({ IMAGEWRIGHT_ROOT: root, DEPLOYMENT_NAME: 'zz' }) }));
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain('"zz"');
    expect(e.message).toContain('a, b');
    expect(e.message).not.toContain('common');
  });

  it('finds the root from the env file folder and lets the file override the environment', () => {
    const root = checkout();
    writeFileSync(join(root, 'setup-env'), 'export DEPLOYMENT_NAME=a\nexport IMAGE_TAG=from-file\n');
    const { config } = loadConfig({
      setupEnv: join(root, 'setup-env'),
      env: cleanEnv({ DEPLOYMENT_NAME: 'b', IMAGE_TAG: 'from-env', ENVIRONMENT: 'dev' }),
      cwd: '/',
    });
    expect(config.IMAGEWRIGHT_ROOT).toBe(root);
    expect(config.DEPLOYMENT_NAME).toBe('a');
    expect(config.IMAGE_TAG).toBe('from-file');
    expect(config.ENVIRONMENT).toBe('dev'); // not in the file: the environment's value stands
  });
});

describe('loadConfig: the setup-env file', () => {
  it('reads IMAGEWRIGHT_SETUP_ENV when --setup-env is not given, and --setup-env wins over it', () => {
    const root = checkout();
    writeFileSync(join(root, 'one.env'), 'export DEPLOYMENT_NAME=a\n');
    writeFileSync(join(root, 'two.env'), 'export DEPLOYMENT_NAME=b\n');
    expect(loadConfig({ env: cleanEnv({ IMAGEWRIGHT_SETUP_ENV: join(root, 'one.env') }), cwd: '/' }).config.DEPLOYMENT_NAME).toBe('a');
    const both = loadConfig({ setupEnv: join(root, 'two.env'), env: cleanEnv({ IMAGEWRIGHT_SETUP_ENV: join(root, 'one.env') }), cwd: '/' });
    expect(both.config.DEPLOYMENT_NAME).toBe('b');
  });

  it('names the input that gave a missing file, a folder, or broken shell: exit 2, one line', () => {
    const root = checkout();
    const viaOption = thrown(() => loadConfig({ setupEnv: 'nosuch.env', env: cleanEnv(), cwd: root }));
    expect(viaOption.exitCode).toBe(2);
    expect(viaOption.message).toBe('--setup-env nosuch.env: no such file (allowed: a setup-env file)');
    const viaEnv = thrown(() => loadConfig({ env: cleanEnv({ IMAGEWRIGHT_SETUP_ENV: 'gone.env' }), cwd: root }));
    expect(viaEnv.message).toMatch(/^IMAGEWRIGHT_SETUP_ENV=gone.env: no such file/);
    expect(thrown(() => loadConfig({ setupEnv: root, env: cleanEnv(), cwd: '/' })).message).toContain('not a file');
    writeFileSync(join(root, 'broken.env'), 'export DEPLOYMENT_NAME="a\n');
    const broken = thrown(() => loadConfig({ setupEnv: 'broken.env', env: cleanEnv(), cwd: root }));
    expect(broken.exitCode).toBe(2);
    expect(broken.message).toMatch(/^--setup-env broken.env: not valid shell/);
    expect(broken.message).not.toContain('\n');
  });
});

describe('findRoot', () => {
  it('walks up from a subfolder to the folder holding deployments/', () => {
    const root = checkout();
    const deep = join(root, 'docs', 'notes', 'deeper');
    mkdirSync(deep, { recursive: true });
    expect(findRoot({}, deep)).toBe(root);
    expect(findRoot({}, root)).toBe(root);
  });

  it('prefers IMAGEWRIGHT_ROOT, resolved against cwd', () => {
    const root = checkout();
    const other = checkout();
    expect(findRoot({ IMAGEWRIGHT_ROOT: root }, other)).toBe(root);
    expect(findRoot({ IMAGEWRIGHT_ROOT: '..' }, join(root, 'deployments'))).toBe(root);
  });

  it('refuses IMAGEWRIGHT_ROOT without deployments/, exit 2 naming it', () => {
    const bare = realpathSync(mkdtempSync(join(tmpdir(), 'imagewright-bare-')));
    temps.push(bare);
    const e = thrown(() => findRoot({ IMAGEWRIGHT_ROOT: bare }, '/'));
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain(`IMAGEWRIGHT_ROOT=${bare}`);
    expect(e.message).toContain('deployments/');
  });
});
