import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUSYBOX_IMAGE, busyboxImage, ensureEngine, runBin, skopeo, startEcrFixture, startRegistryFixture, type Ecr, type EcrFixture, type PlainRegistryFixture, type Registry } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The built bin against a real registry (docker-registry with htpasswd); skopeo, reading the
// config.json image-login wrote, is the independent check that the stored credential works.
let fx: PlainRegistryFixture;
let registry: Registry;
let pushed: string;
const RUN = `login${process.pid}`;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const emptyConfig = () => mkdtempSync(join(tmpdir(), 'imagewright-docker-config-'));
/** IMAGEWRIGHT_ROOT, DEPLOYMENT_NAME (testdep), REGISTRY; DOCKER_CONFIG `dockerConfig`. */
const envFor = (dockerConfig: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ ...fx.env, DOCKER_CONFIG: dockerConfig, ...extra });
const login = (args: string[], env: NodeJS.ProcessEnv, input?: string) => runBin('image-login', args, { env, input });
const usage = (r: { code: number; stdout: string; stderr: string }, pattern: RegExp) => {
  expect(r).toMatchObject({ code: 2, stdout: '' });
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
};

/** An HTTP server answering GET /v2/ with `status`: a registry that is down or refuses everyone. */
async function answering(status: number): Promise<{ host: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end('{"errors":[{"code":"UNAVAILABLE","message":"down"}]}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

beforeAll(async () => {
  await busyboxImage(await ensureEngine());
  fx = await startRegistryFixture();
  registry = fx.registry;
  pushed = `${registry.host}/${RUN}/busybox:1`;
  skopeo.push(fx.loggedIn, BUSYBOX_IMAGE, pushed);
});
afterAll(() => fx?.stop());

describe('image-login to a registry (REGISTRY)', () => {
  it('checks --username/--password-stdin, stores them in config.json (0600), prints the registry and user; skopeo logs in with it', async () => {
    const dir = emptyConfig();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ currentContext: 'default', auths: { 'other.example': { auth: b64('o:p') } } }));
    const r = await login(['--username', registry.username, '--password-stdin'], envFor(dir), `${registry.password}\n`);
    expect(r).toEqual({ code: 0, stdout: `Login Succeeded: ${registry.host} as ${registry.username}\n`, stderr: `written   ${join(dir, 'config.json')}: credential for ${registry.host}\n` });
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(config).toEqual({ currentContext: 'default', auths: { 'other.example': { auth: b64('o:p') }, [registry.host]: { auth: b64(`${registry.username}:${registry.password}`) } } });
    expect(statSync(join(dir, 'config.json')).mode & 0o777).toBe(0o600);
    expect(skopeo.tags(dir, `${registry.host}/${RUN}/busybox`)).toEqual(['1']);
  });

  it('--json prints {registry, identity}; a \\r\\n line ending is dropped too', async () => {
    const dir = emptyConfig();
    const r = await login(['--json', '-u', registry.username, '--password-stdin'], envFor(dir), `${registry.password}\r\n`);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ registry: registry.host, identity: registry.username });
    expect(skopeo.tags(dir, `${registry.host}/${RUN}/busybox`)).toEqual(['1']);
  });

  it('a wrong password: exit 1, one line naming the registry and HTTP 401; nothing stored', async () => {
    const dir = emptyConfig();
    const r = await login(['--username', registry.username, '--password-stdin'], envFor(dir), 'not-the-password\n');
    expect(r).toEqual({ code: 1, stdout: '', stderr: `image-login: registry ${registry.host} refused the credentials of "${registry.username}": HTTP 401 Unauthorized\n` });
    expect(existsSync(join(dir, 'config.json'))).toBe(false);
  });

  it('a registry answering 5xx or 403, or none listening: exit 1, one line with the status; nothing stored', async () => {
    for (const status of [503, 403]) {
      const { host, server } = await answering(status);
      try {
        const dir = emptyConfig();
        const r = await login(['--username', 'u', '--password-stdin'], envFor(dir, { REGISTRY: host }), 'pw\n');
        expect(r.code).toBe(1);
        expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
        expect(r.stderr).toContain(`registry ${host}`);
        expect(r.stderr).toContain(`HTTP ${status}`);
        expect(existsSync(join(dir, 'config.json'))).toBe(false);
      } finally {
        server.close();
      }
    }
    const { host, server } = await answering(200);
    server.close();
    const refused = await login(['--username', 'u', '--password-stdin'], envFor(emptyConfig(), { REGISTRY: host }), 'pw\n');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`^image-login: cannot reach registry ${host} .*ECONNREFUSED\\n$`));
  });

  it('--password / -p are refused (exit 2) pointing to --password-stdin, and the value is not echoed', async () => {
    const dir = emptyConfig();
    for (const args of [['--username', 'u', '--password', 'hunter2-secret'], ['-u', 'u', '-p', 'hunter2-secret'], ['--password=hunter2-secret']]) {
      const r = await login(args, envFor(dir));
      usage(r, /^image-login: --password is refused: .*--password-stdin\n$/);
      expect(r.stderr).not.toContain('hunter2');
    }
    expect(existsSync(join(dir, 'config.json'))).toBe(false);
  });

  it('bad input is exit 2 with nothing stored: no username, no --password-stdin, empty or two-line stdin, no registry', async () => {
    const dir = emptyConfig();
    usage(await login(['--password-stdin'], envFor(dir), 'pw\n'), /--username is missing/);
    usage(await login(['--username', 'u'], envFor(dir)), /--password-stdin is missing/);
    usage(await login(['--username', 'u', '--password-stdin'], envFor(dir), ''), /standard input is empty/);
    usage(await login(['--username', 'u', '--password-stdin'], envFor(dir), 'one\ntwo\n'), /more than one line/);
    usage(await login(['--username', 'a:b', '--password-stdin'], envFor(dir), 'pw\n'), /--username "a:b"/);
    usage(await login(['--username', 'u', '--password-stdin'], envFor(dir, { REGISTRY: '' }), 'pw\n'), /no registry is configured/);
    expect(existsSync(join(dir, 'config.json'))).toBe(false);
  });

  it('with a credential helper configured: the secret goes to `docker-credential-<helper> store` on stdin, never argv or config.json', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'imagewright-helper-'));
    const helper = join(bin, 'docker-credential-imwlogin');
    writeFileSync(helper, `#!/bin/sh\nprintf '%s\\n' "$*" >> "${bin}/argv"\ncat > "${bin}/stdin"\n`);
    chmodSync(helper, 0o755);
    const dir = emptyConfig();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ credsStore: 'imwlogin' }));
    const r = await login(['--username', registry.username, '--password-stdin'], envFor(dir, { PATH: `${bin}:${process.env.PATH}` }), `${registry.password}\n`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('(secret in docker-credential-imwlogin)');
    expect(readFileSync(join(bin, 'argv'), 'utf8')).toBe('store\n');
    expect(JSON.parse(readFileSync(join(bin, 'stdin'), 'utf8'))).toEqual({ ServerURL: registry.host, Username: registry.username, Secret: registry.password });
    const config = readFileSync(join(dir, 'config.json'), 'utf8');
    expect(JSON.parse(config)).toEqual({ credsStore: 'imwlogin', auths: { [registry.host]: {} } });
    expect(config).not.toContain(registry.password);
  });
});

describe('image-login to ECR (the AWS stand-in, the unmodified SDK)', () => {
  let ecrFx: EcrFixture;
  let ecrRegistry: Registry;
  let ecr: Ecr;
  beforeAll(async () => {
    ecrFx = await startEcrFixture();
    ({ registry: ecrRegistry, ecr } = ecrFx);
    skopeo.push(ecrFx.loggedIn, BUSYBOX_IMAGE, `${ecrRegistry.host}/${RUN}/ecr:1`);
  });
  afterAll(() => ecrFx?.stop());
  const ecrEnv = (dir: string, extra: NodeJS.ProcessEnv = {}) => ({ ...ecrFx.env, REGISTRY: '', DOCKER_CONFIG: dir, ...extra });

  it('stores AWS/<token> for the token host after assuming ADMIN_ARN; prints the assumed identity; skopeo logs in with it', async () => {
    const dir = emptyConfig();
    const r = await login(['--json'], ecrEnv(dir));
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { registry: string; identity: string };
    expect(result.registry).toBe(ecrRegistry.host);
    expect(result.identity).toContain(`arn:aws:`);
    expect(result.identity).toContain(`${ecr.accountId}`);
    expect(result.identity).toContain('admin-role');
    const auths = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).auths;
    expect(Buffer.from(auths[ecrRegistry.host].auth, 'base64').toString()).toBe(`AWS:${ecrRegistry.password}`);
    expect(skopeo.tags(dir, `${ecrRegistry.host}/${RUN}/ecr`)).toEqual(['1']);
    expect(ecr.calls.map((c) => c.operation)).toEqual(expect.arrayContaining(['AssumeRole', 'GetAuthorizationToken']));
    expect(r.stderr).not.toMatch(/NodeVersionSupportWarning|AWS SDK/);

    const plain = await login([], ecrEnv(emptyConfig()));
    expect(plain.stdout).toBe(`Login Succeeded: ${ecrRegistry.host} as ${result.identity}\n`);
  });

  it('refuses --username/--password-stdin for ECR (exit 2), and bad AWS keys are exit 1 naming the AWS error', async () => {
    const dir = emptyConfig();
    usage(await login(['--username', 'AWS', '--password-stdin'], ecrEnv(dir), 'x\n'), /are for REGISTRY logins/);
    const bad = await login([], ecrEnv(dir, { AWS_SECRET_ACCESS_KEY: 'wrong-secret-key-value' }));
    expect(bad.code).toBe(1);
    expect(bad.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/SignatureDoesNotMatch|InvalidClientTokenId|signature/i);
    expect(bad.stderr).not.toContain('wrong-secret-key-value');
    expect(existsSync(join(dir, 'config.json'))).toBe(false);
  });
});
