import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImagewrightError } from '@imagewright/core';
import { afterAll, describe, expect, it } from 'vitest';
import { connectEngine, engineAddress } from './client';
import { chooseContext, contextId, contextNames, contextTls, readContext } from './context';
import { usageThrown as thrown } from '@imagewright/core/test-support';

// The context store read without the docker CLI: hand-made stores in the CLI's exact layout (the
// same layout made by the real `docker context create` is tested in packages/testing's
// contexts.test.ts, against the TLS and ssh endpoints).

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

interface Stored {
  host?: string;
  skip?: boolean;
  tls?: Partial<Record<'ca.pem' | 'cert.pem' | 'key.pem', string>>;
}

/** A DOCKER_CONFIG as `docker context create`/`use` leave it; `config` is config.json's text or value. */
function dockerConfig(contexts: Record<string, Stored> = {}, config?: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'imagewright-contexts-'));
  temps.push(dir);
  for (const [name, stored] of Object.entries(contexts)) {
    const id = createHash('sha256').update(name).digest('hex');
    mkdirSync(join(dir, 'contexts', 'meta', id), { recursive: true });
    const docker = { ...(stored.host === undefined ? {} : { Host: stored.host }), SkipTLSVerify: stored.skip ?? false };
    writeFileSync(join(dir, 'contexts', 'meta', id, 'meta.json'), JSON.stringify({ Name: name, Metadata: {}, Endpoints: { docker } }));
    if (stored.tls) {
      mkdirSync(join(dir, 'contexts', 'tls', id, 'docker'), { recursive: true });
      for (const [file, text] of Object.entries(stored.tls)) writeFileSync(join(dir, 'contexts', 'tls', id, 'docker', file), text);
    }
  }
  if (config !== undefined) writeFileSync(join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  return dir;
}


const TLS = { 'ca.pem': 'CA PEM', 'cert.pem': 'CERT PEM', 'key.pem': 'KEY PEM' };

describe('contextId', () => {
  it("is the sha256 hex of the name: the store folders the docker CLI uses", () => {
    // Both from the docker CLI 28 itself: its store after `context create remote`, and its error
    // for DOCKER_CONTEXT=nope ("open …/contexts/meta/ca3704…/meta.json: no such file").
    expect(contextId('remote')).toBe('b71199ebd070b36beab7317920c2c2f1d777df8d05e5527d8458fda57cb17a7a');
    expect(contextId('nope')).toBe('ca3704aa0b06f5954c79ee837faa152d84d6b2d42838f0637a15eda8337dbdce');
  });
});

describe('chooseContext: the docker CLI precedence', () => {
  it('is the default context when nothing chooses one (no config.json, or currentContext empty or absent)', () => {
    expect(chooseContext({ DOCKER_CONFIG: dockerConfig() })).toEqual({ name: 'default' });
    expect(chooseContext({ DOCKER_CONFIG: dockerConfig({}, { currentContext: '' }) })).toEqual({ name: 'default' });
    expect(chooseContext({ DOCKER_CONFIG: dockerConfig({}, { auths: {} }) })).toEqual({ name: 'default' });
  });

  it("takes currentContext from $DOCKER_CONFIG/config.json, naming the file it came from", () => {
    const dir = dockerConfig({}, { auths: {}, currentContext: 'remote' });
    expect(chooseContext({ DOCKER_CONFIG: dir })).toEqual({ name: 'remote', from: `currentContext in ${join(dir, 'config.json')}` });
  });

  it('lets DOCKER_CONTEXT override currentContext (an empty one counts as unset)', () => {
    const DOCKER_CONFIG = dockerConfig({}, { currentContext: 'remote' });
    expect(chooseContext({ DOCKER_CONFIG, DOCKER_CONTEXT: 'other' })).toEqual({ name: 'other', from: 'DOCKER_CONTEXT' });
    expect(chooseContext({ DOCKER_CONFIG, DOCKER_CONTEXT: '' }).name).toBe('remote');
    // "default" is a context name like any other here; it means the built-in one.
    expect(chooseContext({ DOCKER_CONFIG, DOCKER_CONTEXT: 'default' })).toEqual({ name: 'default', from: 'DOCKER_CONTEXT' });
  });

  it('lets DOCKER_HOST override both: the default context (an empty one counts as unset)', () => {
    const DOCKER_CONFIG = dockerConfig({}, { currentContext: 'remote' });
    expect(chooseContext({ DOCKER_CONFIG, DOCKER_CONTEXT: 'other', DOCKER_HOST: 'tcp://h:1' })).toEqual({ name: 'default', from: 'DOCKER_HOST' });
    expect(chooseContext({ DOCKER_CONFIG, DOCKER_CONTEXT: 'other', DOCKER_HOST: '' }).name).toBe('other');
  });

  it('reads config.json only when it decides: DOCKER_HOST or DOCKER_CONTEXT make a broken one irrelevant', () => {
    const DOCKER_CONFIG = dockerConfig({}, '{ not json');
    expect(chooseContext({ DOCKER_CONFIG, DOCKER_HOST: 'unix:///x.sock' }).name).toBe('default');
    expect(chooseContext({ DOCKER_CONFIG, DOCKER_CONTEXT: 'other' }).name).toBe('other');
  });

  it('refuses a malformed config.json with one line naming the file, exit 2', () => {
    const dir = dockerConfig({}, '{\n  "currentContext": "remote",\n  oops\n}');
    const e = thrown(() => chooseContext({ DOCKER_CONFIG: dir }));
    expect(e.message).toContain(`${join(dir, 'config.json')}: not valid JSON`);
    const typed = dockerConfig({}, { currentContext: 42 });
    expect(thrown(() => chooseContext({ DOCKER_CONFIG: typed })).message).toContain('currentContext');
  });
});

describe('readContext', () => {
  it("reads the docker endpoint of meta.json and locates the context's TLS folder", () => {
    const dir = dockerConfig({ remote: { host: 'tcp://10.0.0.9:2376', skip: true, tls: TLS } });
    const context = readContext({ name: 'remote', from: 'DOCKER_CONTEXT' }, { DOCKER_CONFIG: dir });
    expect(context).toEqual({
      name: 'remote',
      host: 'tcp://10.0.0.9:2376',
      skipTLSVerify: true,
      tlsDir: join(dir, 'contexts', 'tls', contextId('remote'), 'docker'),
    });
    expect(contextTls(context)).toEqual({ ca: Buffer.from('CA PEM'), cert: Buffer.from('CERT PEM'), key: Buffer.from('KEY PEM') });
  });

  it('has no TLS material when the context was given none, and only the files it was given', () => {
    const dir = dockerConfig({ plain: { host: 'tcp://h:2375' }, caonly: { host: 'tcp://h:2376', tls: { 'ca.pem': 'CA' } } });
    expect(contextTls(readContext({ name: 'plain' }, { DOCKER_CONFIG: dir }))).toBeUndefined();
    expect(contextTls(readContext({ name: 'caonly' }, { DOCKER_CONFIG: dir }))).toEqual({ ca: Buffer.from('CA'), cert: undefined, key: undefined });
  });

  it('refuses an unknown context: one line naming it, where it came from, the store and the contexts that exist', () => {
    const dir = dockerConfig({ remote: { host: 'tcp://h:1' }, 'a-ctx': { host: 'unix:///a.sock' } });
    const e = thrown(() => readContext({ name: 'nosuch', from: 'DOCKER_CONTEXT' }, { DOCKER_CONFIG: dir }));
    expect(e.message).toBe(`context "nosuch" (from DOCKER_CONTEXT) not found in ${join(dir, 'contexts')}: allowed default, a-ctx, remote`);
    expect(contextNames({ DOCKER_CONFIG: dockerConfig() })).toEqual(['default']);
  });

  it('refuses a malformed meta.json or one without a docker endpoint: one line naming the file', () => {
    const dir = dockerConfig({ broken: { host: 'tcp://h:1' }, nodocker: { host: 'tcp://h:1' } });
    const broken = join(dir, 'contexts', 'meta', contextId('broken'), 'meta.json');
    writeFileSync(broken, '{"Name":"broken",\n"Endpoints":');
    expect(thrown(() => readContext({ name: 'broken', from: 'DOCKER_CONTEXT' }, { DOCKER_CONFIG: dir })).message).toContain(
      `context "broken" (from DOCKER_CONTEXT): ${broken} is not valid JSON`,
    );
    const nodocker = join(dir, 'contexts', 'meta', contextId('nodocker'), 'meta.json');
    writeFileSync(nodocker, JSON.stringify({ Name: 'nodocker', Endpoints: { kubernetes: {} } }));
    expect(thrown(() => readContext({ name: 'nodocker' }, { DOCKER_CONFIG: dir })).message).toContain('has no docker endpoint');
    // The broken ones are left out of the list of existing contexts, not fatal to it.
    expect(contextNames({ DOCKER_CONFIG: dir })).toEqual(['default', 'nodocker']);
  });
});

describe('engineAddress with a context', () => {
  const viaContext = (contexts: Record<string, Stored>, name: string, env: NodeJS.ProcessEnv = {}) =>
    engineAddress({ DOCKER_CONFIG: dockerConfig(contexts), DOCKER_CONTEXT: name, ...env });

  it('tcp:// with TLS material is HTTPS with the context\'s CA and client certificate', () => {
    const address = viaContext({ remote: { host: 'tcp://10.0.0.9:2376', tls: TLS } }, 'remote');
    expect(address.url).toBe('tcp://10.0.0.9:2376');
    expect(address.source).toBe('context "remote", from DOCKER_CONTEXT');
    expect(address.modem).toEqual({ protocol: 'https', host: '10.0.0.9', port: '2376', ca: Buffer.from('CA PEM'), cert: Buffer.from('CERT PEM'), key: Buffer.from('KEY PEM') });
  });

  it('tcp:// without TLS material is plain HTTP, whatever DOCKER_TLS_VERIFY and DOCKER_CERT_PATH say', () => {
    const address = viaContext({ plain: { host: 'tcp://10.0.0.9' } }, 'plain', { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/nonexistent' });
    expect(address.modem).toEqual({ protocol: 'http', host: '10.0.0.9', port: '2375' });
  });

  it('a CA alone verifies the server without a client certificate; half a key pair is not sent', () => {
    expect(viaContext({ c: { host: 'tcp://h', tls: { 'ca.pem': 'CA' } } }, 'c').modem).toEqual({ protocol: 'https', host: 'h', port: '2376', ca: Buffer.from('CA') });
    expect(viaContext({ c: { host: 'tcp://h:1', tls: { 'cert.pem': 'CERT' } } }, 'c').modem).toEqual({ protocol: 'https', host: 'h', port: '1' });
  });

  it('SkipTLSVerify is HTTPS through an agent that does not verify the server (client certificate still sent)', () => {
    const modem = viaContext({ insecure: { host: 'tcp://h:2376', skip: true, tls: TLS } }, 'insecure').modem as { protocol: string; agent: HttpsAgent };
    expect(modem.protocol).toBe('https');
    expect(modem.agent).toBeInstanceOf(HttpsAgent);
    expect(modem.agent.options).toMatchObject({ rejectUnauthorized: false, cert: Buffer.from('CERT PEM'), key: Buffer.from('KEY PEM') });
    // With no material at all, skipping verification still means TLS, as in the CLI.
    expect(viaContext({ bare: { host: 'tcp://h:2376', skip: true } }, 'bare').modem).toMatchObject({ protocol: 'https' });
  });

  it('unix:// and ssh:// contexts go through the same paths as DOCKER_HOST; no Host means the local socket', () => {
    expect(viaContext({ sock: { host: 'unix:///run/other.sock', tls: TLS } }, 'sock').modem).toEqual({ socketPath: '/run/other.sock' });
    expect(viaContext({ empty: {} }, 'empty')).toMatchObject({ url: 'unix:///var/run/docker.sock', modem: { socketPath: '/var/run/docker.sock' } });
    const ssh = viaContext({ build: { host: 'ssh://deploy@build.example:2222' } }, 'build');
    expect(ssh.url).toBe('ssh://deploy@build.example:2222');
    expect(ssh.modem).toMatchObject({ protocol: 'http', host: 'build.example' });
    expect((ssh.modem as { agent?: unknown }).agent).toBeInstanceOf(HttpAgent);
  });

  it('DOCKER_HOST overrides DOCKER_CONTEXT and currentContext; DOCKER_CONTEXT=default is the built-in context', () => {
    const DOCKER_CONFIG = dockerConfig({ remote: { host: 'tcp://10.0.0.9:2376' } }, { currentContext: 'remote' });
    expect(engineAddress({ DOCKER_CONFIG })).toMatchObject({ url: 'tcp://10.0.0.9:2376', source: `context "remote", from currentContext in ${join(DOCKER_CONFIG, 'config.json')}` });
    expect(engineAddress({ DOCKER_CONFIG, DOCKER_CONTEXT: 'remote', DOCKER_HOST: 'unix:///x.sock' })).toEqual({ url: 'unix:///x.sock', source: 'DOCKER_HOST', modem: { socketPath: '/x.sock' } });
    expect(engineAddress({ DOCKER_CONFIG, DOCKER_CONTEXT: 'default' })).toEqual({
      url: 'unix:///var/run/docker.sock',
      source: 'context "default", from DOCKER_CONTEXT',
      modem: { socketPath: '/var/run/docker.sock' },
    });
  });

  it("refuses a context's invalid host naming the context, not DOCKER_HOST", () => {
    const e = thrown(() => viaContext({ odd: { host: 'npipe:////./pipe/docker_engine' } }, 'odd'));
    expect(e.message).toBe('context "odd" (from DOCKER_CONTEXT) host npipe:////./pipe/docker_engine is invalid: allowed unix:///PATH, tcp://HOST:PORT, ssh://[USER@]HOST[:PORT]');
  });

  it('refuses an unknown currentContext naming config.json', () => {
    const DOCKER_CONFIG = dockerConfig({}, { currentContext: 'gone' });
    expect(thrown(() => engineAddress({ DOCKER_CONFIG })).message).toContain(`context "gone" (from currentContext in ${join(DOCKER_CONFIG, 'config.json')}) not found`);
  });
});

describe('connectEngine with a context', () => {
  it('an unreachable engine is one line naming the address and the context that chose it', async () => {
    const error = await connectEngine({ DOCKER_CONFIG: dockerConfig({ down: { host: 'tcp://127.0.0.1:1' } }), DOCKER_CONTEXT: 'down' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ImagewrightError);
    expect((error as ImagewrightError).exitCode).toBe(2);
    expect((error as Error).message).toBe('cannot reach the Docker Engine at tcp://127.0.0.1:1 (context "down", from DOCKER_CONTEXT): ECONNREFUSED');
  });

  it('reaches the real engine through a unix:// context chosen by currentContext', async () => {
    const DOCKER_CONFIG = dockerConfig({ local: { host: 'unix:///var/run/docker.sock' } }, { currentContext: 'local' });
    const engine = await connectEngine({ DOCKER_CONFIG });
    expect((await engine.version()).ApiVersion).toMatch(/^\d+\.\d+$/);
  });
});
