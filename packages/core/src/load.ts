import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type Config, deriveConfig, findRoot, INPUTS, INPUT_NAMES } from './config';
import { type Deployment, DeploymentTree } from './deployment';
import { usageError } from './errors';

/** Every name a setup-env file may set that the config reads. */
const KNOWN = new Set<string>([
  'IMAGEWRIGHT_ROOT',
  ...INPUT_NAMES.flatMap((name) => [name, ...((INPUTS[name] as { aliases?: string[] }).aliases ?? [])]),
]);

/**
 * Reads a setup-env file without sourcing it into the caller: bash sources it in a child (so
 * quoting, `$(pwd)` and `${VAR}` behave exactly as for `source setup-env`; it runs in the file's
 * folder, as users source it from the checkout) and reports what it exported. The template
 * skips its own `image-env --export` when IMAGEWRIGHT_READING_SETUP_ENV is set. `label` names
 * the input in errors (`--setup-env FILE` or `IMAGEWRIGHT_SETUP_ENV=FILE`).
 */
export function readEnvFile(file: string, env: NodeJS.ProcessEnv = process.env, label = `--setup-env ${file}`): Record<string, string> {
  // Loaded here, not at the top: every bin's --help loads this module.
  const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
  const path = resolve(file);
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) throw usageError(`${label}: no such file (allowed: a setup-env file)`);
  if (!stat.isFile()) throw usageError(`${label}: not a file (allowed: a setup-env file)`);
  try {
    accessSync(path, constants.R_OK);
  } catch (error) {
    throw usageError(`${label}: cannot read it (${(error as NodeJS.ErrnoException).code}): allowed a readable setup-env file`);
  }
  // Syntax first (bash -n runs nothing): a broken file must not be half-read.
  try {
    execFileSync('bash', ['-n', path], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  } catch (error) {
    const detail = String((error as { stderr?: string }).stderr ?? '').trim().split('\n')[0];
    throw usageError(`${label}: not valid shell (${detail.replace(`${path}: `, '')})`);
  }
  let out: string;
  try {
    out = execFileSync('bash', ['-c', 'set -a; source "$1" >/dev/null; env -0', 'setup-env', path], {
      cwd: dirname(path),
      // IMAGEWRIGHT_ENV_FILE: what setup-env files written before the rename check.
      env: { ...env, IMAGEWRIGHT_READING_SETUP_ENV: path, IMAGEWRIGHT_ENV_FILE: path },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    throw usageError(`${label}: bash could not read it (${(error as Error).message.split('\n')[0]})`);
  }
  const vars: Record<string, string> = {};
  for (const entry of out.split('\0')) {
    const eq = entry.indexOf('=');
    const key = entry.slice(0, eq);
    if (eq > 0 && KNOWN.has(key)) vars[key] = entry.slice(eq + 1);
  }
  return vars;
}

export interface LoadOptions {
  /** A setup-env file to read (--setup-env); default IMAGEWRIGHT_SETUP_ENV, else the environment alone. */
  setupEnv?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface Loaded {
  config: Config;
  tree: DeploymentTree;
  /** DEPLOYMENT_NAME's folder and deployment.yaml, read once here. */
  deployment: Deployment;
}

/** The one config loader: environment (or a setup-env file) → validated config of a known deployment. */
export function loadConfig(options: LoadOptions = {}): Loaded {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const given = options.setupEnv ?? (env.IMAGEWRIGHT_SETUP_ENV || undefined);
  const label = options.setupEnv !== undefined ? `--setup-env ${given}` : `IMAGEWRIGHT_SETUP_ENV=${given}`;
  const envFile = given !== undefined ? resolve(cwd, given) : undefined;
  const raw: Record<string, string | undefined> = envFile ? { ...env, ...readEnvFile(envFile, env, label) } : { ...env };
  const root = findRoot(raw, envFile ? dirname(envFile) : cwd);
  const config = deriveConfig(raw, root);
  const tree = new DeploymentTree(root);
  const deployment = tree.deployment(config.DEPLOYMENT_NAME); // unknown deployment: exit 2 listing the known ones
  return { config, tree, deployment };
}
