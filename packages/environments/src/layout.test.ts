import { thrown } from '@imagewright/testing';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeploymentTree, ImagewrightError, type Deployment } from '@imagewright/core';
import { afterEach, describe, expect, it } from 'vitest';
import { checkSpecs, frozenLayout, specFiles } from './layout';

const roots: string[] = [];
afterEach(() => roots.splice(0).forEach((r) => rmSync(r, { recursive: true, force: true })));

/** A checkout with deployments/dep/image/environments/<env>/ for each env, plus files under image/. */
function deployment(envs: string[], files: string[] = []): { root: string; d: Deployment } {
  const root = mkdtempSync(join(tmpdir(), 'imagewright-environments-'));
  roots.push(root);
  const image = join(root, 'deployments', 'dep', 'image');
  mkdirSync(join(image, 'environments'), { recursive: true });
  for (const env of envs) mkdirSync(join(image, 'environments', env));
  for (const file of files) {
    // `folder/` makes a folder, anything else a file
    mkdirSync(file.endsWith('/') ? join(image, file) : join(image, file, '..'), { recursive: true });
    if (!file.endsWith('/')) writeFileSync(join(image, file), 'name: x\n');
  }
  return { root, d: new DeploymentTree(root).deployment('dep') };
}


describe('frozenLayout / specFiles', () => {
  it('uses the flat layout by default, frozen and chilly side by side', () => {
    const { d } = deployment(['tess'], ['environments/frozen/tess-frozen.yml']);
    expect(d.environments).toEqual(['tess']); // core leaves the frozen/ folder out
    expect(frozenLayout(d)).toBe('flat');
    expect(specFiles(d, 'tess')).toEqual({
      environment: 'tess',
      frozen: join(d.imageDir, 'environments/frozen/tess-frozen.yml'),
      chilly: join(d.imageDir, 'environments/frozen/tess-chilly.yml'),
    });
  });

  it('switches to env-frozen/<env>/requirements.{yml,txt} once image/env-frozen exists', () => {
    const { d } = deployment(['tess'], ['env-frozen/']);
    expect(frozenLayout(d)).toBe('env-frozen');
    expect(specFiles(d, 'tess')).toEqual({
      environment: 'tess',
      frozen: join(d.imageDir, 'env-frozen/tess/requirements.yml'),
      chilly: join(d.imageDir, 'env-chilly/tess/requirements.yml'),
      frozenTxt: join(d.imageDir, 'env-frozen/tess/requirements.txt'),
      chillyTxt: join(d.imageDir, 'env-chilly/tess/requirements.txt'),
    });
  });

  it('is not fooled by a file named env-frozen', () => {
    const { d } = deployment(['tess'], ['env-frozen']);
    expect(frozenLayout(d)).toBe('flat');
  });
});

describe('checkSpecs', () => {
  it('USE_FROZEN=0 needs nothing', () => {
    const { d } = deployment(['tess', 'exoplanet']);
    expect(() => checkSpecs(d, '0')).not.toThrow();
  });

  it('USE_FROZEN=1 passes when every environment is frozen', () => {
    const { d } = deployment(['a', 'b'], ['environments/frozen/a-frozen.yml', 'environments/frozen/b-frozen.yml']);
    expect(() => checkSpecs(d, '1')).not.toThrow();
  });

  it('USE_FROZEN=1 names each unfrozen environment and its repo-relative file, on one line', () => {
    const { d } = deployment(['exoplanet', 'ok', 'tess'], ['environments/frozen/ok-frozen.yml']);
    const error = thrown(() => checkSpecs(d, '1'));
    expect(error).toBeInstanceOf(ImagewrightError);
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(
      'USE_FROZEN=1 needs a frozen spec per environment, missing for ' +
        'exoplanet (deployments/dep/image/environments/frozen/exoplanet-frozen.yml), ' +
        'tess (deployments/dep/image/environments/frozen/tess-frozen.yml): ' +
        'build with USE_FROZEN=0 (it runs image-freeze) first',
    );
  });

  it('USE_FROZEN=2 needs the chilly specs, frozen ones are not enough', () => {
    const { d } = deployment(['tess'], ['env-frozen/tess/requirements.yml']);
    const error = thrown(() => checkSpecs(d, '2'));
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(
      'USE_FROZEN=2 needs a chilly spec per environment, missing for tess (deployments/dep/image/env-chilly/tess/requirements.yml): run image-chill first',
    );
    expect(() => checkSpecs(d, '1')).not.toThrow();
  });

  it('shows an absolute path when the file is outside the repo root', () => {
    const { root } = deployment([]);
    const elsewhere = mkdtempSync(join(tmpdir(), 'imagewright-elsewhere-'));
    roots.push(elsewhere);
    const d = { name: 'x', dir: join(root, 'deployments', 'x'), imageDir: elsewhere, environmentsDir: join(elsewhere, 'environments'), environments: ['e'] } as Deployment;
    expect(thrown(() => checkSpecs(d, '2')).message).toContain(`e (${join(elsewhere, 'environments/frozen/e-chilly.yml')})`);
  });

  it('rejects other values', () => {
    const { d } = deployment(['tess']);
    const error = thrown(() => checkSpecs(d, '3' as '1'));
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe('USE_FROZEN=3: allowed 0 (floating), 1 (frozen) or 2 (chilly)');
  });
});
