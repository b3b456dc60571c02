import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { ImagewrightError } from '@imagewright/core';
import type { Engine } from '@imagewright/docker';
import { envFor, REPO_ROOT, runBin, tempDeploymentRoot } from './bin';

/** The mission of `envDeploymentRoot`: deployments/envs. */
export const ENV_DEPLOYMENT = 'envs';

/**
 * A throwaway checkout with the real deployments/common and a small mission, deployments/envs,
 * whose environments cover each kind the tools must handle:
 *   good    a venv with a Debian package (python3-six), imports (one commented out) and a .py test
 *   wheely  a venv with a pip package from a wheel built during the image build (no PyPI: pip
 *           runs with --no-index and --find-links, through PIP_NO_INDEX / PIP_FIND_LINKS)
 *   sys     the system Python (env-create --system), with an apt spec
 *   bare    no tests/ folder: reported as skipped
 * The root image is the demo's default (Debian bookworm minbase by debootstrap), shared.
 */
export function envDeploymentRoot(image: string, files: Record<string, string> = {}): { root: string; env: NodeJS.ProcessEnv } {
  const mission = `deployments/${ENV_DEPLOYMENT}/image`;
  const root = tempDeploymentRoot(ENV_DEPLOYMENT, {
    [`${mission}/Dockerfile.custom`]: [
      'ARG BASE_IMAGE',
      '# A wheel from a local project, built offline with Debian\'s setuptools and wheel.',
      'FROM ${BASE_IMAGE} AS wheels',
      'COPY tinypkg/ /tmp/tinypkg/',
      'RUN python3 -m pip wheel --no-index --no-build-isolation --no-deps -w /tmp/wheels /tmp/tinypkg',
      '',
      'FROM ${BASE_IMAGE}',
      'ARG USE_FROZEN=1',
      'ENV USE_FROZEN=${USE_FROZEN} PIP_NO_INDEX=1 PIP_FIND_LINKS=/opt/wheels',
      'USER root',
      'COPY --from=wheels /tmp/wheels/ /opt/wheels/',
      'COPY environments/frozen/ /opt/environments/frozen/',
      'COPY environments/good/*.apt environments/good/*.pip /opt/environments/good/',
      'RUN env-create good',
      'COPY environments/wheely/*.apt environments/wheely/*.pip /opt/environments/wheely/',
      'RUN env-create wheely',
      'COPY environments/sys/*.apt environments/sys/*.pip /opt/environments/sys/',
      'RUN env-create --system sys',
      '',
    ].join('\n'),
    [`${mission}/tinypkg/pyproject.toml`]: [
      '[build-system]',
      'requires = ["setuptools"]',
      'build-backend = "setuptools.build_meta"',
      '',
      '[project]',
      'name = "tinypkg"',
      'version = "0.1.0"',
      '',
    ].join('\n'),
    [`${mission}/tinypkg/tinypkg/__init__.py`]: 'ANSWER = 42\n',
    [`${mission}/environments/frozen/.keep`]: '',
    [`${mission}/environments/good/good.apt`]: '# six from Debian\npython3-six\n',
    [`${mission}/environments/good/kernel.name`]: 'Good\n',
    [`${mission}/environments/good/tests/imports`]: 'six\njson\n# nosuchmodule\n',
    [`${mission}/environments/good/tests/check.py`]: 'import six\nassert six.PY3\nprint("six ok")\n',
    [`${mission}/environments/wheely/wheely.pip`]: 'tinypkg\n',
    [`${mission}/environments/wheely/kernel.name`]: 'Wheely\n',
    [`${mission}/environments/wheely/tests/imports`]: 'tinypkg\n',
    [`${mission}/environments/sys/sys.apt`]: 'python3-six\n',
    [`${mission}/environments/sys/kernel.name`]: 'System\n',
    [`${mission}/environments/sys/tests/imports`]: 'yaml\n',
    [`${mission}/environments/bare/kernel.name`]: 'Bare\n',
    ...files,
  });
  cpSync(join(REPO_ROOT, 'deployments', 'common'), join(root, 'deployments', 'common'), { recursive: true });
  return { root, env: envFor(root, ENV_DEPLOYMENT, image) };
}

/** The tags a chain build makes (and its backups): what a test removes afterwards. */
export async function removeChainTags(engine: Engine, repo: string): Promise<void> {
  for (const tag of ['latest', 'common-latest', 'latest-previous', 'common-latest-previous']) {
    await engine.getImage(`${repo}:${tag}`).remove().catch(() => {});
  }
}

/** `envDeploymentRoot` built from its floating specs (USE_FROZEN=0) as `<repo>:latest`. */
export async function builtEnvDeployment(repo: string): Promise<{ root: string; env: NodeJS.ProcessEnv }> {
  const { root, env } = envDeploymentRoot(`${repo}:latest`);
  const floating = { ...env, USE_FROZEN: '0' };
  const build = await runBin('image-build', [], { env: floating });
  if (build.code !== 0) throw new Error(`image-build of the test deployment failed (exit ${build.code}):\n${build.stderr.slice(-3000)}`);
  return { root, env: floating };
}

/** The error `fn` throws (an ImagewrightError in the tests that use it); fails when it does not throw. */
export function thrown<E = ImagewrightError>(fn: () => unknown): E {
  try {
    fn();
  } catch (error) {
    return error as E;
  }
  throw new Error('did not throw');
}

/** The ImagewrightError a promise rejects with; fails when it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<ImagewrightError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ImagewrightError) return error;
    throw new Error(`expected an ImagewrightError, got ${String(error)}`);
  }
  throw new Error('expected an ImagewrightError, the call succeeded');
}
