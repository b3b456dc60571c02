import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { envFor, runBin, tempDeploymentRoot } from '@imagewright/testing';
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';

describe('image-update', () => {
  it('generates the Dockerfile and never touches other uncommitted files (no git checkout of frozen specs)', async () => {
    const root = tempDeploymentRoot('dep', {
      'deployments/common/image/Dockerfile.trailer': 'CMD ["sh"]\n',
      'deployments/dep/image/Dockerfile.custom': 'FROM scratch\n',
      'deployments/dep/image/environments/frozen/env-frozen.yml': 'name: env\n',
    });
    const git = (...args: string[]) => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8' });
    git('init', '-q');
    git('-c', 'user.name=t', '-c', 'user.email=t@t', 'add', '.');
    git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'init');
    const frozen = join(root, 'deployments/dep/image/environments/frozen/env-frozen.yml');
    writeFileSync(frozen, 'name: env\ndependencies: [uncommitted]\n');

    const env = { ...envFor(root, 'dep', 'x:latest'), USE_FROZEN: '0' };
    const result = await runBin('image-update', [], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Dockerfile: written');
    expect(readFileSync(join(root, 'deployments/dep/image/Dockerfile'), 'utf8')).toBe('FROM scratch\nCMD ["sh"]\n');
    expect(readFileSync(frozen, 'utf8')).toBe('name: env\ndependencies: [uncommitted]\n');

    const again = await runBin('image-update', ['--json'], { env });
    expect(JSON.parse(again.stdout).status).toBe('unchanged');
  });
});
