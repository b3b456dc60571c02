import { failure, usageError } from '@imagewright/core';
import type { Engine, RunFlags } from '@imagewright/docker';
import type { EnvironmentExport } from './conda-yaml';

/** The in-image environment tool (deployments/common/image/common-scripts/imagewright-env). */
export const ENV_TOOL = '/opt/common-scripts/imagewright-env';

export interface EnvironmentInfo {
  name: string;
  kind: 'conda' | 'venv' | 'system';
  prefix: string;
  python: string;
}

/**
 * Runs the environment tool in a fresh container of IMAGE and parses its JSON answer. Its exit
 * codes follow ours (2: usage, e.g. an unknown environment), so they pass through.
 */
async function envTool<T>(engine: Engine, image: string, args: string[], flags?: RunFlags): Promise<T> {
  const { runCaptured } = require('@imagewright/docker') as typeof import('@imagewright/docker');
  const missing = `${image} has no ${ENV_TOOL}: rebuild it with image-build (the common image ships it)`;
  const run = await runCaptured(engine, { image, cmd: [ENV_TOOL, ...args], flags, missing });
  const message = run.stderr.trim().split('\n').pop()?.replace(/^imagewright-env \w+: /, '') ?? '';
  if (run.code === 2) throw usageError(message);
  if (run.code !== 0) throw failure(`${ENV_TOOL} ${args[0]} failed in ${image} (exit ${run.code})${message ? `: ${message}` : ''}`);
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw failure(`${ENV_TOOL} ${args[0]} in ${image} did not answer JSON: ${run.stdout.slice(0, 200)}`);
  }
}

/** image-env-list: conda envs when conda exists, else the declared venvs / system Python. */
export function listEnvironments(engine: Engine, image: string, flags?: RunFlags): Promise<EnvironmentInfo[]> {
  return envTool(engine, image, ['list', '--json'], flags);
}

/** image-env-export: exact versions in the shape of `conda env export --no-build`. */
export function exportEnvironments(engine: Engine, image: string, names: string[] = [], flags?: RunFlags): Promise<EnvironmentExport[]> {
  return envTool(engine, image, ['export', '--json', ...names], flags);
}
