#!/usr/bin/env -S node --
import { command, usageError } from '@imagewright/core/bin';

command({
  name: 'image-layers',
  summary: "Per-layer sizes, bytes later layers throw away, duplicate files and the image's efficiency, as dive shows them.",
  image: 'positional',
  description: `
IMAGE (or --image; default IMAGE_ID) is any image location: an Engine image (REF or
docker-daemon:REF), docker://REF, docker-archive:FILE[:REF], oci:DIR[:REF], oci-archive:FILE[:REF].
Every layer is read once. Bytes are regular files' content (links and directories count 0).

Per layer, bottom to top: its history step (created_by), the bytes and files it adds, and WASTED:
its files that a later layer overwrites (by any type, or by replacing a parent directory) or
deletes (whiteout of the file or a parent, opaque parent).
  wasted      every copy of a file but the final one, and every deleted file: image bytes minus
              final filesystem bytes (dive counts the final copy too);
  efficiency  final filesystem bytes / image bytes (1 for an empty image);
  duplicates  files of the final filesystem with the same sha256 and size, reported apart: the
              bytes hard links would save (crosslink).
A table on a terminal, plain lines in a pipe, --json with exact bytes.

--ci checks thresholds and exits 1 naming each one failed: --max-wasted BYTES (wasted bytes
above it fail; 50000000, 50MB or 50M are decimal as docker prints sizes, 48MiB binary) and
--min-efficiency R (0 to 1; default 0.9, dive's lowestEfficiency).`,
  config: 'lazy',
  json: true,
  options: {
    ci: { type: 'boolean', description: 'check the thresholds: exit 1 when one fails' },
    'max-wasted': { type: 'string', value: 'BYTES', description: 'with --ci: most wasted bytes allowed (K/M/G/T decimal, KiB… binary)' },
    'min-efficiency': { type: 'string', value: 'R', description: 'with --ci: least efficiency allowed, 0 to 1 (default 0.9)' },
  },
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run(ctx) {
    const { values, out, env } = ctx;
    // Loaded here, not at the top: --help stays cheap.
    const image = require('@imagewright/image') as typeof import('@imagewright/image');
    for (const name of ['max-wasted', 'min-efficiency']) {
      if (values[name] !== undefined && !values.ci) throw usageError(`--${name} goes with --ci`);
    }
    const thresholds = values.ci
      ? {
          maxWasted: values['max-wasted'] === undefined ? undefined : image.parseBytes(values['max-wasted'] as string),
          minEfficiency: image.parseRatio((values['min-efficiency'] as string | undefined) ?? '0.9'),
        }
      : undefined;
    const opened = await image.openImage(ctx.image, { env, input: values.image === undefined ? 'IMAGE' : '--image' });
    let report;
    try {
      report = await image.analyseImage(opened);
    } finally {
      await opened.close();
    }
    const failed = thresholds ? image.failedThresholds(report, thresholds) : [];
    if (out.json) {
      const { wasted, duplicates, ...rest } = report;
      out.printJson({
        ...rest,
        wasted: wasted.slice(0, 100),
        duplicates: { ...duplicates, top: duplicates.top.slice(0, 100) },
        ...(thresholds ? { ci: { pass: failed.length === 0, thresholds, failed } } : {}),
      });
    } else {
      const headers = ['LAYER', 'SIZE', 'FILES', 'WASTED', 'CREATED BY'];
      const rows = image.layerRows(report, out.tty ? 60 : Infinity);
      if (out.tty) out.table(headers, rows);
      else for (const row of rows) out.line(`layer ${row[0]}: ${row[1]} in ${row[2]} files, ${row[3]} wasted: ${row[4]}`);
      for (const line of image.summaryLines(report)) out.line(line);
      if (thresholds) {
        if (failed.length) for (const line of failed) out.line(`FAIL ${line}`);
        else out.line('PASS every threshold');
      }
    }
    return failed.length ? 1 : 0;
  },
});
