#!/usr/bin/env -S node --
import { command, shortId } from '@imagewright/core/bin';

command({
  name: 'image-patches',
  summary: "An image's patch history, oldest first, read from /opt/patches in its layers (no container).",
  image: 'positional',
  description: `
IMAGE (default IMAGE_ID) takes the transports: REF or docker-daemon:REF (the Engine),
docker://REF (a registry, no Engine needed), docker-archive:FILE[:REF], oci:DIR[:REF],
oci-archive:FILE[:REF]. Each patch is one /opt/patches/<source-id>/metadata.yaml (the original's
two-field files too); they are ordered by the layer that holds them, then by time.
--ledger shows the deployment's deployments/<name>/patches.yaml instead: every patch made with
these tools, with source and result images, kept in git.`,
  config: 'lazy',
  json: true,
  options: { ledger: { type: 'boolean', description: "show the deployment's patch ledger (patches.yaml)" } },
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run(ctx) {
    const { out, env } = ctx;
    const patch = require('@imagewright/patch') as typeof import('@imagewright/patch');
    const firstLine = (text: unknown) => String(text ?? '').split('\n')[0];
    if (ctx.values.ledger) {
      const file = (require('node:path') as typeof import('node:path')).join(ctx.loaded.deployment.dir, 'patches.yaml');
      const entries = patch.readLedger(file);
      if (out.json) return out.printJson(entries);
      if (!entries.length) return out.info(`no patches recorded in ${file}`);
      out.table(
        ['TIME', 'COMMAND', 'AUTHOR', 'SOURCE', 'RESULT', 'TAG', 'DESCRIPTION'],
        entries.map((e) => [e.time, e.command, e.author, shortId(e.source?.id ?? ''), shortId(e.result?.id ?? ''), e.result?.tag ?? '', firstLine(e.description)]),
      );
      return;
    }
    const { openImage } = require('@imagewright/image') as typeof import('@imagewright/image');
    const image = await openImage(ctx.image, { env, input: 'IMAGE' });
    let history: import('@imagewright/patch').RecordedPatch[];
    try {
      history = await patch.patchHistory(image);
    } finally {
      await image.close();
    }
    if (out.json) return out.printJson(history.map((p) => ({ dir: p.dir, layer: p.layer, ...p.metadata })));
    if (!history.length) return out.info(`${ctx.image}: no patches recorded in /opt/patches`);
    out.table(
      ['#', 'DIR', 'TIME', 'AUTHOR', 'SCRIPT', 'DESCRIPTION'],
      history.map((p, i) => [String(i + 1), p.dir, p.metadata.time ?? '', p.metadata.author ?? '', p.metadata.script?.name ?? '', firstLine(p.metadata.description)]),
    );
  },
});
