import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { registryAuth, registryOf } from './auth';

const configDir = (config: object) => {
  const dir = mkdtempSync(join(tmpdir(), 'imagewright-auth-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
};
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('registryOf', () => {
  it.each([
    ['busybox', 'docker.io'],
    ['library/busybox:1', 'docker.io'],
    ['localhost/x', 'localhost'],
    ['127.0.0.1:5000/a/b:1', '127.0.0.1:5000'],
    ['123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:tag', '123456789012.dkr.ecr.us-east-1.amazonaws.com'],
  ])('%s → %s', (ref, host) => expect(registryOf(ref)).toBe(host));
});

describe('registryAuth', () => {
  it('decodes auths[host].auth, with a colon inside the password kept', () => {
    const dir = configDir({ auths: { 'reg.example:5000': { auth: b64('me:pa:ss') } } });
    expect(registryAuth('reg.example:5000/x:1', { DOCKER_CONFIG: dir })).toEqual({ username: 'me', password: 'pa:ss', serveraddress: 'reg.example:5000' });
  });

  it('finds Docker Hub credentials under the CLI key https://index.docker.io/v1/', () => {
    const dir = configDir({ auths: { 'https://index.docker.io/v1/': { auth: b64('hub:pw') } } });
    expect(registryAuth('busybox', { DOCKER_CONFIG: dir })?.username).toBe('hub');
  });

  it('is undefined without a config or without an entry (anonymous pull)', () => {
    expect(registryAuth('x/y', { DOCKER_CONFIG: mkdtempSync(join(tmpdir(), 'imagewright-none-')) })).toBeUndefined();
    expect(registryAuth('reg.example/x', { DOCKER_CONFIG: configDir({ auths: {} }) })).toBeUndefined();
  });

  it('asks a credential helper, giving the host on stdin (never argv)', () => {
    const bin = mkdtempSync(join(tmpdir(), 'imagewright-helper-'));
    const helper = join(bin, 'docker-credential-imwtest');
    // Answers only when argv is exactly "get" and stdin is the host.
    writeFileSync(helper, '#!/bin/sh\n[ "$*" = get ] || exit 3\nread host\n[ "$host" = reg.example ] || exit 4\necho \'{"ServerURL":"reg.example","Username":"u","Secret":"s3cret"}\'\n');
    chmodSync(helper, 0o755);
    const dir = configDir({ credHelpers: { 'reg.example': 'imwtest' } });
    expect(registryAuth('reg.example/x', { DOCKER_CONFIG: dir, PATH: `${bin}:${process.env.PATH}` })).toEqual({
      username: 'u',
      password: 's3cret',
      serveraddress: 'reg.example',
    });
  });

  it('an unreadable config.json is a config error naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'imagewright-badjson-'));
    writeFileSync(join(dir, 'config.json'), '{not json');
    expect(() => registryAuth('x', { DOCKER_CONFIG: dir })).toThrow(/config\.json: not valid JSON/);
  });
});
