#!/usr/bin/env node
import { command, usageError } from '@imagewright/core';

command({
  name: 'docker-history',
  summary: 'Show how an image was built, step by step, like `docker history --no-trunc`.',
  args: '[IMAGE]',
  positionals: { max: 1 },
  description: [
    'IMAGE defaults to the configured IMAGE_ID (the original showed whichever image `docker image ls`',
    'listed first). Newest step first; <missing> marks steps whose image was built elsewhere.',
    '--json prints exact values: createdBy untouched, size in bytes, created as ISO 8601.',
  ].join('\n'),
  config: 'lazy',
  json: true,
  options: {
    quiet: { type: 'boolean', short: 'q', description: 'print only the image IDs' },
    human: { type: 'boolean', short: 'H', description: 'ages and decimal sizes (the default)' },
    'no-human': { type: 'boolean', description: 'creation times as RFC 3339 and sizes in bytes' },
  },
  async run(ctx) {
    const { values, positionals, out, env } = ctx;
    if (values.human && values['no-human']) throw usageError('--human and --no-human conflict: give at most one');
    // Config only when no IMAGE is named: `docker-history alpine` works outside a checkout.
    const ref = positionals[0] ?? ctx.loaded.config.IMAGE_ID;
    if (ref === '') throw usageError('IMAGE is empty: allowed a local image reference or ID');
    // Loaded here, not at the top: --help and usage errors never pay for the engine client.
    const { connectEngine, imageHistory, historyJson, historyTable } = require('@imagewright/docker') as typeof import('@imagewright/docker');
    const entries = await imageHistory(await connectEngine(env), ref);
    if (out.json) return out.printJson(values.quiet ? entries.map((e) => e.id) : historyJson(entries));
    if (values.quiet) return entries.forEach((e) => out.line(e.id));
    const { headers, rows } = historyTable(entries, { human: !values['no-human'] });
    out.table(headers, rows);
  },
});
