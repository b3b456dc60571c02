import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { failure, usageError, type DebootstrapSource, type RootImageSpec } from '@imagewright/core';
import {
  emptyRunFlags,
  engineMessage,
  followProgress,
  keepBackup,
  mergeRunFlags,
  runContainer,
  imageIdOf,
  promoteTag,
  pullImage,
  splitRef,
  type Engine,
  type Promotion,
} from '@imagewright/docker';

export interface RootResult extends Promotion {
  action: 'reused' | 'pulled' | 'debootstrapped';
}

export interface RootOptions {
  rebuild?: boolean;
  /** Progress and tool output (stderr by default). */
  log?: Writable & { isTTY?: boolean };
}

/**
 * image-base: the chain's root image. Reused when its tag exists (unless rebuild); otherwise
 * pulled, or made offline from Debian packages with debootstrap and imported through the Engine
 * API as one layer. The tag moves only after the new image answered a test run.
 */
export async function ensureRootImage(engine: Engine, spec: RootImageSpec, options: RootOptions = {}): Promise<RootResult> {
  const log = options.log ?? process.stderr;
  const existing = await imageIdOf(engine, spec.image);
  if (existing && !options.rebuild) return { action: 'reused', ref: spec.image, id: existing };
  if (spec.source.kind === 'pull') {
    // The Engine moves the tag itself when the pull completes: keep the old image's backup first.
    const backup = existing ? await keepBackup(engine, existing, spec.image) : undefined;
    try {
      await pullImage(engine, spec.image, { log });
    } catch (error) {
      throw failure(`pull of ${spec.image} failed: ${engineMessage(error)}`, error);
    }
    const id = await imageIdOf(engine, spec.image);
    if (!id) throw failure(`pull of ${spec.image} finished but the image is not there`);
    if (existing === id) {
      if (backup) await engine.getImage(backup).remove({ noprune: true });
      return { action: 'pulled', ref: spec.image, id };
    }
    return { action: 'pulled', ref: spec.image, id, previous: existing, backup };
  }
  const id = await debootstrapImage(engine, spec.source, spec.image, log);
  await verifyRoot(engine, id);
  return { action: 'debootstrapped', ...(await promoteTag(engine, id, spec.image)) };
}

/** Mounts debootstrap left below `dir` (proc, sys in its chroot), deepest first. */
function mountsBelow(dir: string): string[] {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((m): m is string => Boolean(m) && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

async function debootstrapImage(engine: Engine, source: DebootstrapSource, ref: string, log: Writable): Promise<string> {
  const { $ } = require('zx') as typeof import('zx');
  if ((await $({ nothrow: true, quiet: true })`command -v debootstrap`).exitCode !== 0) {
    throw usageError('debootstrap is not installed: run tools/bootstrap (or apt-get install debootstrap), or set root.pull in deployment.yaml');
  }
  if (process.getuid?.() !== 0) throw usageError('debootstrap needs root to make the root image: run image-base as root');
  const rootfs = mkdtempSync(join(tmpdir(), 'imagewright-rootfs-'));
  const controller = new AbortController();
  // An interrupt stops debootstrap or the import, then the finally block removes the temp root.
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const include = source.include.length ? [`--include=${source.include.join(',')}`] : [];
    const sh = $({ signal: controller.signal, quiet: true });
    const boot = sh`debootstrap --variant=${source.variant} ${include} ${source.suite} ${rootfs} ${source.mirror}`;
    boot.stdout.pipe(log, { end: false });
    boot.stderr.pipe(log, { end: false });
    await boot;
    // Downloaded .debs and package lists are build leftovers, not part of the root.
    await sh`find ${rootfs}/var/cache/apt/archives ${rootfs}/var/lib/apt/lists -type f -delete`;
    log.write(`importing ${source.suite} root filesystem into the engine\n`);
    // A plain spawn: zx would keep the whole tar stream in memory as the command's output.
    const tar = spawn('tar', ['--numeric-owner', '--xattrs', '-C', rootfs, '-cf', '-', '.'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      signal: controller.signal,
    });
    const tarDone = new Promise<void>((resolve, reject) => {
      tar.on('error', reject);
      tar.on('close', (code) => (code === 0 ? resolve() : reject(failure(`tar of the root filesystem failed (exit ${code})`))));
    });
    const [repo] = splitRef(ref);
    const stream = await engine.importImage(tar.stdout as unknown as NodeJS.ReadableStream, {
      changes: ['CMD ["bash"]', 'ENV LANG=C.UTF-8'],
      message: `imagewright image-base: debootstrap --variant=${source.variant} ${source.suite} ${source.mirror}`,
      abortSignal: controller.signal,
    } as object);
    const [{ imageId }] = await Promise.all([followProgress(stream as unknown as Readable), tarDone]);
    if (!imageId) throw failure(`import of the ${source.suite} root for ${repo} returned no image ID`);
    return imageId;
  } catch (error) {
    if (controller.signal.aborted) throw failure('interrupted: no tag was moved');
    if ((error as { exitCode?: number }).exitCode !== undefined) {
      throw failure(`debootstrap of ${source.suite} from ${source.mirror} failed (exit ${(error as { exitCode: number }).exitCode}): see its output above`);
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const mount of mountsBelow(rootfs)) await $({ nothrow: true, quiet: true })`umount -l ${mount}`;
    rmSync(rootfs, { recursive: true, force: true });
  }
}

/** A root is usable when a container of it runs a shell and has apt. */
async function verifyRoot(engine: Engine, id: string): Promise<void> {
  const discard = new PassThrough().resume();
  const code = await runContainer(engine, {
    image: id,
    cmd: ['sh', '-c', 'command -v apt-get >/dev/null && test -s /etc/debian_version'],
    flags: mergeRunFlags(emptyRunFlags(), { rm: true }),
    stdout: discard,
    stderr: discard,
  });
  if (code !== 0) throw failure(`the new root image ${id.slice(7, 19)} failed its check (no shell or apt): tag not moved`);
}
