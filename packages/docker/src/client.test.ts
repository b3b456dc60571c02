import { Agent } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImagewrightError } from '@imagewright/core';
import { afterAll, describe, expect, it } from 'vitest';
import { connectEngine, engineAddress } from './client';
import { sshArgv, sshFailure } from './ssh';
import { thrown } from '@imagewright/core/test-support';

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** A DOCKER_CERT_PATH-like folder with the given files, each holding a distinct text. */
function certDir(names: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'imagewright-certs-'));
  temps.push(dir);
  for (const name of names) writeFileSync(join(dir, name), `-----PEM ${name} ${Math.random()}-----\n`);
  return dir;
}


/** An empty DOCKER_CONFIG: no currentContext of the user's may steer these tests. */
function noConfig(): string {
  const dir = mkdtempSync(join(tmpdir(), 'imagewright-noconfig-'));
  temps.push(dir);
  return dir;
}

describe('engineAddress', () => {
  it('defaults to the local unix socket when DOCKER_HOST is unset or empty', () => {
    const DOCKER_CONFIG = noConfig();
    for (const env of [{ DOCKER_CONFIG }, { DOCKER_HOST: '', DOCKER_CONFIG }]) {
      expect(engineAddress(env)).toEqual({ url: 'unix:///var/run/docker.sock', source: 'default, DOCKER_HOST unset', modem: { socketPath: '/var/run/docker.sock' } });
    }
  });

  it('reads unix:// paths', () => {
    expect(engineAddress({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock' })).toEqual({
      url: 'unix:///run/user/1000/docker.sock',
      source: 'DOCKER_HOST',
      modem: { socketPath: '/run/user/1000/docker.sock' },
    });
  });

  it('reads tcp:// without TLS as plain HTTP, port 2375 by default', () => {
    expect(engineAddress({ DOCKER_HOST: 'tcp://10.1.2.3:2380' })).toEqual({
      url: 'tcp://10.1.2.3:2380',
      source: 'DOCKER_HOST',
      modem: { protocol: 'http', host: '10.1.2.3', port: '2380' },
    });
    expect(engineAddress({ DOCKER_HOST: 'tcp://docker.example' }).modem).toEqual({ protocol: 'http', host: 'docker.example', port: '2375' });
  });

  it('reads tcp:// with DOCKER_TLS_VERIFY=1 as HTTPS with the certs of DOCKER_CERT_PATH', () => {
    const dir = certDir(['ca.pem', 'cert.pem', 'key.pem']);
    const address = engineAddress({ DOCKER_HOST: 'tcp://docker.example:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: dir });
    const modem = address.modem as Record<string, unknown>;
    expect(address.url).toBe('tcp://docker.example:2376');
    expect(modem).toMatchObject({ protocol: 'https', host: 'docker.example', port: '2376' });
    for (const [key, file] of [['ca', 'ca.pem'], ['cert', 'cert.pem'], ['key', 'key.pem']]) {
      expect(String(modem[key])).toBe(readFileSync(join(dir, file), 'utf8'));
    }
    // TLS changes the default port too.
    expect(engineAddress({ DOCKER_HOST: 'tcp://docker.example', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: dir }).modem.port).toBe('2376');
  });

  it('refuses TLS with a missing cert, exit 2 naming DOCKER_CERT_PATH and the file', () => {
    const dir = certDir(['ca.pem', 'key.pem']);
    const e = thrown(() => engineAddress({ DOCKER_HOST: 'tcp://docker.example:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: dir }));
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain(`DOCKER_CERT_PATH=${dir}`);
    expect(e.message).toContain('cert.pem');
  });

  it('reads ssh://user@host:port as HTTP over the system ssh (an agent of its own)', () => {
    const address = engineAddress({ DOCKER_HOST: 'ssh://deploy@build.example:2222' });
    expect(address.url).toBe('ssh://deploy@build.example:2222');
    expect(address.modem).toMatchObject({ protocol: 'http', host: 'build.example' });
    expect((address.modem as { agent?: unknown }).agent).toBeInstanceOf(Agent);
  });

  it('builds the docker CLI ssh command line: user, port, no TTY, no prompts, dial-stdio', () => {
    expect(sshArgv({ host: 'build.example', port: '2222', user: 'deploy' }, {})).toEqual([
      'ssh', '-T', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=30', '-l', 'deploy', '-p', '2222', '--', 'build.example', 'docker', 'system', 'dial-stdio',
    ]);
    expect(sshArgv({ host: 'h' }, {})).toEqual(['ssh', '-T', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=30', '--', 'h', 'docker', 'system', 'dial-stdio']);
    // IMAGEWRIGHT_SSH_COMMAND replaces ssh, its own words split by sh, ours passed intact.
    const custom = sshArgv({ host: 'h' }, { IMAGEWRIGHT_SSH_COMMAND: 'ssh -F /etc/x y' });
    expect(custom.slice(0, 4)).toEqual(['sh', '-c', 'ssh -F /etc/x y "$@"', 'ssh']);
    expect(custom.slice(4)).toEqual(['-T', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=30', '--', 'h', 'docker', 'system', 'dial-stdio']);
  });

  it("words ssh's failure with its last line, not the lines before it or a bare code", () => {
    const stderr = 'No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\r\nHost key verification failed.\r\n';
    expect(sshFailure(255, stderr)).toBe('ssh exited 255: Host key verification failed.');
    expect(sshFailure(127, 'bash: line 1: docker: command not found\n\n')).toBe('ssh exited 127: bash: line 1: docker: command not found');
    expect(sshFailure(255, '')).toBe('ssh exited 255');
  });

  it('refuses other schemes and non-URLs with exit 2 naming DOCKER_HOST', () => {
    for (const host of ['ftp://docker.example', 'npipe:////./pipe/docker_engine', 'not a url', 'localhost:2375']) {
      const e = thrown(() => engineAddress({ DOCKER_HOST: host }));
      expect(e.exitCode).toBe(2);
      expect(e.message).toContain(`DOCKER_HOST=${host}`);
      expect(e.message).toContain('unix://');
    }
  });
});

describe('connectEngine', () => {
  for (const host of ['unix:///nonexistent.sock', 'tcp://127.0.0.1:1']) {
    it(`refuses an unreachable engine at ${host} with exit 2 naming it`, async () => {
      const error = await connectEngine({ DOCKER_HOST: host }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ImagewrightError);
      expect((error as ImagewrightError).exitCode).toBe(2);
      expect((error as ImagewrightError).message).toContain(host);
      expect((error as ImagewrightError).message).toContain('DOCKER_HOST');
    });
  }

  it('connects to the running engine at the default socket', async () => {
    const engine = await connectEngine({ DOCKER_CONFIG: noConfig() });
    const version = await engine.version();
    expect(version.ApiVersion).toMatch(/^\d+\.\d+$/);
  });
});
