#!/usr/bin/env -S node --
import { command, formatElapsed, shortId, usageError } from '@imagewright/core/bin';

command({
  name: 'squash-import',
  summary: 'Make a one-layer image from a filesystem tar stream, with every metadata field of --from.',
  description: `
The tar (squash-export's, or a \`docker export\`) comes from -f FILE or stdin. The new image takes
--from's config whole (Env, Entrypoint, Cmd, User, WorkingDir, Labels, ExposedPorts, Volumes,
StopSignal, OnBuild, Healthcheck…) with one layer and one history entry, what \`docker import
--change …\` could only partly restore. --from and -t take squash's transports. The tag moves
only after the image is verified; the image it pointed at keeps <repo>:pre-squash.
  squash-export img | squash-import --from img -t img:flat`,
  config: 'lazy',
  json: true,
  options: {
    file: { type: 'string', short: 'f', value: 'FILE', description: 'read the tar from FILE (- or absent: stdin)' },
    from: { type: 'string', value: 'IMAGE', description: 'the image whose metadata the new image takes (required)' },
    tag: { type: 'string', short: 't', value: 'TAG', description: 'where the new image goes (required)' },
  },
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run(ctx) {
    const { values, out, env } = ctx;
    const from = values.from as string | undefined;
    const tag = values.tag as string | undefined;
    if (!from) throw usageError('--from IMAGE is required: the image whose metadata the new one takes');
    if (!tag) throw usageError('-t TAG is required: where the new image goes');
    const file = (values.file as string | undefined) ?? '-';
    if (file === '-' && process.stdin.isTTY) throw usageError('stdin is a terminal: allowed -f FILE, or a tar stream piped in');
    const image = require('@imagewright/image') as typeof import('@imagewright/image');
    const dest = image.parseLocation(tag, '-t');
    const fs = require('node:fs') as typeof import('node:fs');
    if (file !== '-' && !fs.existsSync(file)) throw usageError(`-f ${file}: no such file; allowed a tar file or - for stdin`);
    const started = Date.now();
    const { connectEngine } = require('@imagewright/docker') as typeof import('@imagewright/docker');
    let engine: Promise<import('@imagewright/docker').Engine> | undefined;
    const connect = () => (engine ??= connectEngine(env));
    const config = await image.configOf(from, '--from', { env, engine: connect });
    const tar = file === '-' ? process.stdin : fs.createReadStream(file);
    const made = image.importFilesystem(tar, config, { name: file === '-' ? 'stdin' : file });
    const written = await image.writeImage(made, { location: dest }, { env, engine: connect, backupTag: 'pre-squash' });
    const stats = await made.stats;
    const seconds = (Date.now() - started) / 1000;
    if (out.json) return out.printJson({ destination: written.where, id: written.id, diffIds: written.diffIds, bytes: stats.size, ...(written.backup ? { backup: written.backup } : {}), seconds });
    if (written.backup) out.stderr.write(`squash-import: ${written.backup.ref} keeps the previous image ${shortId(written.backup.id)}\n`);
    out.stderr.write(`squash-import: ${written.where} is ${shortId(written.id)}, in ${formatElapsed(seconds)}\n`);
  },
});
