import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxImage, BUSYBOX_IMAGE } from './busybox';
import { ensureEngine } from './engine';
import { startRegistry, type Registry } from './registry';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[]): Promise<Run> {
  return new Promise((res) => {
    execFile(file, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      res({ code, stdout, stderr });
    });
  });
}

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

/** A skopeo/containers authfile: credentials in a 0600 file, never on argv. */
function authFile(dir: string, host: string, user: string, pass: string): string {
  const file = join(dir, `auth-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${pass}`).toString('base64') } } }), { mode: 0o600 });
  return file;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((res) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      res(true);
    });
    socket.once('error', () => res(false));
  });
}

function canListen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const server = createServer();
    server.once('error', () => res(false));
    server.listen(port, '127.0.0.1', () => server.close(() => res(true)));
  });
}

describe('startRegistry', () => {
  let registry: Registry;
  let scratch: string;

  beforeAll(async () => {
    await busyboxImage(await ensureEngine());
    scratch = mkdtempSync(join(tmpdir(), 'imagewright-registry-test-'));
    registry = await startRegistry();
  });

  afterAll(async () => {
    await registry?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('serves on a loopback port with a random password stored only as bcrypt', () => {
    expect(registry.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(Number(registry.host.split(':')[1])).toBeGreaterThan(0);
    expect(registry.password.length).toBeGreaterThanOrEqual(16);
    expect(existsSync(registry.dataDir)).toBe(true);
  });

  it('refuses unauthenticated and wrong-password requests, accepts the right one', async () => {
    const anon = await fetch(`http://${registry.host}/v2/`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toMatch(/^Basic /);

    const wrong = await fetch(`http://${registry.host}/v2/`, { headers: { authorization: basic(registry.username, `${registry.password}x`) } });
    expect(wrong.status).toBe(401);

    const right = await fetch(`http://${registry.host}/v2/`, { headers: { authorization: basic(registry.username, registry.password) } });
    expect(right.status).toBe(200);
  });

  it('takes a push with skopeo and shows the tag on inspect', async () => {
    const auth = authFile(scratch, registry.host, registry.username, registry.password);
    const ref = `docker://${registry.host}/test/busybox:1`;
    const copy = await run('skopeo', ['copy', '--dest-tls-verify=false', '--dest-authfile', auth, `docker-daemon:${BUSYBOX_IMAGE}`, ref]);
    expect(copy.code, copy.stderr).toBe(0);

    const inspect = await run('skopeo', ['inspect', '--tls-verify=false', '--authfile', auth, ref]);
    expect(inspect.code, inspect.stderr).toBe(0);
    const info = JSON.parse(inspect.stdout) as { Name: string; RepoTags: string[]; Digest: string };
    expect(info.Name).toBe(`${registry.host}/test/busybox`);
    expect(info.RepoTags).toContain('1');
    expect(info.Digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    // The push landed in the registry's own storage.
    expect(existsSync(join(registry.dataDir, 'docker', 'registry', 'v2', 'repositories', 'test', 'busybox'))).toBe(true);
  });

  it('has deletes enabled', async () => {
    const auth = { authorization: basic(registry.username, registry.password) };
    const head = await fetch(`http://${registry.host}/v2/test/busybox/manifests/1`, {
      method: 'HEAD',
      headers: { ...auth, accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' },
    });
    expect(head.status).toBe(200);
    const digest = head.headers.get('docker-content-digest');
    expect(digest).toMatch(/^sha256:/);
    const del = await fetch(`http://${registry.host}/v2/test/busybox/manifests/${digest}`, { method: 'DELETE', headers: auth });
    expect(del.status).toBe(202);
  });

  it('refuses skopeo with a wrong password', async () => {
    const auth = authFile(scratch, registry.host, registry.username, 'not-the-password');
    const inspect = await run('skopeo', ['inspect', '--tls-verify=false', '--authfile', auth, `docker://${registry.host}/test/busybox:1`]);
    expect(inspect.code).not.toBe(0);
    expect(inspect.stderr).toMatch(/unauthorized|authentication required/i);
  });

  it('gives each registry its own port', async () => {
    const other = await startRegistry({ username: 'bob', password: 'pa ss:w$rd' });
    try {
      expect(other.host).not.toBe(registry.host);
      expect(other.username).toBe('bob');
      const ok = await fetch(`http://${other.host}/v2/`, { headers: { authorization: basic('bob', 'pa ss:w$rd') } });
      expect(ok.status).toBe(200);
    } finally {
      await other.stop();
    }
  });

  it('stop() frees the port and removes its files', async () => {
    const temp = await startRegistry();
    const port = Number(temp.host.split(':')[1]);
    const dataDir = temp.dataDir;
    expect(await canConnect(port)).toBe(true);
    await temp.stop();
    expect(await canConnect(port)).toBe(false);
    expect(await canListen(port)).toBe(true);
    expect(existsSync(dataDir)).toBe(false);
    await temp.stop(); // idempotent
  });

  it('says to run tools/bootstrap when the registry binary is missing', async () => {
    await expect(startRegistry({ binary: join(scratch, 'no-such-docker-registry') })).rejects.toThrow(/tools\/bootstrap/);
  });

  it('never writes the password in clear text', () => {
    const htpasswd = readFileSync(join(registry.dataDir, '..', 'htpasswd'), 'utf8');
    expect(htpasswd).toMatch(new RegExp(`^${registry.username}:\\$2y\\$`));
    expect(htpasswd).not.toContain(registry.password);
  });
});
