import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registryAuth } from '@imagewright/docker';
import { thrown } from '@imagewright/testing';
import { describe, expect, it } from 'vitest';
import { credentialKey, storeCredential } from './credentials';

const SECRET = 'pa:ss w0rd$!"\'\\';
const temp = (prefix: string) => mkdtempSync(join(tmpdir(), `imagewright-${prefix}-`));
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));
const b64 = (s: string) => Buffer.from(s).toString('base64');

/**
 * A stand-in credential helper: `store` records its argv and stdin and keeps the credential in a
 * file, `get` answers from it (so registryAuth can read back what was stored).
 */
function fakeHelper(name: string, options: { fail?: boolean } = {}): { path: string; dir: string } {
  const dir = temp('helper');
  const script = join(dir, `docker-credential-${name}`);
  writeFileSync(
    script,
    [
      '#!/bin/sh',
      'here=$(dirname "$0")',
      'printf "%s\\n" "$*" >> "$here/argv"',
      'case "$1" in',
      '  store) cat > "$here/stdin"',
      options.fail ? '    cat "$here/stdin" >&2; echo >&2; echo "keyring locked" >&2; exit 3 ;;' : '    cp "$here/stdin" "$here/stored" ;;',
      '  get) read host; [ -f "$here/stored" ] || { echo "credentials not found in native keychain"; exit 1; }; cat "$here/stored" ;;',
      '  *) exit 9 ;;',
      'esac',
      '',
    ].join('\n'),
  );
  chmodSync(script, 0o755);
  return { path: `${dir}:${process.env.PATH}`, dir };
}

describe('credentialKey', () => {
  it.each([
    ['127.0.0.1:5000', '127.0.0.1:5000'],
    ['ghcr.io/org/team', 'ghcr.io'],
    ['docker.io/canonical', 'https://index.docker.io/v1/'],
    ['https://reg.example', 'reg.example'],
  ])('%s → %s', (registry, key) => expect(credentialKey(registry)).toBe(key));
});

describe('storeCredential in config.json', () => {
  it('writes auths[host].auth (base64 user:pass) with mode 0600, keeping every other key; registryAuth reads it back', () => {
    const dir = temp('docker-config');
    const before = {
      auths: { 'other.example': { auth: b64('o:p') }, 'reg.example:5000': { auth: b64('old:old'), identitytoken: 'stale' } },
      currentContext: 'mine',
      credHelpers: { 'ecr.example': 'ecr-login' },
      proxies: { default: { httpProxy: 'http://p:3128' } },
    };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(before), { mode: 0o644 });
    const stored = storeCredential('reg.example:5000/team', { username: 'me', password: SECRET }, { DOCKER_CONFIG: dir });
    expect(stored).toEqual({ file: join(dir, 'config.json') });

    const after = readJson(join(dir, 'config.json'));
    expect(after).toEqual({ ...before, auths: { 'other.example': { auth: b64('o:p') }, 'reg.example:5000': { auth: b64(`me:${SECRET}`) } } });
    expect(statSync(join(dir, 'config.json')).mode & 0o777).toBe(0o600);
    expect(registryAuth('reg.example:5000/team/x:1', { DOCKER_CONFIG: dir })).toEqual({ username: 'me', password: SECRET, serveraddress: 'reg.example:5000' });
    // Atomic: no temp file left beside it.
    expect(readdirSync(dir)).toEqual(['config.json']);
  });

  it('creates DOCKER_CONFIG and config.json when missing; Docker Hub goes under the CLI key', () => {
    const dir = join(temp('docker-config'), 'nested', '.docker');
    storeCredential('docker.io/canonical', { username: 'hub', password: SECRET }, { DOCKER_CONFIG: dir });
    expect(readJson(join(dir, 'config.json'))).toEqual({ auths: { 'https://index.docker.io/v1/': { auth: b64(`hub:${SECRET}`) } } });
    expect(statSync(join(dir, 'config.json')).mode & 0o777).toBe(0o600);
    expect(registryAuth('canonical/x:1', { DOCKER_CONFIG: dir })?.password).toBe(SECRET);
  });

  it('writes through a symlinked config.json (the link stays)', () => {
    const dir = temp('docker-config');
    const real = join(temp('dotfiles'), 'docker.json');
    writeFileSync(real, '{"currentContext":"x"}');
    symlinkSync(real, join(dir, 'config.json'));
    storeCredential('reg.example', { username: 'me', password: 'pw' }, { DOCKER_CONFIG: dir });
    expect(readJson(real)).toEqual({ currentContext: 'x', auths: { 'reg.example': { auth: b64('me:pw') } } });
    expect(readJson(join(dir, 'config.json'))).toEqual(readJson(real));
  });

  it('refuses a malformed config.json (exit 2, file untouched) and a username with ":"', () => {
    const dir = temp('docker-config');
    writeFileSync(join(dir, 'config.json'), '{"auths": ');
    const error = thrown(() => storeCredential('reg.example', { username: 'me', password: SECRET }, { DOCKER_CONFIG: dir }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(join(dir, 'config.json'));
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).toBe('{"auths": ');
    writeFileSync(join(dir, 'config.json'), '[]');
    expect(thrown(() => storeCredential('reg.example', { username: 'me', password: 'x' }, { DOCKER_CONFIG: dir })).exitCode).toBe(2);
    const other = temp('docker-config');
    expect(thrown(() => storeCredential('reg.example', { username: 'a:b', password: 'x' }, { DOCKER_CONFIG: other })).exitCode).toBe(2);
    expect(existsSync(join(other, 'config.json'))).toBe(false);
  });
});

describe('storeCredential through a credential helper', () => {
  it('credHelpers[host]: runs `docker-credential-<helper> store` with the secret on stdin only; config.json keeps no copy', () => {
    const helper = fakeHelper('imwtest');
    const dir = temp('docker-config');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { 'reg.example': { auth: b64(`me:old-${SECRET}`) } }, credHelpers: { 'reg.example': 'imwtest' } }));
    const env = { DOCKER_CONFIG: dir, PATH: helper.path };
    expect(storeCredential('reg.example', { username: 'me', password: SECRET }, env)).toEqual({ helper: 'docker-credential-imwtest', file: join(dir, 'config.json') });

    expect(readFileSync(join(helper.dir, 'argv'), 'utf8')).toBe('store\n');
    expect(readJson(join(helper.dir, 'stdin'))).toEqual({ ServerURL: 'reg.example', Username: 'me', Secret: SECRET });
    const config = readFileSync(join(dir, 'config.json'), 'utf8');
    expect(JSON.parse(config)).toEqual({ auths: { 'reg.example': {} }, credHelpers: { 'reg.example': 'imwtest' } });
    expect(config).not.toContain(b64(`me:old-${SECRET}`));
    // The lookup the pulls and pushes use asks the same helper and gets it back.
    expect(registryAuth('reg.example/x', env)).toEqual({ username: 'me', password: SECRET, serveraddress: 'reg.example' });
    expect(readFileSync(join(helper.dir, 'argv'), 'utf8')).toBe('store\nget\n');
  });

  it('credsStore serves every host without its own credHelpers entry', () => {
    const helper = fakeHelper('imwstore');
    const dir = temp('docker-config');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ credsStore: 'imwstore' }));
    storeCredential('127.0.0.1:5000', { username: 'AWS', password: SECRET }, { DOCKER_CONFIG: dir, PATH: helper.path });
    expect(readJson(join(helper.dir, 'stdin'))).toEqual({ ServerURL: '127.0.0.1:5000', Username: 'AWS', Secret: SECRET });
    expect(readJson(join(dir, 'config.json'))).toEqual({ credsStore: 'imwstore', auths: { '127.0.0.1:5000': {} } });
  });

  it("a failing helper is exit 1 naming it, with the helper's message but never the secret; config.json unchanged", () => {
    const helper = fakeHelper('imwfail', { fail: true });
    const dir = temp('docker-config');
    const before = JSON.stringify({ credsStore: 'imwfail' });
    writeFileSync(join(dir, 'config.json'), before);
    const error = thrown(() => storeCredential('reg.example', { username: 'me', password: SECRET }, { DOCKER_CONFIG: dir, PATH: helper.path }));
    expect(error.exitCode).toBe(1);
    expect(error.message).toMatch(/^docker-credential-imwfail store for reg\.example failed \(exit 3: keyring locked\)/);
    expect(error.message).not.toContain(SECRET);
    expect(error.message).not.toContain(JSON.stringify(SECRET).slice(1, -1));
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).toBe(before);

    writeFileSync(join(dir, 'config.json'), JSON.stringify({ credsStore: 'nosuchhelper' }));
    expect(thrown(() => storeCredential('reg.example', { username: 'me', password: SECRET }, { DOCKER_CONFIG: dir, PATH: helper.path })).message).toContain(
      'docker-credential-nosuchhelper store for reg.example failed (not found on PATH)',
    );
  });
});
