import { existsSync, readFileSync, copyFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { deriveConfig, findRoot, type InputName } from './config';
import { DeploymentTree } from './deployment';
import { writeFileAtomic } from './files';

/** tools/setup-env.template of this checkout of imagewright. */
export const SETUP_ENV_TEMPLATE = resolve(__dirname, '..', '..', '..', 'tools', 'setup-env.template');

const shellValue = (v: string) => (/^[\w@%+=:,./-]*$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);

/** Sets `export NAME=value` lines of a setup-env text, appending the ones it lacks. */
export function setInputs(text: string, inputs: Partial<Record<InputName, string>>): string {
  let result = text;
  for (const [name, value] of Object.entries(inputs)) {
    if (value === undefined) continue;
    const line = `export ${name}=${shellValue(value)}`;
    const pattern = new RegExp(`^[ \\t]*(?:export[ \\t]+)?${name}=.*$`, 'm');
    result = pattern.test(result) ? result.replace(pattern, () => line) : `${result.trimEnd()}\n${line}\n`;
  }
  return result;
}

export interface ConfigureOptions {
  deployment: string;
  inputs: Partial<Record<InputName, string>>;
  output: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  template?: string;
}

/**
 * image-configure: the template with the deployment and the given inputs set. Validated before
 * anything is written (an invalid value or unknown deployment changes nothing); an existing
 * file with other content is kept as <file>.bak.
 */
export function configureSetupEnv(options: ConfigureOptions): { path: string; content: string; backup?: string } {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const inputs = { DEPLOYMENT_NAME: options.deployment, ...options.inputs };
  const root = findRoot(env, cwd);
  new DeploymentTree(root).deployment(options.deployment);
  deriveConfig(Object.fromEntries(Object.entries(inputs).filter(([, v]) => v !== undefined)), root);
  // The checkout goes in too: the file may be written (and sourced) outside it.
  const content = setInputs(readFileSync(options.template ?? SETUP_ENV_TEMPLATE, 'utf8'), inputs).replace(/^_iw_checkout=.*$/m, () => `_iw_checkout=${shellValue(root)}`);
  const path = resolve(cwd, options.output);
  let backup: string | undefined;
  if (existsSync(path) && readFileSync(path, 'utf8') !== content) {
    backup = `${path}.bak`;
    copyFileSync(path, backup);
  }
  writeFileAtomic(path, content);
  return { path, content, backup };
}

