import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { followProgress, type Engine } from '@imagewright/docker';
import tar from 'tar-stream';

/**
 * Test images whose layers are exactly the tars described here: a hand-made legacy `docker save`
 * archive (peers.md C.1) loaded through the Engine API, so the Engine applies every layer for
 * real (whiteouts, opaque dirs, setuid, xattrs, fifos, big ids) and nothing is rebuilt.
 */

export type LayerEntryType = 'file' | 'dir' | 'symlink' | 'link' | 'fifo' | 'whiteout' | 'opaque';

export interface LayerEntry {
  /**
   * Path in the image, without a leading `/`, written as given (no normalisation: `../x` is
   * possible, for the escape tests). For `whiteout` the path to delete (`a/b` is written as
   * `a/.wh.b`); for `opaque` the directory whose lower contents are hidden (`a/.wh..wh..opq`).
   */
  path: string;
  type: LayerEntryType;
  content?: string | Buffer;
  /** Permission bits incl. setuid/setgid/sticky; 0 is allowed. Defaults: 0o755 dirs, 0o644 others. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Target of a symlink (as written) or of a hard link (a path in the image). */
  linkname?: string;
  /** Extended attributes, written as PAX `SCHILY.xattr.<name>` with their exact bytes. */
  xattrs?: Record<string, string | Buffer>;
  mtime?: Date;
}

export type LayerSpec = LayerEntry[];

/** What `loadLayeredImage` puts in the config (the runtime part) and its history. */
export interface LayeredConfig {
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  User?: string;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  ExposedPorts?: Record<string, object>;
  Volumes?: Record<string, object>;
  StopSignal?: string;
  OnBuild?: string[];
  Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  /** Bottom → top; its non-empty entries must be one per layer. Default: one `layer <i>` entry per layer. */
  history?: { created?: string; created_by?: string; comment?: string; author?: string; empty_layer?: boolean }[];
}

export interface LayeredImage {
  tag: string;
  /** sha256:… of the config: the image ID. */
  id: string;
  /** sha256:… of each layer tar, bottom → top. */
  diffIds: string[];
}

/** Fixed times: the same spec gives the same bytes, so a shared busybox layer is stored once. */
const EPOCH = new Date('2020-01-01T00:00:00Z');
const CREATED = EPOCH.toISOString();
/**
 * tar-stream writes uid/gid as 6 octal digits and clamps above (ustar itself holds 7 digits,
 * 2097151): anything bigger goes in PAX.
 */
const USTAR_MAX_ID = 0o777777;

/** The Engine's architecture name for this machine (images are loaded where the tests run). */
export function engineArchitecture(): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[process.arch] ?? process.arch;
}

let busybox: LayerEntry[] | undefined;

/**
 * The files of a runnable busybox filesystem (as busyboxImage makes it): /bin/busybox and a
 * symlink per applet, /etc/passwd, /etc/group, /tmp, /root. Put them first in layer 0.
 */
export function busyboxEntries(): LayerEntry[] {
  if (!busybox) {
    const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
    busybox = [
      { path: 'bin', type: 'dir', mode: 0o755 },
      { path: 'tmp', type: 'dir', mode: 0o1777 },
      { path: 'etc', type: 'dir', mode: 0o755 },
      { path: 'etc/passwd', type: 'file', content: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' },
      { path: 'etc/group', type: 'file', content: 'root:x:0:\nnogroup:x:65534:\n' },
      { path: 'root', type: 'dir', mode: 0o700 },
      { path: 'bin/busybox', type: 'file', content: readFileSync('/bin/busybox'), mode: statSync('/bin/busybox').mode & 0o7777 },
      ...applets.map((applet): LayerEntry => ({ path: `bin/${applet}`, type: 'symlink', linkname: 'busybox' })),
    ];
  }
  return busybox.map((e) => ({ ...e }));
}

/** The name the tar entry gets: whiteouts and opaque markers are spelled out here. */
export function entryName(entry: LayerEntry): string {
  if (entry.type === 'whiteout') {
    const dir = posix.dirname(entry.path);
    return `${dir === '.' ? '' : `${dir}/`}.wh.${posix.basename(entry.path)}`;
  }
  if (entry.type === 'opaque') return `${entry.path.replace(/\/+$/, '')}/.wh..wh..opq`;
  return entry.path;
}

/** One PAX record, `"<len> <key>=<value>\n"`, where len counts its own digits. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let length = body.length + String(body.length).length;
  if (String(length).length !== String(body.length).length) length = body.length + String(length).length;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

/** A 512-byte ustar header with a checksum (used only for our own PAX headers). */
function ustarHeader(name: string, typeflag: string, size: number): Buffer {
  const block = Buffer.alloc(512);
  const octal = (value: number, width: number) => value.toString(8).padStart(width - 1, '0') + '\0';
  block.write(name, 0, 100, 'ascii');
  block.write(octal(0o644, 8), 100);
  block.write(octal(0, 8), 108);
  block.write(octal(0, 8), 116);
  block.write(octal(size, 12), 124);
  block.write(octal(Math.floor(EPOCH.getTime() / 1000), 12), 136);
  block.write(typeflag, 156);
  block.write('ustar\0', 257);
  block.write('00', 263);
  block.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return block;
}

/** Can tar-stream's ustar encoding hold this name? ASCII, and its own split into prefix ≤155 + name ≤100. */
function fitsUstar(name: string): boolean {
  if (!/^[\x20-\x7e]*$/.test(name)) return false;
  let rest = name;
  let prefix = '';
  while (rest.length > 100) {
    const slash = rest.indexOf('/');
    if (slash < 0) return false;
    prefix += (prefix ? '/' : '') + rest.slice(0, slash);
    rest = rest.slice(slash + 1);
  }
  return prefix.length <= 155;
}

const fitsLinkname = (target: string) => /^[\x20-\x7e]*$/.test(target) && target.length <= 100;

/**
 * The tar of one layer, in the order given. PAX headers (long or non-ASCII names and link
 * targets, ids above ustar's 2097151, xattrs) are written here with the values' exact bytes:
 * tar-stream's own `pax:` encodes values as UTF-8 strings, which would mangle binary xattrs
 * such as security.capability.
 */
/** A tar pack collected in memory: `bytes()` resolves once it is finalized. */
function packInMemory(): { pack: tar.Pack; bytes(): Promise<Buffer> } {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((res, rej) => {
    pack.on('end', res);
    pack.on('error', rej);
  });
  return { pack, bytes: async () => (await ended, Buffer.concat(chunks)) };
}

export async function layerTar(spec: LayerSpec): Promise<Buffer> {
  const { pack, bytes } = packInMemory();
  const byPath = new Map<string, LayerEntry>();
  for (const given of spec) {
    // A hard link's header carries the inode's owner and mode (the Engine applies them to the
    // shared inode): unless given, take the target's when it is in this layer.
    const target = given.type === 'link' ? byPath.get(given.linkname ?? '') : undefined;
    const entry = target ? { mode: target.mode, uid: target.uid, gid: target.gid, xattrs: target.xattrs, ...given } : given;
    byPath.set(entry.path, entry);
    const name = entryName(entry);
    const type = ({ file: 'file', whiteout: 'file', opaque: 'file', dir: 'directory', symlink: 'symlink', link: 'link', fifo: 'fifo' } as const)[entry.type];
    const uid = entry.uid ?? 0;
    const gid = entry.gid ?? 0;
    const records: Buffer[] = [];
    if (!fitsUstar(name)) records.push(paxRecord('path', Buffer.from(name)));
    if (entry.linkname !== undefined && !fitsLinkname(entry.linkname)) records.push(paxRecord('linkpath', Buffer.from(entry.linkname)));
    if (uid > USTAR_MAX_ID) records.push(paxRecord('uid', Buffer.from(String(uid))));
    if (gid > USTAR_MAX_ID) records.push(paxRecord('gid', Buffer.from(String(gid))));
    for (const [key, value] of Object.entries(entry.xattrs ?? {})) records.push(paxRecord(`SCHILY.xattr.${key}`, Buffer.isBuffer(value) ? value : Buffer.from(value)));
    // Regular files (whiteouts and opaque markers are empty ones) need a body, even an empty one.
    const body = type === 'file' ? (Buffer.isBuffer(entry.content) ? entry.content : Buffer.from(entry.content ?? '')) : undefined;
    const mode = entry.mode ?? (entry.type === 'dir' ? 0o755 : entry.type === 'whiteout' || entry.type === 'opaque' ? 0o600 : 0o644);
    // Our PAX header and tar-stream's next header must be adjacent: wait for the previous entry.
    await new Promise<void>((res, rej) => {
      if (records.length) {
        const data = Buffer.concat(records);
        pack.push(Buffer.concat([ustarHeader('PaxHeader', 'x', data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512)]));
      }
      const header: Partial<tar.Header> & { name: string } = {
        // The PAX path wins; the ustar name is a stand-in that tar-stream can encode.
        name: records.length && !fitsUstar(name) ? `PaxHeader/${createHash('sha256').update(name).digest('hex').slice(0, 40)}` : name,
        type,
        // tar-stream turns a mode of 0 into its default: a type bit outside 0o7777 keeps 0.
        mode: mode === 0 ? 0o100000 : mode,
        uid: Math.min(uid, USTAR_MAX_ID),
        gid: Math.min(gid, USTAR_MAX_ID),
        mtime: entry.mtime ?? EPOCH,
        ...(entry.linkname === undefined ? {} : { linkname: fitsLinkname(entry.linkname) ? entry.linkname : 'PaxHeader' }),
        size: body?.length ?? 0,
      };
      const done = (err?: Error | null) => (err ? rej(err) : res());
      if (body) pack.entry(header, body, done);
      else pack.entry(header, done);
    });
  }
  pack.finalize();
  return bytes();
}

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/**
 * A legacy `docker save` archive (manifest.json, `<id>.json`, `<hex>/layer.tar`) of an image whose
 * layers are exactly `layers`, tagged `tag`. For `docker load`, or as a `docker-archive:FILE` input.
 */
export async function layeredArchive(tag: string, layers: LayerSpec[], config: LayeredConfig = {}): Promise<{ archive: Buffer; image: LayeredImage }> {
  const tars = await Promise.all(layers.map(layerTar));
  const diffIds = tars.map(sha256);
  const { history, ...run } = config;
  const entries: NonNullable<LayeredConfig['history']> = history ?? layers.map((_, i) => ({ created: CREATED, created_by: `layer ${i}` }));
  const withLayer = entries.filter((h) => !h.empty_layer).length;
  if (withLayer !== layers.length) throw new Error(`history has ${withLayer} entries with a layer for ${layers.length} layers`);
  const configBytes = Buffer.from(
    JSON.stringify({
      architecture: engineArchitecture(),
      os: 'linux',
      created: CREATED,
      config: { Env: ['PATH=/bin'], Cmd: ['sh'], ...run },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: entries,
    }),
  );
  const id = sha256(configBytes);
  const hex = id.slice('sha256:'.length);
  const layerDirs = diffIds.map((d) => d.slice('sha256:'.length));
  const { pack, bytes } = packInMemory();
  pack.entry({ name: `${hex}.json`, mtime: EPOCH }, configBytes);
  // The same layer twice in one image gets one directory (as docker save does, minus the symlink).
  const written = new Set<string>();
  tars.forEach((bytes, i) => {
    if (written.has(layerDirs[i])) return;
    written.add(layerDirs[i]);
    pack.entry({ name: `${layerDirs[i]}/`, type: 'directory', mtime: EPOCH });
    pack.entry({ name: `${layerDirs[i]}/VERSION`, mtime: EPOCH }, '1.0');
    pack.entry({ name: `${layerDirs[i]}/layer.tar`, mtime: EPOCH }, bytes);
  });
  pack.entry({ name: 'manifest.json', mtime: EPOCH }, JSON.stringify([{ Config: `${hex}.json`, RepoTags: [tag], Layers: layerDirs.map((d) => `${d}/layer.tar`) }]));
  pack.finalize();
  return { archive: await bytes(), image: { tag, id, diffIds } };
}

/** `layeredArchive` written to `file`. */
export async function writeLayeredArchive(file: string, tag: string, layers: LayerSpec[], config: LayeredConfig = {}): Promise<LayeredImage> {
  const { archive, image } = await layeredArchive(tag, layers, config);
  writeFileSync(file, archive);
  return image;
}

/**
 * Loads an image whose layers are exactly `layers` (bottom → top) into the Engine as `tag`,
 * streamed through the Engine API. Rejects with the Engine's message when it refuses a layer.
 */
export async function loadLayeredImage(engine: Engine, tag: string, layers: LayerSpec[], config: LayeredConfig = {}): Promise<LayeredImage> {
  const { archive, image } = await layeredArchive(tag, layers, config);
  const progress = await engine.loadImage(Readable.from([archive]) as unknown as NodeJS.ReadableStream, { quiet: true });
  await followProgress(progress as unknown as Readable);
  const loaded = await engine.getImage(tag).inspect();
  if (loaded.Id !== image.id) throw new Error(`${tag} is ${loaded.Id} after docker load, expected ${image.id}`);
  return image;
}
