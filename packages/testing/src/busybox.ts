import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { followProgress, splitRef, type Engine } from '@imagewright/docker';
import tar from 'tar-stream';

export const BUSYBOX_IMAGE = 'imagewright-test/busybox:latest';
const BUSYBOX = '/bin/busybox';

/**
 * A tiny test image made without any registry: scratch + Debian's busybox-static with a symlink
 * per applet, imported through the Engine API from an in-memory tar stream. Reused when present.
 */
export async function busyboxImage(engine: Engine, tag = BUSYBOX_IMAGE): Promise<string> {
  try {
    return (await engine.getImage(tag).inspect()).Id;
  } catch {
    /* not there yet */
  }
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  const pack = tar.pack();
  const body = readFileSync(BUSYBOX);
  pack.entry({ name: 'bin/', type: 'directory', mode: 0o755 });
  pack.entry({ name: 'tmp/', type: 'directory', mode: 0o1777 });
  pack.entry({ name: 'etc/', type: 'directory', mode: 0o755 });
  pack.entry({ name: 'etc/passwd', mode: 0o644 }, 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n');
  pack.entry({ name: 'etc/group', mode: 0o644 }, 'root:x:0:\nnogroup:x:65534:\n');
  pack.entry({ name: 'root/', type: 'directory', mode: 0o700 });
  pack.entry({ name: 'bin/busybox', mode: statSync(BUSYBOX).mode & 0o7777 }, body);
  for (const applet of applets) pack.entry({ name: `bin/${applet}`, type: 'symlink', linkname: 'busybox' });
  pack.finalize();
  const [repo, version] = splitRef(tag);
  const stream = await engine.importImage(pack as unknown as NodeJS.ReadableStream, {
    repo,
    tag: version,
    changes: ['ENV PATH=/bin', 'CMD ["sh"]'],
  } as object);
  await followProgress(stream as unknown as NodeJS.ReadableStream as never);
  return (await engine.getImage(tag).inspect()).Id;
}

/** Every file of a tar stream by name, in memory (small test archives only). */
export async function untarFiles(stream: NodeJS.ReadableStream): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const extract = tar.extract();
  extract.on('entry', (header, entry, next) => {
    const chunks: Buffer[] = [];
    entry.on('data', (c: unknown) => chunks.push(c as Buffer));
    entry.on('end', () => {
      files.set(header.name, Buffer.concat(chunks));
      next();
    });
  });
  const finished = new Promise<void>((res, rej) => {
    extract.on('finish', () => res());
    extract.on('error', rej);
  });
  stream.pipe(extract as unknown as NodeJS.WritableStream);
  await finished;
  return files;
}

/** The busybox image's one layer, as the Engine saves it (its diffId is the Engine's). */
export async function busyboxLayer(engine: Engine): Promise<Buffer> {
  const files = await untarFiles((await engine.getImage(BUSYBOX_IMAGE).get()) as unknown as NodeJS.ReadableStream);
  const manifest = JSON.parse(files.get('manifest.json')!.toString('utf8')) as Array<{ Layers: string[] }>;
  return files.get(manifest[0].Layers[0])!;
}

/** A layer tar of `files` (by name) and the directories they need, all dated 1970. */
export async function filesLayer(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  const dirs = new Set<string>();
  for (const name of Object.keys(files)) {
    const parts = name.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  for (const dir of [...dirs].sort()) pack.entry({ name: `${dir}/`, type: 'directory', mode: 0o755, mtime: new Date(0) });
  for (const [name, content] of Object.entries(files)) pack.entry({ name, mode: 0o644, mtime: new Date(0) }, content);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}
