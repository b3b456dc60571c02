#!/usr/bin/env -S node --
import { command, formatElapsed, shortId, usageError } from '@imagewright/core/bin';

command({
  name: 'squash',
  summary: 'Squash an image to one layer (or its top layers onto a base) in one streaming pass, duplicates hard-linked.',
  image: 'positional',
  description: `
IMAGE (default IMAGE_ID) and DEST take skopeo's transports: REF or docker-daemon:REF (the Engine),
docker://REF (a registry: no Engine, no local disk), docker-archive:FILE[:REF], oci:DIR[:REF],
oci-archive:FILE[:REF]. The layers are read once, merged top-down honouring whiteouts and opaque
directories, files with the same content (sha256, size, mode, owner, xattrs) become hard links to
the first, and the new image is written: no container run, no temporary archive.
--keep-base N keeps the bottom N layers; --onto BASE keeps the layers shared with BASE (the common
image), so images built on it keep sharing it. Every config field (Env, Entrypoint, Cmd, User,
WorkingDir, Labels, ExposedPorts, Volumes, StopSignal, OnBuild, Healthcheck) is kept; history gets
one entry for the squashed part.
DEST defaults to IMAGE's own tag. It moves only after the new image's layers are verified, and the
image it pointed at keeps the tag <repo>:pre-squash. -o FILE|- writes a docker-archive instead
(readable by docker load, skopeo and OCI tools; -t then names the image inside it). A full squash of an Engine image reads it through a
container export (the Engine merges, in order; its /.dockerenv is left out); other cases read layers.`,
  config: 'lazy',
  json: true,
  options: {
    tag: { type: 'string', short: 't', value: 'DEST', description: 'where the result goes (default: the source tag)' },
    'keep-base': { type: 'string', value: 'N', description: 'keep the bottom N layers, squash the rest' },
    onto: { type: 'string', value: 'BASE', description: 'keep the layers shared with BASE' },
    'no-crosslink': { type: 'boolean', description: 'do not hard-link duplicate files' },
    'crosslink-path': { type: 'string', multiple: true, value: 'P', description: 'hard-link duplicates only under P (repeatable)' },
    output: { type: 'string', short: 'o', value: 'FILE', description: 'write a docker-archive to FILE (- for stdout)' },
  },
  conflicts: [['keep-base', 'onto'], ['no-crosslink', 'crosslink-path']],
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run(ctx) {
    const { values, out, env } = ctx;
    const keepText = values['keep-base'] as string | undefined;
    if (keepText !== undefined && !/^\d+$/.test(keepText)) throw usageError(`--keep-base ${JSON.stringify(keepText)}: allowed a whole number of layers (0 or more)`);
    const output = values.output as string | undefined;
    if (output === '-' && out.json) throw usageError('--json and -o - both want stdout: give one');
    if (output === '-' && out.tty) throw usageError('-o -: stdout is a terminal; allowed a file name, or - into a pipe');
    const paths = (values['crosslink-path'] as string[] | undefined) ?? [];
    const crosslink = values['no-crosslink'] ? false : paths.length ? paths : true;
    const image = require('@imagewright/image') as typeof import('@imagewright/image');
    const source = ctx.image;
    const sourceLocation = image.parseLocation(source, 'IMAGE');
    const destText = (values.tag as string | undefined) ?? (output ? undefined : defaultDest(sourceLocation));
    const dest = destText === undefined ? undefined : image.parseLocation(destText, '-t');
    if (!output && !dest) throw usageError(`IMAGE ${source}: has no tag to write back to; allowed -t DEST or -o FILE`);

    const started = Date.now();
    const { connectEngine, progressBar } = require('@imagewright/docker') as typeof import('@imagewright/docker');
    let engine: Promise<import('@imagewright/docker').Engine> | undefined;
    const connect = () => (engine ??= connectEngine(env));
    const bar = out.stderr.isTTY && !process.env.CI;
    const plan = await image.planSquash({
      source,
      keepBase: keepText === undefined ? undefined : Number(keepText),
      onto: values.onto as string | undefined,
      crosslink,
      env,
      engine: connect,
    });
    const release = image.closeOnSignals(plan.image);
    try {
      let last = 0;
      const result = await image.squash(plan, {
        crosslink,
        onProgress: bar
          ? (read, total) => {
              const now = Date.now();
              if (now - last < 100) return;
              last = now;
              out.stderr.write(`\r${progressBar(read, total || read)} `);
            }
          : undefined,
      });
      const written = await image.writeImage(result, output ? { output, tags: dest?.transport === 'engine' ? [dest.ref] : [] } : { location: dest! }, { env, engine: connect, backupTag: 'pre-squash', stdout: out.stdout });
      if (bar) out.stderr.write('\r\x1b[K');
      const stats = await result.stats;
      const seconds = (Date.now() - started) / 1000;
      const sizes = await engineSizes(plan, written, connect);
      // Through a container export the Engine has already left out overwritten and deleted files;
      // what they took is what the image lost beyond the hard links (the Engine's sizes are content bytes).
      const droppedBytes = plan.viaExport ? (sizes ? Math.max(0, sizes.before - sizes.after - stats.bytesSavedByLinks) : null) : stats.bytesDropped;
      const report = {
        source,
        destination: written.where,
        id: written.id,
        diffIds: written.diffIds,
        ...(written.digest ? { digest: written.digest } : {}),
        layers: { before: plan.layers, after: plan.keep + 1, kept: plan.keep },
        via: plan.viaExport ? 'container export' : 'layers',
        bytes: { read: stats.bytesRead, written: stats.size, savedByCrosslink: stats.bytesSavedByLinks, dropped: droppedBytes },
        files: { linked: stats.linksMade, dropped: plan.viaExport ? null : stats.filesDropped },
        ...(sizes ? { size: sizes } : {}),
        ...(written.backup ? { backup: written.backup } : {}),
        seconds,
      };
      if (out.json) return out.printJson(report);
      const { humanSize } = require('@imagewright/core') as typeof import('@imagewright/core');
      const say = (text: string) => out.stderr.write(`squash: ${text}\n`);
      say(`${plan.layers} layer${plan.layers === 1 ? '' : 's'} → ${plan.keep + 1}${plan.keep ? ` (${plan.keep} kept)` : ''}, read ${humanSize(stats.bytesRead)} via ${report.via}, wrote ${humanSize(stats.size)}`);
      const dropped = plan.viaExport
        ? `overwritten or deleted files dropped ${droppedBytes === null ? '(not known)' : `about ${humanSize(droppedBytes)}`} (left out by the Engine's merge)`
        : `overwritten or deleted files dropped ${humanSize(stats.bytesDropped)} (${stats.filesDropped} files)`;
      say(`crosslink saved ${humanSize(stats.bytesSavedByLinks)} (${stats.linksMade} hard links); ${dropped}`);
      if (sizes) say(`size ${humanSize(sizes.before)} → ${humanSize(sizes.after)}`);
      if (written.backup) say(`${written.backup.ref} keeps the previous image ${shortId(written.backup.id)}`);
      say(`${written.where} is ${shortId(written.id)}, in ${formatElapsed(seconds)}`);
    } finally {
      release();
      await plan.image.close();
    }
  },
});

/** A bare or docker-daemon: source writes back to its own tag; docker:// to its own registry tag. */
function defaultDest(location: import('@imagewright/image').ImageLocation): string | undefined {
  if (location.transport === 'engine') return /^(sha256:)?[0-9a-f]{12,64}$/.test(location.ref) || location.ref.includes('@') ? undefined : location.ref;
  if (location.transport === 'registry') return location.ref.includes('@') ? undefined : `docker://${location.ref}`;
  return undefined;
}

/** Image sizes before and after, when both are in the Engine. */
async function engineSizes(
  plan: import('@imagewright/image').SquashPlan,
  written: import('@imagewright/image').WriteResult,
  connect: () => Promise<import('@imagewright/docker').Engine>,
): Promise<{ before: number; after: number } | undefined> {
  if (plan.location.transport !== 'engine' || written.where === 'stdout' || written.digest) return undefined;
  const engine = await connect();
  const size = async (ref: string) => ((await engine.getImage(ref).inspect()) as unknown as { Size: number }).Size;
  try {
    return { before: await size(plan.location.ref === written.where ? written.backup?.id ?? plan.location.ref : plan.location.ref), after: await size(written.id) };
  } catch {
    return undefined;
  }
}
