import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ImagewrightError } from '@imagewright/core';
import { BUSYBOX_IMAGE, busyboxImage, ensureEngine, type Registry as TestRegistry, rejection, startRegistry } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DistributionRegistry, MEDIA_TYPES } from './distribution';

// ---- helpers ---------------------------------------------------------------------------------

interface Run {
  code: number;
  stdout: Buffer;
  stderr: string;
}

function run(file: string, args: string[]): Promise<Run> {
  return new Promise((res) => {
    execFile(file, args, { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      res({ code, stdout, stderr: stderr.toString('utf8') });
    });
  });
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;


interface Seen {
  method: string;
  url: string;
  authorization?: string;
  status?: number;
}

/**
 * A loopback HTTP server in front of the real registry: it records every request, lets a test
 * answer some itself (`intercept` returns true), and forwards the rest unchanged (Host kept, so
 * the registry's Location headers point back here).
 */
async function startProxy(
  target: string,
  intercept?: (req: IncomingMessage, res: ServerResponse, seen: Seen) => boolean | Promise<boolean>,
  rewrite?: (req: IncomingMessage) => Record<string, string | string[] | undefined>,
): Promise<{ host: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server: Server = createServer(async (req, res) => {
    const entry: Seen = { method: req.method!, url: req.url!, authorization: req.headers.authorization };
    seen.push(entry);
    res.once('finish', () => (entry.status = res.statusCode));
    if (intercept && (await intercept(req, res, entry))) return;
    const [hostname, port] = target.split(':');
    const upstream = request({ hostname, port: Number(port), method: req.method, path: req.url, headers: rewrite ? rewrite(req) : req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    upstream.once('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

// ---- fixture ---------------------------------------------------------------------------------

let registry: TestRegistry;
let scratch: string;
let authfile: string;
let client: DistributionRegistry;
/** busybox as skopeo pushed it: Docker v2 schema 2, and OCI. */
const REPO = 'demo-user-image';

async function skopeo(args: string[]): Promise<Run> {
  return run('skopeo', args);
}

async function skopeoCopy(from: string, to: string, extra: string[] = []): Promise<void> {
  const copy = await skopeo(['copy', '--quiet', '--dest-tls-verify=false', '--dest-authfile', authfile, ...extra, from, to]);
  expect(copy.code, copy.stderr).toBe(0);
}

/** The exact manifest bytes under ref, as skopeo reads them (an independent client). */
async function skopeoRaw(ref: string): Promise<Buffer> {
  const inspect = await skopeo(['inspect', '--raw', '--tls-verify=false', '--authfile', authfile, `docker://${registry.host}/${ref}`]);
  expect(inspect.code, inspect.stderr).toBe(0);
  return inspect.stdout;
}

async function skopeoTags(repo: string): Promise<string[]> {
  const list = await skopeo(['list-tags', '--tls-verify=false', '--authfile', authfile, `docker://${registry.host}/${repo}`]);
  expect(list.code, list.stderr).toBe(0);
  return (JSON.parse(list.stdout.toString('utf8')) as { Tags: string[] }).Tags;
}

/** Reads a blob with plain fetch and basic auth: not through the client under test. */
async function fetchBlob(repo: string, digest: string): Promise<{ status: number; body: Buffer }> {
  const res = await fetch(`http://${registry.host}/v2/${repo}/blobs/${digest}`, { headers: { authorization: basic(registry.username, registry.password) } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

beforeAll(async () => {
  await busyboxImage(await ensureEngine());
  scratch = mkdtempSync(join(tmpdir(), 'imagewright-distribution-test-'));
  registry = await startRegistry();
  authfile = join(scratch, 'auth.json');
  writeFileSync(authfile, JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${registry.username}:${registry.password}`).toString('base64') } } }), { mode: 0o600 });
  await skopeoCopy(`docker-daemon:${BUSYBOX_IMAGE}`, `docker://${registry.host}/${REPO}:latest`, ['--format', 'v2s2']);
  await skopeoCopy(`docker-daemon:${BUSYBOX_IMAGE}`, `docker://${registry.host}/${REPO}:oci`, ['--format', 'oci']);
  client = new DistributionRegistry(registry.host, { credentials: { username: registry.username, password: registry.password }, env: {} });
});

afterAll(async () => {
  await registry?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

// ---- manifests -------------------------------------------------------------------------------

describe('manifests', () => {
  it.each([
    ['latest', MEDIA_TYPES.dockerManifest],
    ['oci', MEDIA_TYPES.ociManifest],
  ])('getManifest(%s) returns the bytes skopeo reads, their media type and digest', async (tag, mediaType) => {
    const doc = await client.getManifest(REPO, tag);
    const raw = await skopeoRaw(`${REPO}:${tag}`);
    expect(doc).toBeDefined();
    expect(doc!.body.equals(raw)).toBe(true);
    expect(doc!.mediaType).toBe(mediaType);
    expect(doc!.digest).toBe(sha256(raw));
    // By digest too, and HEAD agrees.
    const byDigest = await client.getManifest(REPO, doc!.digest);
    expect(byDigest?.body.equals(raw)).toBe(true);
    expect(await client.headManifest(REPO, tag)).toEqual({ digest: sha256(raw), mediaType, size: raw.length });
  });

  it.each([
    ['latest', 'latest-test'],
    ['oci', 'oci-test'],
  ])('promotes %s to %s: same bytes under the new tag, digest equal per skopeo', async (from, to) => {
    const doc = (await client.getManifest(REPO, from))!;
    const digest = await client.putManifest(REPO, to, { mediaType: doc.mediaType, body: doc.body });
    expect(digest).toBe(doc.digest);
    const raw = await skopeoRaw(`${REPO}:${to}`);
    expect(raw.equals(doc.body)).toBe(true);
    expect(sha256(raw)).toBe(doc.digest);
    expect(await skopeoTags(REPO)).toContain(to);
  });

  /**
   * A second real image for an index: busybox's manifest with its config changed to arm64,
   * the new config uploaded with uploadBlob (the layers are the registry's already).
   */
  async function armVariant(tag: string): Promise<{ amd64: { digest: string; size: number; mediaType: string }; arm64: { digest: string; size: number; mediaType: string } }> {
    const doc = (await client.getManifest(REPO, tag))!;
    const manifest = JSON.parse(doc.body.toString('utf8')) as { config: { digest: string; size: number } };
    const chunks: Buffer[] = [];
    for await (const chunk of await client.getBlob(REPO, manifest.config.digest)) chunks.push(chunk as Buffer);
    const config = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    const armConfig = Buffer.from(JSON.stringify({ ...config, architecture: 'arm64', variant: 'v8' }));
    expect(await client.uploadBlob(REPO, sha256(armConfig), armConfig, armConfig.length)).toBe(true);
    const armManifest = Buffer.from(JSON.stringify({ ...manifest, config: { ...manifest.config, digest: sha256(armConfig), size: armConfig.length } }, null, 3));
    const armDigest = await client.putManifest(REPO, `${tag}-arm64`, { mediaType: doc.mediaType, body: armManifest });
    expect(armDigest).toBe(sha256(armManifest));
    return { amd64: { digest: doc.digest, size: doc.body.length, mediaType: doc.mediaType }, arm64: { digest: armDigest, size: armManifest.length, mediaType: doc.mediaType } };
  }

  it.each([
    ['latest', MEDIA_TYPES.dockerManifestList],
    ['oci', MEDIA_TYPES.ociIndex],
  ])('puts, gets and promotes an index of two real manifests (%s → %s); skopeo copies every platform', async (tag, mediaType) => {
    const { amd64, arm64 } = await armVariant(tag);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType,
        manifests: [
          { ...amd64, platform: { architecture: 'amd64', os: 'linux' } },
          { ...arm64, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
        ],
      }),
    );
    const multi = `${tag}-multi`;
    expect(await client.putManifest(REPO, multi, { mediaType, body: index })).toBe(sha256(index));
    const got = (await client.getManifest(REPO, multi))!;
    expect(got.mediaType).toBe(mediaType);
    expect(got.body.equals(index)).toBe(true);
    expect((await skopeoRaw(`${REPO}:${multi}`)).equals(index)).toBe(true);

    // Promote the index: digest before = digest after, per skopeo.
    const promoted = await client.putManifest(REPO, `${multi}-prod`, { mediaType: got.mediaType, body: got.body });
    expect(promoted).toBe(got.digest);
    expect(sha256(await skopeoRaw(`${REPO}:${multi}-prod`))).toBe(got.digest);
    // Every manifest and blob the index names is really there: skopeo copies them all, unchanged.
    const out = join(scratch, `copy-${tag}`);
    const copy = await skopeo(['copy', '--quiet', '--all', '--src-tls-verify=false', '--src-authfile', authfile, `docker://${registry.host}/${REPO}:${multi}-prod`, `dir:${out}`]);
    expect(copy.code, copy.stderr).toBe(0);
    expect(readFileSync(join(out, 'manifest.json')).equals(index)).toBe(true);
    for (const child of [amd64, arm64]) expect(sha256(readFileSync(join(out, `${child.digest.slice('sha256:'.length)}.manifest.json`)))).toBe(child.digest);
  });

  it('getManifest and headManifest answer undefined for an unknown tag or repository', async () => {
    expect(await client.getManifest(REPO, 'no-such-tag')).toBeUndefined();
    expect(await client.headManifest(REPO, 'no-such-tag')).toBeUndefined();
    expect(await client.getManifest('no-such-repo', 'latest')).toBeUndefined();
  });
});

// ---- deletes ---------------------------------------------------------------------------------

describe('deleteImage', () => {
  it('deletes by digest: skopeo finds the manifest gone and the tag unlisted', async () => {
    await skopeoCopy(`docker-daemon:${BUSYBOX_IMAGE}`, `docker://${registry.host}/doomed:by-digest`, ['--format', 'v2s2']);
    const digest = sha256(await skopeoRaw('doomed:by-digest'));
    await client.deleteImage('doomed', { digest });
    const inspect = await skopeo(['inspect', '--raw', '--tls-verify=false', '--authfile', authfile, `docker://${registry.host}/doomed@${digest}`]);
    expect(inspect.code).not.toBe(0);
    expect(inspect.stderr).toMatch(/manifest unknown/i);
    expect(await skopeoTags('doomed')).not.toContain('by-digest');
  });

  it('deletes by tag (its manifest, as the API has no tag delete): skopeo finds it gone', async () => {
    await skopeoCopy(`docker-daemon:${BUSYBOX_IMAGE}`, `docker://${registry.host}/doomed:by-tag`, ['--format', 'oci']);
    const digest = sha256(await skopeoRaw('doomed:by-tag'));
    await client.deleteImage('doomed', { tag: 'by-tag' });
    const inspect = await skopeo(['inspect', '--raw', '--tls-verify=false', '--authfile', authfile, `docker://${registry.host}/doomed@${digest}`]);
    expect(inspect.code).not.toBe(0);
    expect(await skopeoTags('doomed')).not.toContain('by-tag');
  });

  it('fails in one line, exit 1, for a digest or tag that is not there', async () => {
    const byDigest = await rejection(client.deleteImage('doomed', { digest: sha256(Buffer.from('nothing')) }));
    expect(byDigest.exitCode).toBe(1);
    expect(byDigest.message).toBe(`registry ${registry.host}: doomed: DELETE manifest ${sha256(Buffer.from('nothing'))}: HTTP 404 MANIFEST_UNKNOWN manifest unknown`);
    const byTag = await rejection(client.deleteImage('doomed', { tag: 'never-was' }));
    expect(byTag.message).toBe(`registry ${registry.host}: doomed: HEAD manifest never-was: HTTP 404 no such tag`);
  });
});

// ---- tags ------------------------------------------------------------------------------------

describe('listTags', () => {
  it('pages with n=2 through Link headers and pairs every tag with its digest, as skopeo lists them', async () => {
    const docker = (await client.getManifest(REPO, 'latest'))!;
    const oci = (await client.getManifest(REPO, 'oci'))!;
    // The manifests' blobs come to the new repository by mount, as a promotion across repositories would.
    for (const doc of [docker, oci]) {
      const manifest = JSON.parse(doc.body.toString('utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
      for (const { digest } of [manifest.config, ...manifest.layers]) await client.mountBlob('paged', digest, REPO);
    }
    const expected = new Map<string, string>();
    for (let i = 1; i <= 6; i++) {
      const doc = i % 2 ? docker : oci;
      await client.putManifest('paged', `t${i}`, doc);
      expected.set(`t${i}`, doc.digest);
    }
    // Debian's registry (distribution 2.8) ignores n= on tags/list (paging came with distribution 3):
    // this front pages its full answer as the spec says (n, last, Link rel="next").
    const proxy = await startProxy(registry.host, async (req, res) => {
      const url = new URL(req.url!, 'http://x');
      const n = Number(url.searchParams.get('n'));
      if (!url.pathname.endsWith('/tags/list') || !n || !req.headers.authorization) return false;
      const full = await fetch(`http://${registry.host}${url.pathname}`, { headers: { authorization: req.headers.authorization } });
      if (full.status !== 200) return false;
      const { name, tags } = (await full.json()) as { name: string; tags: string[] };
      const last = url.searchParams.get('last');
      const rest = tags.sort().filter((t) => !last || t > last);
      const page = rest.slice(0, n);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (rest.length > n) headers.link = `<${url.pathname}?n=${n}&last=${encodeURIComponent(page[page.length - 1])}>; rel="next"`;
      res.writeHead(200, headers).end(JSON.stringify({ name, tags: page }));
      return true;
    });
    try {
      const paged = new DistributionRegistry(proxy.host, { credentials: { username: registry.username, password: registry.password }, env: {} });
      const tags = await paged.listTags('paged', { pageSize: 2 });
      expect(new Map(tags.map((t) => [t.tag, t.digest]))).toEqual(expected);
      expect(tags.map((t) => t.tag).sort()).toEqual((await skopeoTags('paged')).sort());
      const pages = proxy.seen.filter((s) => s.url.startsWith('/v2/paged/tags/list') && s.status === 200);
      expect(pages.length).toBe(3);
      expect(pages.every((p) => /[?&]n=2(&|$)/.test(p.url))).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('fails in one line naming the registry, repository and 404 for an unknown repository', async () => {
    const error = await rejection(client.listTags('no-such-repo'));
    expect(error.exitCode).toBe(1);
    expect(error.message).toBe(`registry ${registry.host}: no-such-repo: GET tags: HTTP 404 NAME_UNKNOWN repository name not known to registry`);
  });

  it('cannot enumerate untagged manifests', async () => {
    expect(await client.listUntagged(REPO)).toBeUndefined();
  });
});

// ---- credentials -----------------------------------------------------------------------------

describe('credentials', () => {
  it('a wrong password is one line, exit 1, HTTP 401, and never shows the password', async () => {
    const password = `wrong-${randomBytes(12).toString('hex')}`;
    const wrong = new DistributionRegistry(registry.host, { credentials: { username: registry.username, password }, env: {} });
    const attempts = [() => wrong.listTags(REPO), () => wrong.getManifest(REPO, 'latest'), () => wrong.putManifest(REPO, 'x', { mediaType: MEDIA_TYPES.ociManifest, body: Buffer.from('{}') })];
    for (const attempt of attempts) {
      const error = await rejection(attempt());
      expect(error.exitCode).toBe(1);
      expect(error.message).not.toContain('\n');
      expect(error.message).toMatch(new RegExp(`^registry ${registry.host}: ${REPO}: \\w+ .*: HTTP 401 UNAUTHORIZED .*refused the credentials`));
      expect(error.message).not.toContain(password);
      expect(error.message).not.toContain(Buffer.from(`${registry.username}:${password}`).toString('base64'));
      expect(String(error.stack)).not.toContain(password);
    }
  });

  it('uses what docker login stored in $DOCKER_CONFIG/config.json, and says so when nothing is stored', async () => {
    const stored = join(scratch, 'docker-config');
    mkdirSync(stored, { recursive: true });
    writeFileSync(join(stored, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${registry.username}:${registry.password}`).toString('base64') } } }));
    const fromLogin = new DistributionRegistry(registry.host, { env: { DOCKER_CONFIG: stored } });
    expect((await fromLogin.getManifest(REPO, 'latest'))?.digest).toBe(sha256(await skopeoRaw(`${REPO}:latest`)));

    const empty = join(scratch, 'docker-config-empty');
    mkdirSync(empty, { recursive: true });
    const anonymous = new DistributionRegistry(registry.host, { env: { DOCKER_CONFIG: empty } });
    const error = await rejection(anonymous.getManifest(REPO, 'latest'));
    expect(error.message).toBe(`registry ${registry.host}: ${REPO}: GET manifest latest: HTTP 401 UNAUTHORIZED authentication required (no credentials for ${registry.host}: run image-login or docker login)`);
  });
});

// ---- blobs -----------------------------------------------------------------------------------

describe('blobs', () => {
  it('headBlob gives a layer size as the manifest says; undefined when absent', async () => {
    const manifest = JSON.parse((await client.getManifest(REPO, 'latest'))!.body.toString('utf8')) as { layers: Array<{ digest: string; size: number }> };
    const layer = manifest.layers[0];
    expect(await client.headBlob(REPO, layer.digest)).toEqual({ digest: layer.digest, size: layer.size });
    expect(await client.headBlob(REPO, sha256(Buffer.from('absent')))).toBeUndefined();
  });

  it('getBlob streams the bytes a plain GET reads', async () => {
    const manifest = JSON.parse((await client.getManifest(REPO, 'latest'))!.body.toString('utf8')) as { layers: Array<{ digest: string }> };
    const chunks: Buffer[] = [];
    for await (const chunk of await client.getBlob(REPO, manifest.layers[0].digest)) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    expect(sha256(body)).toBe(manifest.layers[0].digest);
    expect(body.equals((await fetchBlob(REPO, manifest.layers[0].digest)).body)).toBe(true);
  });

  it.each([
    ['monolithic, from a Buffer', (b: Buffer) => b, undefined],
    ['monolithic, from a stream', (b: Buffer) => Readable.from([b.subarray(0, 7000), b.subarray(7000)]), undefined],
    ['chunked, from a Buffer', (b: Buffer) => b, 4096],
    ['chunked, from a stream of odd pieces', (b: Buffer) => Readable.from(Array.from({ length: 10 }, (_, i) => b.subarray(i * 2000, (i + 1) * 2000))), 3000],
  ])('uploadBlob %s: the registry serves the same bytes; a second upload is skipped', async (_name, source, chunkSize) => {
    const data = randomBytes(20_000);
    const digest = sha256(data);
    expect((await fetchBlob('uploads', digest)).status).toBe(404);
    const proxy = await startProxy(registry.host);
    try {
      const viaProxy = new DistributionRegistry(proxy.host, { credentials: { username: registry.username, password: registry.password }, env: {} });
      expect(await viaProxy.uploadBlob('uploads', digest, source(data), data.length, chunkSize ? { chunkSize } : {})).toBe(true);
      const patches = proxy.seen.filter((s) => s.method === 'PATCH' && s.status === 202);
      expect(patches.length).toBe(chunkSize ? Math.ceil(data.length / chunkSize) : 0);
    } finally {
      await proxy.close();
    }
    const back = await fetchBlob('uploads', digest);
    expect(back.status).toBe(200);
    expect(back.body.equals(data)).toBe(true);
    expect(await client.uploadBlob('uploads', digest, data, data.length)).toBe(false);
  });

  it('mountBlob makes a blob of one repository appear in another without uploading it', async () => {
    const data = randomBytes(5000);
    const digest = sha256(data);
    await client.uploadBlob('mount-source', digest, data, data.length);
    expect((await fetchBlob('mount-target', digest)).status).toBe(404);
    expect(await client.mountBlob('mount-target', digest, 'mount-source')).toBe(true);
    const back = await fetchBlob('mount-target', digest);
    expect(back.status).toBe(200);
    expect(back.body.equals(data)).toBe(true);
    // A blob the source lacks cannot be mounted.
    const absent = sha256(randomBytes(10));
    expect(await client.mountBlob('mount-target', absent, 'mount-source')).toBe(false);
    expect((await fetchBlob('mount-target', absent)).status).toBe(404);
  });
});

// ---- reliability -----------------------------------------------------------------------------

describe('retries', () => {
  const credentials = () => ({ username: registry.username, password: registry.password });

  it('retries transient 5xx and resets with backoff, then succeeds', async () => {
    let failures = 0;
    const proxy = await startProxy(registry.host, (req, res) => {
      if (!req.url!.includes('/manifests/')) return false;
      failures++;
      if (failures === 1) {
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}');
        return true;
      }
      if (failures === 2) {
        req.socket.destroy(); // ECONNRESET / socket hang up on the client's side
        return true;
      }
      return false;
    });
    try {
      const flaky = new DistributionRegistry(proxy.host, { credentials: credentials(), env: {}, backoffMs: 50 });
      const doc = await flaky.getManifest(REPO, 'latest');
      expect(doc?.digest).toBe(sha256(await skopeoRaw(`${REPO}:latest`)));
      expect(failures).toBeGreaterThanOrEqual(3);
    } finally {
      await proxy.close();
    }
  });

  it('gives up after 3 tries with one line naming registry, repository, operation, status and the registry error', async () => {
    const proxy = await startProxy(registry.host, (req, res) => {
      res.writeHead(502, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAVAILABLE","message":"backend down"}]}');
      return true;
    });
    try {
      const down = new DistributionRegistry(proxy.host, { credentials: credentials(), env: {}, backoffMs: 20 });
      const error = await rejection(down.getManifest(REPO, 'latest'));
      expect(error.exitCode).toBe(1);
      expect(error.message).toBe(`registry ${proxy.host}: ${REPO}: GET manifest latest: HTTP 502 UNAVAILABLE backend down (after 3 tries)`);
      expect(proxy.seen.length).toBe(3);
    } finally {
      await proxy.close();
    }
  });

  it('does not retry 404 (nor 401)', async () => {
    const proxy = await startProxy(registry.host);
    try {
      const direct = new DistributionRegistry(proxy.host, { credentials: credentials(), env: {}, backoffMs: 20 });
      await rejection(direct.listTags('no-such-repo'));
      expect(proxy.seen.filter((s) => s.status === 404).length).toBe(1);
      const wrong = new DistributionRegistry(proxy.host, { credentials: { username: registry.username, password: 'wrong' }, env: {}, backoffMs: 20 });
      await rejection(wrong.listTags(REPO));
      // The challenge, the answer with (wrong) credentials, nothing more.
      expect(proxy.seen.filter((s) => s.url.startsWith(`/v2/${REPO}/`)).length).toBe(2);
    } finally {
      await proxy.close();
    }
  });

  it('an unreachable registry is one line naming it, not retried', async () => {
    const closed = await startProxy(registry.host);
    await closed.close(); // a loopback port nobody listens on now
    const error = await rejection(new DistributionRegistry(closed.host, { credentials: credentials(), env: {}, backoffMs: 20 }).getManifest(REPO, 'latest'));
    expect(error.exitCode).toBe(1);
    expect(error.message).toBe(`registry ${closed.host}: ${REPO}: GET manifest latest: connect ECONNREFUSED ${closed.host}`);
  });

  it('fails a blob whose bytes do not match its digest, in one line', async () => {
    const manifest = JSON.parse((await client.getManifest(REPO, 'latest'))!.body.toString('utf8')) as { config: { digest: string } };
    // A proxy that corrupts blob bodies: the stream must not end quietly.
    const proxy = await startProxy(registry.host, async (req, res) => {
      if (!req.url!.includes('/blobs/') || req.method !== 'GET' || !req.headers.authorization) return false;
      const real = await fetchBlob(REPO, manifest.config.digest);
      real.body[0] ^= 0xff;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(real.body.length) }).end(real.body);
      return true;
    });
    try {
      const reader = new DistributionRegistry(proxy.host, { credentials: credentials(), env: {} });
      const stream = await reader.getBlob(REPO, manifest.config.digest);
      const error = await rejection((async () => {
        for await (const _ of stream) void _;
      })());
      expect(error.message).toMatch(new RegExp(`^registry ${proxy.host}: ${REPO}: GET blob ${manifest.config.digest}: the bytes' digest is sha256:[0-9a-f]{64}$`));
    } finally {
      await proxy.close();
    }
  });
});

// ---- bearer tokens ---------------------------------------------------------------------------

/**
 * A token-auth registry made of the real one: a loopback front that demands Bearer tokens for
 * the scope each request needs (docker's token protocol), a realm at /token that hands them out
 * for basic credentials of its own, and the real registry's basic auth behind.
 */
async function startTokenFront(user: string, pass: string) {
  const grants = new Map<string, Set<string>>();
  const tokenRequests: Seen[] = [];
  let host = '';
  const needed = (req: IncomingMessage): string[] => {
    const url = new URL(req.url!, 'http://x');
    const match = /^\/v2\/(.+?)\/(manifests|blobs|tags)\//.exec(url.pathname);
    if (!match) return [];
    const action = req.method === 'GET' || req.method === 'HEAD' ? 'pull' : req.method === 'DELETE' ? 'delete' : 'push';
    const scopes = [`repository:${match[1]}:${action === 'push' ? 'pull,push' : action}`];
    const from = url.searchParams.get('from');
    if (from) scopes.push(`repository:${from}:pull`);
    return scopes;
  };
  const granted = (token: string | undefined, scope: string) => {
    const [, name, actions] = /^repository:(.+):([^:]+)$/.exec(scope)!;
    const have = token ? grants.get(token) : undefined;
    return Boolean(have) && actions.split(',').every((a) => have!.has(`${name}:${a}`));
  };
  const proxy = await startProxy(
    registry.host,
    (req, res, seen) => {
      const url = new URL(req.url!, 'http://x');
      if (url.pathname === '/token') {
        tokenRequests.push(seen);
        if (req.headers.authorization !== basic(user, pass)) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"incorrect username or password"}');
          return true;
        }
        const token = randomBytes(24).toString('hex');
        const set = new Set<string>();
        for (const scope of url.searchParams.getAll('scope')) {
          const [, name, actions] = /^repository:(.+):([^:]+)$/.exec(scope) ?? [];
          if (name) for (const a of actions.split(',')) set.add(`${name}:${a}`);
        }
        grants.set(token, set);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
        return true;
      }
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const missing = needed(req).filter((s) => !granted(bearer, s));
      if (req.headers.authorization && !bearer) missing.push('(not a bearer token)');
      if (missing.length || (!bearer && url.pathname.startsWith('/v2/'))) {
        const scope = needed(req)[0];
        res
          .writeHead(401, {
            'content-type': 'application/json',
            'www-authenticate': `Bearer realm="http://${host}/token",service="imagewright-test"${scope ? `,scope="${scope}"` : ''}${bearer ? ',error="insufficient_scope"' : ''}`,
          })
          .end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return true;
      }
      return false;
    },
    (req) => ({ ...req.headers, authorization: basic(registry.username, registry.password) }),
  );
  host = proxy.host;
  return { ...proxy, tokenRequests, grants };
}

describe('bearer tokens', () => {
  it('answers the challenge with a token from the realm (basic credentials there only), cached per scope', async () => {
    const front = await startTokenFront('token-user', 'token-pass');
    try {
      const tokened = new DistributionRegistry(front.host, { credentials: { username: 'token-user', password: 'token-pass' }, env: {} });
      const doc = (await tokened.getManifest(REPO, 'latest'))!;
      expect(doc.digest).toBe(sha256(await skopeoRaw(`${REPO}:latest`)));
      expect(front.tokenRequests.length).toBe(1);
      expect(new URL(front.tokenRequests[0].url, 'http://x').searchParams.getAll('scope')).toEqual([`repository:${REPO}:pull`]);
      expect(new URL(front.tokenRequests[0].url, 'http://x').searchParams.get('service')).toBe('imagewright-test');

      // Same scope: the cached token goes up front, no new token and no new challenge.
      const before = front.seen.length;
      await tokened.headManifest(REPO, 'oci');
      expect(front.tokenRequests.length).toBe(1);
      expect(front.seen.slice(before).map((s) => s.status)).toEqual([200]);

      // A push needs pull,push: a second token; the promoted digest is equal per skopeo.
      expect(await tokened.putManifest(REPO, 'via-token', doc)).toBe(doc.digest);
      expect(sha256(await skopeoRaw(`${REPO}:via-token`))).toBe(doc.digest);
      expect(front.tokenRequests.length).toBe(2);
      // A mount also needs pull on the source repository: asked for in the same token.
      const data = randomBytes(3000);
      await tokened.uploadBlob('token-source', sha256(data), data, data.length);
      expect(await tokened.mountBlob('token-target', sha256(data), 'token-source')).toBe(true);
      expect((await fetchBlob('token-target', sha256(data))).body.equals(data)).toBe(true);
      const mountToken = front.tokenRequests.map((t) => new URL(t.url, 'http://x').searchParams.getAll('scope')).find((s) => s.includes('repository:token-source:pull') && s.length === 2);
      expect(mountToken).toEqual(['repository:token-source:pull', 'repository:token-target:pull,push']);
      // Deletes and listing work through tokens too.
      await tokened.deleteImage(REPO, { tag: 'via-token' });
      expect((await tokened.listTags(REPO)).map((t) => t.tag)).not.toContain('via-token');

      // Basic credentials went to the realm only; the registry front saw tokens.
      for (const s of front.tokenRequests) expect(s.authorization).toBe(basic('token-user', 'token-pass'));
      const apiAuth = front.seen.filter((s) => s.url.startsWith('/v2/')).map((s) => s.authorization);
      expect(apiAuth.every((a) => a === undefined || a.startsWith('Bearer '))).toBe(true);
    } finally {
      await front.close();
    }
  });

  it('a refused token request is one line, exit 1, without the password', async () => {
    const front = await startTokenFront('token-user', 'token-pass');
    try {
      const wrong = new DistributionRegistry(front.host, { credentials: { username: 'token-user', password: 'not-the-token-pass' }, env: {} });
      const error = await rejection(wrong.getManifest(REPO, 'latest'));
      expect(error.exitCode).toBe(1);
      expect(error.message).toBe(
        `registry ${front.host}: ${REPO}: token for GET manifest latest from http://${front.host}/token: HTTP 401 incorrect username or password (the registry refused the credentials for ${front.host})`,
      );
      expect(error.message).not.toContain('not-the-token-pass');
    } finally {
      await front.close();
    }
  });
});
