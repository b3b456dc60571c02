import { existsSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { usageError, type Deployment } from '@imagewright/core';

/**
 * Where a deployment's pinned specs live:
 *   flat        image/environments/frozen/<env>-frozen.yml, chilled beside it as <env>-chilly.yml
 *   env-frozen  image/env-frozen/<env>/requirements.{yml,txt}, chilled in image/env-chilly/<env>/
 */
export type FrozenLayout = 'flat' | 'env-frozen';

export interface SpecFiles {
  environment: string;
  frozen: string;
  chilly: string;
  /** pip-compile output; only in the env-frozen layout (optional there). */
  frozenTxt?: string;
  chillyTxt?: string;
}

/** The pip-tools era tree wins as soon as its folder exists. */
export function frozenLayout(d: Deployment): FrozenLayout {
  const dir = join(d.imageDir, 'env-frozen');
  return existsSync(dir) && statSync(dir).isDirectory() ? 'env-frozen' : 'flat';
}

export function specFiles(d: Deployment, environment: string): SpecFiles {
  if (frozenLayout(d) === 'env-frozen') {
    const frozen = join(d.imageDir, 'env-frozen', environment);
    const chilly = join(d.imageDir, 'env-chilly', environment);
    return {
      environment,
      frozen: join(frozen, 'requirements.yml'),
      chilly: join(chilly, 'requirements.yml'),
      frozenTxt: join(frozen, 'requirements.txt'),
      chillyTxt: join(chilly, 'requirements.txt'),
    };
  }
  const dir = join(d.imageDir, 'environments', 'frozen');
  return { environment, frozen: join(dir, `${environment}-frozen.yml`), chilly: join(dir, `${environment}-chilly.yml`) };
}

/**
 * The frozen specs of an image folder, as the original's sscan-find-frozen-specs found them
 * (`environments/frozen/*-frozen.yml`), plus the env-frozen layout's
 * `env-frozen/<env>/requirements.{yml,txt}`.
 */
export function frozenSpecsIn(imageDir: string): string[] {
  const files: string[] = [];
  const list = (dir: string) => (existsSync(dir) && statSync(dir).isDirectory() ? readdirSync(dir).sort() : []);
  const flat = join(imageDir, 'environments', 'frozen');
  for (const name of list(flat)) if (name.endsWith('-frozen.yml')) files.push(join(flat, name));
  const envFrozen = join(imageDir, 'env-frozen');
  for (const env of list(envFrozen)) {
    for (const name of ['requirements.yml', 'requirements.txt']) {
      const file = join(envFrozen, env, name);
      if (existsSync(file)) files.push(file);
    }
  }
  return files;
}

/**
 * Whether a path found anywhere is a frozen spec of either layout (…/environments/frozen/<env>-frozen.y[a]ml,
 * …/env-frozen/<env>/requirements.{y[a]ml,txt}): for scans of arbitrary folders.
 */
export function isFrozenSpecPath(path: string): boolean {
  return /(?:^|\/)environments\/frozen\/[^/]+-frozen\.ya?ml$|(?:^|\/)env-frozen\/[^/]+\/requirements\.(?:ya?ml|txt)$/.test(path);
}

const NEEDS = {
  '1': { spec: 'frozen', fix: 'build with USE_FROZEN=0 (it runs image-freeze) first' },
  '2': { spec: 'chilly', fix: 'run image-chill first' },
} as const;

/**
 * Before a USE_FROZEN=1/2 build: every environment needs its spec, or the build would fail deep
 * inside the Dockerfile. '0' (floating) needs nothing.
 */
export function checkSpecs(d: Deployment, useFrozen: '0' | '1' | '2'): void {
  if (useFrozen === '0') return;
  const need = NEEDS[useFrozen];
  if (need === undefined) throw usageError(`USE_FROZEN=${useFrozen}: allowed 0 (floating), 1 (frozen) or 2 (chilly)`);
  const root = resolve(d.dir, '..', '..');
  const missing = d.environments
    .map((environment) => specFiles(d, environment))
    .filter((files) => !existsSync(files[need.spec]))
    .map((files) => `${files.environment} (${shown(root, files[need.spec])})`);
  if (missing.length > 0) {
    throw usageError(`USE_FROZEN=${useFrozen} needs a ${need.spec} spec per environment, missing for ${missing.join(', ')}: ${need.fix}`);
  }
}

/** Relative to the repo root when the file is inside it, else absolute. */
function shown(root: string, path: string): string {
  const rel = relative(root, path);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}
