import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImagewrightError } from '@imagewright/core';
import { chooseContext, connectEngine, engineAddress } from '@imagewright/docker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envFor, runBin, tempDeploymentRoot } from './bin';
import { dockerCli } from './docker-cli';
import { BUSYBOX_IMAGE, busyboxImage } from './busybox';
import { ensureEngine } from './engine';
import { startSshd, type Sshd } from './sshd';
import { startTlsEngine, type TlsEngine } from './tls-engine';

// Docker contexts made by the real `docker context create`/`use` in a temp DOCKER_CONFIG (never the
// user's ~/.docker), pointing at the harness's TLS endpoint and sshd, both in front of the real engine.

let tls: TlsEngine;
let sshd: Sshd;
/** An sshd whose sessions have no docker on PATH: a remote host without the docker CLI. */
let noDocker: Sshd;
let DOCKER_CONFIG: string;

/**
 * The docker CLI with only PATH and our DOCKER_CONFIG: no DOCKER_HOST/DOCKER_CONTEXT of the caller.
 * Never synchronous: the CLI may ping the current context's endpoint, and the TLS one is served by
 * this very process.
 */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((done) =>
    execFile(dockerCli(), args, { env: { PATH: process.env.PATH, DOCKER_CONFIG, ...env }, encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) =>
      done({ status: error ? Number((error as { code?: unknown }).code) || 1 : 0, stdout, stderr }),
    ),
  );
}

async function docker(...args: string[]): Promise<string> {
  const result = await cli(args);
  if (result.status !== 0) throw new Error(`docker ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

/** What our commands get: the caller's DOCKER_HOST/DOCKER_CONTEXT blanked (empty counts as unset). */
const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ DOCKER_CONFIG, DOCKER_HOST: '', DOCKER_CONTEXT: '', ...extra });

async function refusal(promise: Promise<unknown>): Promise<ImagewrightError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImagewrightError);
  expect((error as ImagewrightError).exitCode).toBe(2);
  expect((error as Error).message).not.toContain('\n');
  return error as ImagewrightError;
}

async function inspectsBusybox(environment: NodeJS.ProcessEnv) {
  const engine = await connectEngine(environment);
  expect((await engine.getImage(BUSYBOX_IMAGE).inspect()).RepoTags).toContain(BUSYBOX_IMAGE);
}

beforeAll(async () => {
  await busyboxImage(await ensureEngine());
  [tls, sshd, noDocker] = await Promise.all([startTlsEngine(), startSshd(), startSshd({ remotePath: '/nonexistent' })]);
  DOCKER_CONFIG = mkdtempSync(join(tmpdir(), 'imagewright-docker-config-'));
  const pems = (dir: string) => `ca=${join(dir, 'ca.pem')},cert=${join(dir, 'cert.pem')},key=${join(dir, 'key.pem')}`;
  const contexts: Record<string, string> = {
    tls: `host=${tls.dockerHost},${pems(tls.certPath)}`,
    'wrong-ca': `host=${tls.dockerHost},${pems(tls.otherCaPath)}`,
    insecure: `host=${tls.dockerHost},${pems(tls.otherCaPath)},skip-tls-verify=true`,
    'no-cert': `host=${tls.dockerHost},ca=${join(tls.certPath, 'ca.pem')}`,
    down: 'host=tcp://127.0.0.1:1',
    local: 'host=unix:///var/run/docker.sock',
    ssh: `host=ssh://${sshd.user}@127.0.0.1:${sshd.port}`,
    'ssh-nobody': `host=ssh://nobody@127.0.0.1:${sshd.port}`,
    'ssh-closed': 'host=ssh://127.0.0.1:1',
    'ssh-no-docker': `host=ssh://${noDocker.user}@127.0.0.1:${noDocker.port}`,
  };
  for (const [name, endpoint] of Object.entries(contexts)) await docker('context', 'create', name, '--docker', endpoint);
});
afterAll(async () => {
  await Promise.all([tls?.stop(), sshd?.stop(), noDocker?.stop()]);
  if (DOCKER_CONFIG) rmSync(DOCKER_CONFIG, { recursive: true, force: true });
});

describe('which context: as the docker CLI chooses it', () => {
  it('names the same context as `docker context show` for every combination of DOCKER_HOST, DOCKER_CONTEXT and currentContext', async () => {
    for (const current of ['default', 'tls', 'down']) {
      await docker('context', 'use', current);
      for (const DOCKER_CONTEXT of ['', 'default', 'local', 'wrong-ca']) {
        for (const DOCKER_HOST of ['', 'tcp://127.0.0.1:1']) {
          const shown = await cli(['context', 'show'], { DOCKER_CONTEXT, DOCKER_HOST });
          expect(shown.status).toBe(0);
          expect(`${current}/${DOCKER_CONTEXT}/${DOCKER_HOST}: ${chooseContext(env({ DOCKER_CONTEXT, DOCKER_HOST })).name}`).toBe(
            `${current}/${DOCKER_CONTEXT}/${DOCKER_HOST}: ${shown.stdout.trim()}`,
          );
        }
      }
    }
  });

  it('follows `docker context use`: the TLS context is reached through its endpoint, a dead one is not bypassed', async () => {
    await docker('context', 'use', 'tls');
    const before = tls.received;
    await inspectsBusybox(env());
    expect(tls.received).toBeGreaterThan(before);
    expect(engineAddress(env()).source).toBe(`context "tls", from currentContext in ${join(DOCKER_CONFIG, 'config.json')}`);

    await docker('context', 'use', 'down');
    const e = await refusal(connectEngine(env()));
    expect(e.message).toBe(`cannot reach the Docker Engine at tcp://127.0.0.1:1 (context "down", from currentContext in ${join(DOCKER_CONFIG, 'config.json')}): ECONNREFUSED`);
  });

  it('lets DOCKER_CONTEXT override currentContext', async () => {
    await docker('context', 'use', 'down');
    const before = tls.received;
    await inspectsBusybox(env({ DOCKER_CONTEXT: 'tls' }));
    expect(tls.received).toBeGreaterThan(before);

    await docker('context', 'use', 'tls');
    const e = await refusal(connectEngine(env({ DOCKER_CONTEXT: 'down' })));
    expect(e.message).toContain('(context "down", from DOCKER_CONTEXT)');
  });

  it('lets DOCKER_HOST override DOCKER_CONTEXT and currentContext', async () => {
    await docker('context', 'use', 'down');
    await inspectsBusybox(env({ DOCKER_CONTEXT: 'down', DOCKER_HOST: 'unix:///var/run/docker.sock' }));

    await docker('context', 'use', 'tls');
    const e = await refusal(connectEngine(env({ DOCKER_CONTEXT: 'tls', DOCKER_HOST: 'tcp://127.0.0.1:1' })));
    expect(e.message).toBe('cannot reach the Docker Engine at tcp://127.0.0.1:1 (DOCKER_HOST): ECONNREFUSED');
  });

  it('`default` (by `docker context use default` or DOCKER_CONTEXT=default) is the local socket', async () => {
    await docker('context', 'use', 'default');
    expect(JSON.parse(readFileSync(join(DOCKER_CONFIG, 'config.json'), 'utf8')).currentContext ?? '').toBe('');
    expect(engineAddress(env())).toMatchObject({ url: 'unix:///var/run/docker.sock', source: 'default, DOCKER_HOST unset' });
    await inspectsBusybox(env());

    await docker('context', 'use', 'down');
    const before = tls.received;
    await inspectsBusybox(env({ DOCKER_CONTEXT: 'default' }));
    expect(tls.received).toBe(before);
  });
});

describe('an unknown or unusable context', () => {
  it('an unknown DOCKER_CONTEXT is one line, exit 2, naming it, its source and the contexts that exist (the CLI refuses it too)', async () => {
    await docker('context', 'use', 'tls');
    expect((await cli(['version'], { DOCKER_CONTEXT: 'nosuch' })).status).not.toBe(0);
    const result = await runBin('docker-history', [BUSYBOX_IMAGE], { env: env({ DOCKER_CONTEXT: 'nosuch' }) });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`context "nosuch" (from DOCKER_CONTEXT) not found in ${join(DOCKER_CONFIG, 'contexts')}`);
    expect(result.stderr).toContain('allowed default, down, insecure, local, no-cert, ssh, ssh-closed, ssh-no-docker, ssh-nobody, tls, wrong-ca');
  });

  it('an unknown currentContext (a context removed behind config.json) names config.json', async () => {
    await docker('context', 'use', 'tls');
    const file = join(DOCKER_CONFIG, 'config.json');
    const config = readFileSync(file, 'utf8');
    try {
      writeFileSync(file, JSON.stringify({ ...JSON.parse(config), currentContext: 'removed' }));
      const e = await refusal(connectEngine(env()));
      expect(e.message).toContain(`context "removed" (from currentContext in ${file}) not found`);
    } finally {
      writeFileSync(file, config);
    }
  });

  it('a context whose TLS does not match the server is refused, as by the CLI; skip-tls-verify is honoured', async () => {
    await docker('context', 'use', 'default');
    for (const name of ['wrong-ca', 'no-cert']) {
      expect((await cli(['version'], { DOCKER_CONTEXT: name })).status).not.toBe(0);
      const e = await refusal(connectEngine(env({ DOCKER_CONTEXT: name })));
      expect(e.message).toContain(`cannot reach the Docker Engine at ${tls.dockerHost} (context "${name}", from DOCKER_CONTEXT): `);
    }
    // The same untrusted server with verification skipped: reached, the client certificate still sent.
    expect((await cli(['version'], { DOCKER_CONTEXT: 'insecure' })).status).toBe(0);
    await inspectsBusybox(env({ DOCKER_CONTEXT: 'insecure' }));
  });
});

describe('commands honour the context', () => {
  it('docker-history works end to end through the current TLS context', async () => {
    await docker('context', 'use', 'tls');
    const before = tls.received;
    const result = await runBin('docker-history', ['--quiet', BUSYBOX_IMAGE], { env: env() });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect(tls.received).toBeGreaterThan(before);
  });

  it('image-exec runs a container through an ssh:// context', async () => {
    await docker('context', 'use', 'down');
    const root = tempDeploymentRoot('ctx');
    // Each ssh connection leaves a line: proof the context's endpoint was used, not the local socket.
    const log = join(root, 'ssh.log');
    const result = await runBin('image-exec', ['echo', 'over the ssh context'], {
      env: { ...envFor(root, 'ctx', BUSYBOX_IMAGE), ...env({ DOCKER_CONTEXT: 'ssh', IMAGEWRIGHT_SSH_COMMAND: `echo ssh >> ${log}; ${sshd.sshCommand}` }) },
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('over the ssh context\n');
    expect(result.code).toBe(0);
    expect(readFileSync(log, 'utf8')).toMatch(/^ssh\n/);
    rmSync(root, { recursive: true, force: true });
  });
});

describe("ssh's own words when the engine is reached over ssh://", () => {
  const cases = () => [
    { name: 'unknown host key', context: 'ssh', command: sshd.sshCommandUnknownHost, words: 'ssh exited 255: Host key verification failed.' },
    { name: 'auth refused', context: 'ssh-nobody', command: sshd.sshCommand, words: 'ssh exited 255: nobody@127.0.0.1: Permission denied (publickey).' },
    { name: 'connection refused', context: 'ssh-closed', command: sshd.sshCommand, words: 'ssh exited 255: ssh: connect to host 127.0.0.1 port 1: Connection refused' },
    { name: 'no docker on the remote host', context: 'ssh-no-docker', command: noDocker.sshCommand, words: 'ssh exited 127: ' },
  ];

  it('each failure is one line, exit 2, with the context and the message ssh printed (not ECONNRESET/EPIPE)', async () => {
    for (const { name, context, command, words } of cases()) {
      const e = await refusal(connectEngine(env({ DOCKER_CONTEXT: context, IMAGEWRIGHT_SSH_COMMAND: command })));
      expect(`${name}: ${e.message}`).toContain(`${name}: cannot reach the Docker Engine at ssh://`);
      expect(e.message).toContain(`(context "${context}", from DOCKER_CONTEXT): ${words}`);
      expect(e.message).not.toMatch(/ECONNRESET|EPIPE|socket hang up/);
    }
    const missing = await refusal(connectEngine(env({ DOCKER_CONTEXT: 'ssh-no-docker', IMAGEWRIGHT_SSH_COMMAND: noDocker.sshCommand })));
    expect(missing.message).toMatch(/docker: (command )?not found$/);
  });

  it('a command prints it as its one line, for DOCKER_HOST=ssh:// too', async () => {
    const root = tempDeploymentRoot('ctx');
    const result = await runBin('image-exec', ['true'], {
      env: { ...envFor(root, 'ctx', BUSYBOX_IMAGE), ...env({ DOCKER_HOST: `ssh://${sshd.user}@127.0.0.1:${sshd.port}`, IMAGEWRIGHT_SSH_COMMAND: sshd.sshCommandUnknownHost }) },
    });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`cannot reach the Docker Engine at ssh://${sshd.user}@127.0.0.1:${sshd.port} (DOCKER_HOST): ssh exited 255: Host key verification failed.`);
    rmSync(root, { recursive: true, force: true });
  });
});
