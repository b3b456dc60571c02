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
