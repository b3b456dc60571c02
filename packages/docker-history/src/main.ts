#!/usr/bin/env -S node --
import { command } from '@imagewright/core/bin';

command({
  name: 'docker-history',
  summary: 'Show how an image was built, step by step, like `docker history --no-trunc`.',
  image: 'positional',
  description: [
    'IMAGE defaults to the configured IMAGE_ID (the original showed whichever image `docker image ls`',
    'listed first). Newest step first; <missing> marks steps whose image was built elsewhere.',
    '--json prints exact values: createdBy untouched, size in bytes, created as ISO 8601.',
    '--format takes a Go template as `docker history --format` does: {{.ID}}, {{.CreatedSince}},',
    '{{.CreatedAt}}, {{.CreatedBy}}, {{.Size}}, {{.Comment}}, {{json .}}; "table " aligns columns under',
    'a header row; json is {{json .}}; functions json, upper, lower, title, truncate, pad, split, join,',
    'print, println, len.',
  ].join('\n'),
  config: 'lazy',
  json: true,
  options: {
    quiet: { type: 'boolean', short: 'q', description: 'print only the image IDs' },
    human: { type: 'boolean', short: 'H', description: 'ages and decimal sizes (the default)' },
    'no-human': { type: 'boolean', description: 'creation times as RFC 3339 and sizes in bytes' },
    format: { type: 'string', value: 'FORMAT', description: 'a Go template per row, as docker history --format' },
    'no-trunc': { type: 'boolean', description: "accepted for docker's sake: output is never truncated" },
  },
  conflicts: [['human', 'no-human'], ['format', 'json'], ['format', 'quiet']],
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run(ctx) {
    const { values, out, env } = ctx;
    const format = values.format as string | undefined;
    const { renderFormat } = require('@imagewright/core') as typeof import('@imagewright/core');
    // A bad template is a usage error before the engine is asked anything.
    if (format) renderFormat(format, []);
    // Config only when no IMAGE is named: `docker-history alpine` works outside a checkout.
    const ref = await (require('@imagewright/image') as typeof import('@imagewright/image')).engineRef(ctx.image, { env });
    // Loaded here, not at the top: --help and usage errors never pay for the engine client.
    const docker = require('@imagewright/docker') as typeof import('@imagewright/docker');
    const { connectEngine, imageHistory, historyJson, historyRows } = docker;
    const entries = await imageHistory(await connectEngine(env), ref);
    if (out.json) return out.printJson(values.quiet ? entries.map((e) => e.id) : historyJson(entries));
    if (values.quiet) return entries.forEach((e) => out.line(e.id));
    // The default table is docker's own default format, so both render alike.
    const human = !values['no-human'];
    const table = human ? docker.HISTORY_TABLE_FORMAT : docker.HISTORY_TABLE_FORMAT_EXACT;
    out.stdout.write(renderFormat(format || 'table', historyRows(entries, { human }), { header: docker.HISTORY_HEADER, table }));
  },
});
