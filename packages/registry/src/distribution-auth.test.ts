import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseChallenge, isLoopback, parseChallenges, schemeFor, splitHostPort } from './distribution-auth';
import { DistributionRegistry, digestOf, nextLink } from './distribution';

describe('parseChallenges', () => {
  it('reads a Bearer challenge with quoted, comma-holding values', () => {
    const [c] = parseChallenges('Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push"');
    expect(c).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.example.com/token', service: 'registry.example.com', scope: 'repository:a/b:pull,push' },
    });
  });

  it('reads Basic, unquoted values, escapes and spaces around =', () => {
    expect(parseChallenges('Basic realm=registry')).toEqual([{ scheme: 'basic', params: { realm: 'registry' } }]);
    expect(parseChallenges('Basic realm = "a \\"quoted\\" realm"')).toEqual([{ scheme: 'basic', params: { realm: 'a "quoted" realm' } }]);
    expect(parseChallenges('bearer Realm="r", ERROR="insufficient_scope"')[0].params).toEqual({ realm: 'r', error: 'insufficient_scope' });
  });

  it('reads several challenges, in one value or in several headers', () => {
    const one = parseChallenges('Basic realm="b", Bearer realm="https://t/token",service="s"');
    expect(one.map((c) => c.scheme)).toEqual(['basic', 'bearer']);
    expect(one[1].params).toEqual({ realm: 'https://t/token', service: 's' });
    const two = parseChallenges(['Basic realm="b"', 'Bearer realm="https://t/token"']);
    expect(two).toEqual(one.map((c) => (c.scheme === 'bearer' ? { scheme: 'bearer', params: { realm: 'https://t/token' } } : c)));
  });

  it('prefers Bearer with a realm, else Basic, else nothing', () => {
    expect(chooseChallenge(parseChallenges('Basic realm="b", Bearer realm="https://t"'))?.scheme).toBe('bearer');
    expect(chooseChallenge(parseChallenges('Bearer service="no realm", Basic realm="b"'))?.scheme).toBe('basic');
    expect(chooseChallenge(parseChallenges('Negotiate'))).toBeUndefined();
    expect(chooseChallenge(parseChallenges(undefined))).toBeUndefined();
    expect(parseChallenges(' , ,')).toEqual([]);
  });
});

describe('schemeFor', () => {
  it('is http for loopback hosts only, as the Engine allows by default', () => {
    for (const host of ['localhost', 'localhost:5000', '127.0.0.1:5000', '127.1.2.3', '[::1]:5000', '[::1]']) expect(schemeFor(host, {})).toBe('http:');
    for (const host of ['ghcr.io', 'registry.example.com:5000', '10.0.0.1:5000', 'localhost.example.com', '128.0.0.1']) expect(schemeFor(host, {})).toBe('https:');
  });

  it('is http for hosts in IMAGEWRIGHT_INSECURE_REGISTRIES: host alone covers every port, host:port only that one', () => {
    const env = { IMAGEWRIGHT_INSECURE_REGISTRIES: ' registry.lan , other.lan:5000,http://third.lan/' };
    expect(schemeFor('registry.lan', env)).toBe('http:');
    expect(schemeFor('registry.lan:443', env)).toBe('http:');
    expect(schemeFor('other.lan:5000', env)).toBe('http:');
    expect(schemeFor('other.lan:5001', env)).toBe('https:');
    expect(schemeFor('other.lan', env)).toBe('https:');
    expect(schemeFor('third.lan:80', env)).toBe('http:');
    expect(schemeFor('registry.lan.evil.com', env)).toBe('https:');
  });

  it('splits host and port, IPv6 included', () => {
    expect(splitHostPort('Host.Example:5000')).toEqual({ hostname: 'host.example', port: '5000' });
    expect(splitHostPort('[::1]:5000')).toEqual({ hostname: '::1', port: '5000' });
    expect(splitHostPort('host')).toEqual({ hostname: 'host' });
    expect(isLoopback('[::1]')).toBe(true);
  });
});

describe('DistributionRegistry construction', () => {
  it('takes host[:port][/path]: the path prefixes repositories, the scheme follows the host', () => {
    expect(new DistributionRegistry('ghcr.io/org', { env: {} })).toMatchObject({ kind: 'distribution', host: 'ghcr.io/org', baseUrl: 'https://ghcr.io' });
    expect(new DistributionRegistry('127.0.0.1:5000', { env: {} })).toMatchObject({ host: '127.0.0.1:5000', baseUrl: 'http://127.0.0.1:5000' });
    expect(new DistributionRegistry('lan:5000/a/b/', { env: { IMAGEWRIGHT_INSECURE_REGISTRIES: 'lan' } })).toMatchObject({ host: 'lan:5000/a/b', baseUrl: 'http://lan:5000' });
    // Docker Hub's references say docker.io; its API answers elsewhere.
    expect(new DistributionRegistry('docker.io/library', { env: {} }).baseUrl).toBe('https://registry-1.docker.io');
  });

  it('refuses a malformed REGISTRY with exit 2, naming it', () => {
    for (const bad of ['', 'host:port', 'https://ghcr.io', 'ghcr.io/Org', 'ghcr.io/a//b', 'a b']) {
      expect(() => new DistributionRegistry(bad, { env: {} }), bad).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringContaining(`REGISTRY=${bad}`) }));
    }
  });

  it('refuses bad repository names, tags and digests before any request', async () => {
    const registry = new DistributionRegistry('127.0.0.1:1', { env: {} });
    await expect(registry.getManifest('../x', 'latest')).rejects.toMatchObject({ exitCode: 2 });
    await expect(registry.getManifest('x', 'a/../b')).rejects.toMatchObject({ exitCode: 2 });
    await expect(registry.headBlob('x', 'latest')).rejects.toMatchObject({ exitCode: 2 });
    await expect(registry.deleteImage('x', { digest: 'nope' })).rejects.toMatchObject({ exitCode: 2 });
  });
});

describe('helpers', () => {
  it('finds the rel="next" Link among others', () => {
    expect(nextLink('</v2/a/tags/list?last=b&n=2>; rel="next"')).toBe('/v2/a/tags/list?last=b&n=2');
    expect(nextLink('<https://x/prev>; rel="prev", <https://x/next?a=1,2>; rel=next')).toBe('https://x/next?a=1,2');
    expect(nextLink('<https://x/p>; rel="prev"')).toBeUndefined();
    expect(nextLink(undefined)).toBeUndefined();
  });

  it('computes digests with the algorithm the registry uses', () => {
    const body = Buffer.from('{}');
    expect(digestOf(body)).toBe('sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
    expect(digestOf(body, 'sha512:abc')).toMatch(/^sha512:[0-9a-f]{128}$/);
    expect(() => digestOf(body, 'md5:abc')).toThrow(/unsupported/);
  });
});

describe('loading', () => {
  it('the package index does not load the client until a registry is used', () => {
    const probe = `
      const before = new Set(Object.keys(require.cache));
      const registry = require(${JSON.stringify(join(__dirname, '..', 'dist', 'index.js'))});
      const loaded = () => Object.keys(require.cache).filter((k) => !before.has(k)).map((k) => k.split('/').pop());
      const early = loaded().includes('distribution.js');
      const client = registry.distributionRegistry('127.0.0.1:5000', { env: {} });
      console.log(JSON.stringify({ early, late: loaded().includes('distribution.js'), kind: client.kind, host: client.host }));`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', probe], { encoding: 'utf8' }));
    expect(out).toEqual({ early: false, late: true, kind: 'distribution', host: '127.0.0.1:5000' });
  });
});
