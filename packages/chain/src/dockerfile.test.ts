import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeploymentTree } from '@imagewright/core';
import { tempDeploymentRoot } from '@imagewright/testing';
import { describe, expect, it } from 'vitest';
import { declaredArgs } from './chain';
import { renderDockerfile, updateDockerfile } from './dockerfile';

describe('renderDockerfile', () => {
  it('concatenates custom and trailer byte for byte, as cat did', () => {
    expect(renderDockerfile('FROM a\nRUN x\n', 'USER b\n')).toBe('FROM a\nRUN x\nUSER b\n');
  });
  it('never glues the last custom line to the first trailer line', () => {
    expect(renderDockerfile('FROM a', 'USER b\n')).toBe('FROM a\nUSER b\n');
  });
});

describe('updateDockerfile', () => {
  const setup = (custom?: string) => {
    const root = tempDeploymentRoot('dep', {
      'deployments/common/image/Dockerfile.trailer': 'CMD ["sh"]\n',
      ...(custom === undefined ? {} : { 'deployments/dep/image/Dockerfile.custom': custom }),
    });
    const tree = new DeploymentTree(root);
    return { root, dep: tree.deployment('dep'), common: tree.common(), dockerfile: join(root, 'deployments/dep/image/Dockerfile') };
  };

  it('writes the Dockerfile, then reports it unchanged', () => {
    const { dep, common, dockerfile } = setup('FROM x\n');
    expect(updateDockerfile(dep, common)).toMatchObject({ status: 'written', backup: undefined });
    expect(readFileSync(dockerfile, 'utf8')).toBe('FROM x\nCMD ["sh"]\n');
    expect(updateDockerfile(dep, common).status).toBe('unchanged');
  });

  it('keeps a replaced (possibly hand-edited) Dockerfile as Dockerfile.bak', () => {
    const { dep, common, dockerfile } = setup('FROM x\n');
    writeFileSync(dockerfile, 'FROM x\nRUN hand-edit\n');
    const result = updateDockerfile(dep, common);
    expect(result.backup).toBe(`${dockerfile}.bak`);
    expect(readFileSync(`${dockerfile}.bak`, 'utf8')).toBe('FROM x\nRUN hand-edit\n');
    expect(readFileSync(dockerfile, 'utf8')).toBe('FROM x\nCMD ["sh"]\n');
  });

  it('leaves a deployment without Dockerfile.custom alone (opted out)', () => {
    const { dep, common, dockerfile } = setup();
    writeFileSync(dockerfile, 'FROM mine\n');
    expect(updateDockerfile(dep, common).status).toBe('opted-out');
    expect(readFileSync(dockerfile, 'utf8')).toBe('FROM mine\n');
    expect(existsSync(`${dockerfile}.bak`)).toBe(false);
  });
});

describe('declaredArgs', () => {
  it('finds ARG names, with or without defaults, in any case of the keyword', () => {
    const args = declaredArgs('ARG BASE_IMAGE\nFROM $BASE_IMAGE\narg USE_FROZEN=1\n  ARG CONDA_VER=conda\nRUN echo ARG NOPE\n');
    expect([...args].sort()).toEqual(['BASE_IMAGE', 'CONDA_VER', 'USE_FROZEN']);
  });
});
