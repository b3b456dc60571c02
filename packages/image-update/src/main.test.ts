import { readFileSync, rmSync, writeFileSync } from 'node:fs';
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
    // The status line, on stderr, in the one shape every command uses.
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('written   deployments/dep/image/Dockerfile\n');
    expect(readFileSync(join(root, 'deployments/dep/image/Dockerfile'), 'utf8')).toBe('FROM scratch\nCMD ["sh"]\n');
    expect(readFileSync(frozen, 'utf8')).toBe('name: env\ndependencies: [uncommitted]\n');

    const again = await runBin('image-update', ['--json'], { env });
    expect(JSON.parse(again.stdout).status).toBe('unchanged');
    expect((await runBin('image-update', [], { env })).stderr).toBe('unchanged deployments/dep/image/Dockerfile\n');
    writeFileSync(join(root, 'deployments/dep/image/Dockerfile.custom'), 'FROM scratch\nENV A=1\n');
    expect((await runBin('image-update', [], { env })).stderr).toBe(
      'written   deployments/dep/image/Dockerfile: previous kept as deployments/dep/image/Dockerfile.bak\n',
    );
    rmSync(join(root, 'deployments/dep/image/Dockerfile.custom'));
    const skipped = await runBin('image-update', [], { env });
    expect(skipped.code).toBe(0);
    expect(skipped.stderr).toBe('skipped   deployments/dep/image/Dockerfile: no Dockerfile.custom, left alone\n');
  });
});
