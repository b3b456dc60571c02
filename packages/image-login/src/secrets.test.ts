import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '@imagewright/docker';
import { BUSYBOX_IMAGE, busyboxImage, ensureEngine, REPO_ROOT, startEcrFixture, startRegistryFixture, type EcrFixture, type PlainRegistryFixture } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/*
 * No secret in any output, nor on any process's command line: each command runs under
 * `strace -f -e trace=execve`, which records the argv of every program it and its children
 * start (credential helpers included), and everything it prints is kept.
 */
const RUN = `secrets${process.pid}`;
let scratch: string;
let engine: Engine;

interface Traced {
  code: number;
  output: string;
  /** Every execve with its argv, as strace wrote it. */
  execs: string;
}

/** Runs a built bin as runBin does (through its #! line, own env, stdin), under strace. */
function traced(bin: string, args: string[], env: NodeJS.ProcessEnv, input = ''): Promise<Traced> {
  const trace = join(scratch, `${bin}-${Math.random().toString(36).slice(2)}.trace`);
  const main = join(REPO_ROOT, 'packages', bin, 'dist', 'main.js');
  return new Promise((resolve, reject) => {
    const child = spawn('strace', ['-f', '-qq', '-e', 'trace=execve', '-s', '65536', '-o', trace, main, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}), NO_COLOR: '1', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output, execs: readFileSync(trace, 'utf8') }));
    child.stdin.on('error', () => undefined); // it may end before reading stdin (EPIPE)
    child.stdin.end(input);
  });
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** The secret and its encodings must show nowhere. */
function expectClean(run: Traced, secrets: string[], what: string): void {
  expect(run.execs, `${what}: strace recorded the command`).toMatch(/execve\("[^"]*main\.js"/);
  for (const secret of secrets) {
    expect(run.output.includes(secret), `${what}: a secret in its output:\n${run.output}`).toBe(false);
    expect(run.execs.includes(secret), `${what}: a secret on a command line`).toBe(false);
  }
}

beforeAll(async () => {
  engine = await ensureEngine();
  await busyboxImage(engine);
  scratch = mkdtempSync(join(tmpdir(), 'imagewright-secrets-'));
});

// The pushes and pulls leave local tags <registry>/<RUN>/...: removed here.
afterAll(async () => {
  const tags = (await engine.listImages()).flatMap((i) => i.RepoTags ?? []).filter((t) => t.includes(`/${RUN}/`));
  for (const tag of tags) await engine.getImage(tag).remove().catch(() => undefined);
});

describe('secrets stay out of output and command lines', () => {
  let fx: PlainRegistryFixture;
  beforeAll(async () => {
    fx = await startRegistryFixture();
  });
  afterAll(() => fx?.stop());

  it.each([
    ['config.json', false],
    ['a credential helper', true],
  ])('REGISTRY with %s: login, push --also-tag, pull, promote, delete', async (_how, withHelper) => {
    const dockerConfig = mkdtempSync(join(scratch, 'docker-'));
    let path = process.env.PATH;
    if (withHelper) {
      // A working credential store in files: `store` keeps stdin, `get` answers it.
      const bin = mkdtempSync(join(scratch, 'helper-'));
      const helper = join(bin, 'docker-credential-imwsecret');
      writeFileSync(helper, `#!/bin/sh\ncase "$1" in store) cat > "${bin}/stored" ;; get) cat "${bin}/stored" ;; *) exit 1 ;; esac\n`);
      chmodSync(helper, 0o755);
      writeFileSync(join(dockerConfig, 'config.json'), JSON.stringify({ credsStore: 'imwsecret' }));
      path = `${bin}:${path}`;
    }
    const repo = `${RUN}/${withHelper ? 'helper' : 'file'}`;
    const registry = fx.registry;
    const env = { ...fx.env, IMAGE_REPO: repo, PERSONAL_IMAGE: '1', DOCKER_CONFIG: dockerConfig, PATH: path };
    // The password and its basic-auth base64.
    const secrets = Object.values(fx.secrets);

    const runs: [string, Traced][] = [
      ['login', await traced('image-login', ['--username', registry.username, '--password-stdin'], env, `${registry.password}\n`)],
      ['push', await traced('image-push', ['--also-tag', 'extra', BUSYBOX_IMAGE], env)],
      ['pull', await traced('image-pull', [], env)],
      ['promote', await traced('image-promote', ['latest', 'promoted'], env)],
      ['delete', await traced('image-delete', ['--force', 'promoted'], env)],
    ];
    for (const [what, run] of runs) {
      expect(run.code, `${what}: ${run.output}`).toBe(0);
      expectClean(run, secrets, what);
    }
    if (withHelper) {
      // The helper ran, with nothing but its verb on the command line.
      const helperExecs = runs.flatMap(([, r]) => r.execs.split('\n')).filter((l) => l.includes('docker-credential-imwsecret", ['));
      expect(helperExecs.some((l) => l.includes('["docker-credential-imwsecret", "store"]'))).toBe(true);
      expect(helperExecs.some((l) => l.includes('["docker-credential-imwsecret", "get"]'))).toBe(true);
      expect(readFileSync(join(dockerConfig, 'config.json'), 'utf8')).not.toContain(b64(`${registry.username}:${registry.password}`));
    }
    // The control: a password given on the command line (refused) is what strace would catch.
    const canary = `canary-${RUN}`;
    const onArgv = await traced('image-login', ['--username', 'u', '--password', canary], env);
    expect(onArgv.code).toBe(2);
    expect(onArgv.execs).toContain(`"--password", "${canary}"`);
    expect(onArgv.output).not.toContain(canary);
    // A refused login keeps the wrong password out of its error too.
    const wrong = `${registry.password}-wrong`;
    const refused = await traced('image-login', ['--username', registry.username, '--password-stdin'], env, `${wrong}\n`);
    expect(refused.code).toBe(1);
    expectClean(refused, [wrong, ...secrets], 'refused login');
  });

  describe('ECR (the AWS stand-in)', () => {
    let ecrFx: EcrFixture;
    beforeAll(async () => {
      ecrFx = await startEcrFixture();
    });
    afterAll(() => ecrFx?.stop());

    it('login, push --also-tag, pull, promote, delete: no token or AWS secret key anywhere', async () => {
      // The fixture's DOCKER_CONFIG is empty: the commands log in themselves.
      const env = { ...ecrFx.env, IMAGE_REPO: `${RUN}/ecr`, ENVIRONMENT: 'dev' };
      // The token, the token as basic-auth base64, the AWS secret key.
      const secrets = Object.values(ecrFx.secrets);
      const runs: [string, Traced][] = [
        ['login', await traced('image-login', [], env)],
        ['push', await traced('image-push', ['--also-tag', 'unscanned-latest-dev-abc', BUSYBOX_IMAGE], env)],
        ['promote quarantined', await traced('image-promote', ['unscanned-latest-dev', 'latest-dev'], env)],
        ['pull', await traced('image-pull', [], env)],
        ['delete', await traced('image-delete', ['unscanned-latest-dev-abc'], env)],
      ];
      for (const [what, run] of runs) {
        expect(run.code, `${what}: ${run.output}`).toBe(0);
        expectClean(run, secrets, what);
      }
    });
  });
});
