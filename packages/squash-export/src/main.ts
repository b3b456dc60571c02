#!/usr/bin/env -S node --
import { command, usageError } from '@imagewright/core/bin';

command({
  name: 'squash-export',
  summary: "An image's merged filesystem as one tar stream, made by squash's merge (duplicates hard-linked).",
  image: 'positional',
  description: `
IMAGE (default IMAGE_ID) takes the transports squash takes. The stream is what squash would write
as its single layer: whiteouts applied, overwritten files gone, no whiteout markers, duplicates
hard-linked unless --no-crosslink. Into a pipe or -o FILE (written as FILE.partial, renamed at the
end: an interrupted export leaves no FILE). Pairs with squash-import:
  squash-export img | squash-import --from img -t img:flat`,
  config: 'lazy',
  options: {
    output: { type: 'string', short: 'o', value: 'FILE', description: 'write to FILE instead of stdout (- for stdout)' },
    'no-crosslink': { type: 'boolean', description: 'do not hard-link duplicate files' },
    'crosslink-path': { type: 'string', multiple: true, value: 'P', description: 'hard-link duplicates only under P (repeatable)' },
  },
  conflicts: [['no-crosslink', 'crosslink-path']],
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run(ctx) {
    const { values, out, env } = ctx;
    const output = (values.output as string | undefined) ?? '-';
    if (output === '-' && out.tty) throw usageError('stdout is a terminal: allowed -o FILE, or a pipe (squash-export IMG | …)');
    const paths = (values['crosslink-path'] as string[] | undefined) ?? [];
    const crosslink = values['no-crosslink'] ? false : paths.length ? paths : true;
    const image = require('@imagewright/image') as typeof import('@imagewright/image');
    const plan = await image.planSquash({ source: ctx.image, crosslink, env });
    const release = image.closeOnSignals(plan.image);
    try {
      const result = await image.squash(plan, { crosslink });
      await image.writeStream(result.top.stream, output === '-' ? { stream: out.stdout } : { file: output });
      const stats = await result.stats;
      const { humanSize } = require('@imagewright/core') as typeof import('@imagewright/core');
      out.stderr.write(`squash-export: ${humanSize(stats.size)} (${stats.diffId}) from ${plan.layers} layer${plan.layers === 1 ? '' : 's'}; ${stats.linksMade} hard links saved ${humanSize(stats.bytesSavedByLinks)}\n`);
    } finally {
      release();
      await plan.image.close();
    }
  },
});
