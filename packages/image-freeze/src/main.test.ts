import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '@imagewright/docker';
import { ENV_DEPLOYMENT, ensureEngine, removeChainTags, envDeploymentRoot, runBin } from '@imagewright/testing';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The frozen-spec cycle on the real engine: a floating build freezes, a frozen build installs
// exactly those versions (Debian pins included, offline wheel for pip), image-chill feeds a
// USE_FROZEN=2 build, and a missing frozen file stops a frozen build before it starts.
const REPO = `imagewright-test/freeze-${process.pid}`;
let engine: Engine;
let root: string;
let env: NodeJS.ProcessEnv;
const frozenDir = () => join(root, 'deployments', ENV_DEPLOYMENT, 'image', 'environments', 'frozen');
const frozen = (name: string) => join(frozenDir(), `${name}-frozen.yml`);
const idOf = async (ref: string) => (await engine.getImage(ref).inspect()).Id;

beforeAll(async () => {
  engine = await ensureEngine();
  ({ root, env } = envDeploymentRoot(`${REPO}:latest`, {
    // Not written by image-freeze: must survive every freeze untouched.
    [`deployments/${ENV_DEPLOYMENT}/image/environments/frozen/safety.ignore`]: '| numpy | 1.0 | <2 | 12345 |\n',
  }));
});
afterAll(async () => {
  await removeChainTags(engine, REPO);
});

describe('USE_FROZEN and image-freeze', () => {
  it('USE_FROZEN=1 without frozen files: exit 2 before building, naming each environment and file', async () => {
    const result = await runBin('image-build', [], { env: { ...env, USE_FROZEN: '1' } });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`deployments/${ENV_DEPLOYMENT}/image/environments/frozen/good-frozen.yml`);
    expect(result.stderr).toMatch(/USE_FROZEN=1.*\bwheely\b.*USE_FROZEN=0/);
    await expect(idOf(`${REPO}:latest`)).rejects.toThrow();
  });

  it('a floating build runs image-freeze: the frozen files hold what pip and dpkg report in the image', async () => {
    const build = await runBin('image-build', [], { env: { ...env, USE_FROZEN: '0' } });
    expect(build.code).toBe(0);
    expect(build.stderr).toMatch(/^added +deployments\/envs\/image\/environments\/frozen\/wheely-frozen\.yml/m);
    const wheely = parse(readFileSync(frozen('wheely'), 'utf8'));
    const pipFreeze = await runBin('image-exec', ['/opt/envs/wheely/bin/pip', 'freeze', '--local'], { env });
    expect(wheely.dependencies.find((d: unknown) => typeof d === 'object').pip).toEqual(pipFreeze.stdout.trim().split('\n'));
    const six = (await runBin('image-exec', ['dpkg-query', '-W', '-f', '${Version}', 'python3-six'], { env })).stdout;
    expect(parse(readFileSync(frozen('good'), 'utf8')).apt).toEqual([`python3-six=${six}`]);
    expect(readFileSync(join(frozenDir(), 'safety.ignore'), 'utf8')).toBe('| numpy | 1.0 | <2 | 12345 |\n');
  });

  it('image-freeze again: nothing changed, nothing rewritten; a hand-edited pin is put back and reported', async () => {
    const before = statSync(frozen('good')).mtimeMs;
    const again = await runBin('image-freeze', [], { env });
    expect(again.code).toBe(0);
    // Status lines on stderr, one per environment, in the shape every command uses.
    expect(again.stdout).toBe('');
    expect(again.stderr.trim().split('\n').sort()).toEqual(
      readdirSync(frozenDir())
        .filter((f) => f.endsWith('-frozen.yml'))
        .map((f) => `unchanged deployments/${ENV_DEPLOYMENT}/image/environments/frozen/${f}`)
        .sort(),
    );
    expect(statSync(frozen('good')).mtimeMs).toBe(before);

    const text = readFileSync(frozen('wheely'), 'utf8');
    writeFileSync(frozen('wheely'), text.replace('tinypkg==0.1.0', 'tinypkg==0.0.9'));
    const edited = readFileSync(frozen('wheely'), 'utf8');
    const text1 = await runBin('image-freeze', [], { env });
    expect(text1.stderr).toContain(`changed   deployments/${ENV_DEPLOYMENT}/image/environments/frozen/wheely-frozen.yml: `);
    writeFileSync(frozen('wheely'), edited);
    const json = await runBin('image-freeze', ['--json'], { env });
    const wheely = JSON.parse(json.stdout).find((p: { environment: string }) => p.environment === 'wheely');
    expect(wheely).toMatchObject({ status: 'changed', file: `deployments/${ENV_DEPLOYMENT}/image/environments/frozen/wheely-frozen.yml` });
    expect(wheely.changes).toEqual([{ section: 'pip', name: 'tinypkg', from: '0.0.9', to: '0.1.0' }]);
    expect(readFileSync(frozen('wheely'), 'utf8')).toBe(text);
    expect(existsSync(join(frozenDir(), 'safety.ignore'))).toBe(true);
  });

  it('USE_FROZEN=1 builds from the frozen files and round-trips: a new freeze changes nothing', async () => {
    const floating = await idOf(`${REPO}:latest`);
    const build = await runBin('image-build', [], { env: { ...env, USE_FROZEN: '1' } });
    expect(build.code).toBe(0);
    expect(build.stderr).toMatch(/environment wheely ready \(venv at \/opt\/envs\/wheely, frozen\)/);
    expect(await idOf(`${REPO}:latest`)).not.toBe(floating);
    const refreeze = await runBin('image-freeze', [], { env });
    expect(refreeze.code).toBe(0);
    expect(refreeze.stderr).toMatch(/^unchanged /m);
    expect(refreeze.stderr).not.toMatch(/^(added|changed)/m);
    const test = await runBin('image-test', [], { env });
    expect(test.code).toBe(0);
  });

  it('image-chill writes chilly files beside the frozen ones, and USE_FROZEN=2 builds from them', async () => {
    const chill = await runBin('image-chill', [], { env });
    expect(chill.code).toBe(0);
    expect(chill.stderr).toMatch(/^written   deployments\/envs\/image\/environments\/frozen\/wheely-chilly\.yml$/m);
    const chilly = readFileSync(join(frozenDir(), 'wheely-chilly.yml'), 'utf8');
    expect(chilly).toContain('    - tinypkg~=0.1.0\n');
    expect(chilly).toMatch(/^  - python~=3\.\d+\.\d+$/m);
    expect(readFileSync(join(frozenDir(), 'good-chilly.yml'), 'utf8')).toMatch(/^apt:\n  - python3-six\n/m);
    const build = await runBin('image-build', [], { env: { ...env, USE_FROZEN: '2' } });
    expect(build.code).toBe(0);
    expect(build.stderr).toMatch(/environment good ready \(venv at \/opt\/envs\/good, chilled\)/);
    expect((await runBin('image-test', ['--env', 'wheely'], { env })).code).toBe(0);
  });

  it('USE_FROZEN=1 with one frozen file gone: exit 2 naming that environment and file; tags stay', async () => {
    const tagged = await idOf(`${REPO}:latest`);
    rmSync(frozen('sys'));
    const result = await runBin('image-build', [], { env: { ...env, USE_FROZEN: '1' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/\bsys\b.*environments\/frozen\/sys-frozen\.yml/);
    expect(result.stderr).not.toMatch(/\bgood\b/);
    expect(await idOf(`${REPO}:latest`)).toBe(tagged);
  });
});
