import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { followProgress, type Engine } from '@imagewright/docker';
import tar from 'tar-stream';
import { BUSYBOX_IMAGE, busyboxImage } from './busybox';

export interface BasicCredentials {
  username: string;
  password: string;
}

export const MEDIA = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const;

const basic = (c: BasicCredentials) => Buffer.from(`${c.username}:${c.password}`).toString('base64');

/** A DOCKER_CONFIG folder whose config.json holds basic credentials per host, as `docker login` writes them. */
export function dockerConfigWith(auths: Record<string, BasicCredentials>): string {
  const dir = mkdtempSync(join(tmpdir(), 'imagewright-docker-config-'));
  const entries = Object.entries(auths).map(([host, c]) => [host, { auth: basic(c) }]);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: Object.fromEntries(entries) }), { mode: 0o600 });
  return dir;
}

export const sha256 = (bytes: Buffer | string): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/**
 * skopeo as an independent registry client, logged in through a DOCKER_CONFIG's config.json
 * (--authfile: no password on its command line), plain HTTP to loopback registries.
 */
export const skopeo = {
  run(dockerConfig: string, args: string[]): Buffer {
    const [sub, ...rest] = args;
    const tls = sub === 'copy' ? ['--src-tls-verify=false', '--dest-tls-verify=false'] : ['--tls-verify=false'];
    return execFileSync('skopeo', [sub, '--authfile', join(dockerConfig, 'config.json'), ...tls, ...rest], { stdio: ['ignore', 'pipe', 'pipe'] });
  },
  /** The manifest bytes under `host/repo:tag` (or `@digest`), exactly as the registry serves them. */
  raw(dockerConfig: string, ref: string): Buffer {
    return skopeo.run(dockerConfig, ['inspect', '--raw', `docker://${ref}`]);
  },
  /** The digest of the manifest under `ref`: sha256 of its raw bytes. */
  digest(dockerConfig: string, ref: string): string {
    return sha256(skopeo.raw(dockerConfig, ref));
  },
  /** The repository's tags, sorted (skopeo follows the registry's pages). */
  tags(dockerConfig: string, repo: string): string[] {
    const listed = JSON.parse(skopeo.run(dockerConfig, ['list-tags', `docker://${repo}`]).toString('utf8')) as { Tags: string[] | null };
    return [...(listed.Tags ?? [])].sort();
  },
  /** Copies an engine image to `host/repo:tag` as a Docker v2 or OCI manifest; resolves to its digest. */
  push(dockerConfig: string, image: string, dest: string, format: 'v2s2' | 'oci' = 'v2s2'): string {
    skopeo.run(dockerConfig, ['copy', '-q', '--format', format, `docker-daemon:${image}`, `docker://${dest}`]);
    return skopeo.digest(dockerConfig, dest);
  },
};

/**
 * A small image distinct from the busybox one (its own config, so its own manifest digest):
 * busybox with a label, built through the Engine. Reused when present.
 */
export async function labelledImage(engine: Engine, label: string): Promise<string> {
  const tag = `${BUSYBOX_IMAGE.split(':')[0]}:label-${label}`;
  try {
    await engine.getImage(tag).inspect();
    return tag;
  } catch {
    /* build it */
  }
  await busyboxImage(engine);
  const context = tar.pack();
  context.entry({ name: 'Dockerfile' }, `FROM ${BUSYBOX_IMAGE}\nLABEL imagewright.test=${label}\n`);
  context.finalize();
  await followProgress((await engine.buildImage(context as unknown as NodeJS.ReadableStream, { t: tag, rm: true })) as never);
  return tag;
}

/** A manifest list / index over manifests of the repository, with made-up platforms. */
export function indexOf(mediaType: typeof MEDIA.dockerList | typeof MEDIA.ociIndex, children: { mediaType: string; body: Buffer }[]): Buffer {
  const platforms = [{ architecture: 'amd64', os: 'linux' }, { architecture: 'arm64', os: 'linux', variant: 'v8' }, { architecture: 's390x', os: 'linux' }];
  const manifests = children.map((c, i) => ({ mediaType: c.mediaType, digest: sha256(c.body), size: c.body.length, platform: platforms[i % platforms.length] }));
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests }, null, 3));
}

/** PUTs manifest bytes straight through the distribution API (basic auth); resolves to the registry's digest. */
export async function putManifestHttp(host: string, credentials: BasicCredentials, repo: string, tag: string, mediaType: string, body: Buffer): Promise<string> {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { authorization: `Basic ${basic(credentials)}`, 'content-type': mediaType },
    body,
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`PUT ${repo}:${tag} answered ${res.status}: ${text}`);
  return res.headers.get('docker-content-digest') ?? '';
}

export interface PagingProxy {
  /** 127.0.0.1:PORT: use it as the registry. */
  host: string;
  /** Tag-list pages served so far. */
  tagPages(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * The distribution API's tag-list paging in front of a real registry that does not page (Debian's
 * docker-registry 2.8 ignores `n`): see paging-proxy.ts. It runs in a child process, so the
 * synchronous skopeo helpers can go through it.
 */
export async function startPagingProxy(upstream: string, pageSize = 2): Promise<PagingProxy> {
  const child = spawn(process.execPath, [join(__dirname, '..', 'dist', 'paging-proxy.js'), upstream, String(pageSize)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const host = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const listening = /^listening (\S+)$/m.exec(out);
      if (listening) resolve(listening[1]);
    });
    child.once('exit', (code) => reject(new Error(`paging proxy exited with ${code} before listening`)));
  });
  process.once('exit', () => child.kill('SIGKILL'));
  return {
    host,
    tagPages: async () => ((await (await fetch(`http://${host}/_paging-proxy/stats`)).json()) as { tagPages: number }).tagPages,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
