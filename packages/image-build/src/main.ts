#!/usr/bin/env node
import { command } from '@imagewright/core';

command({
  name: 'image-build',
  summary: 'Build the common and mission images of the deployment (image-update, image-base, then both builds).',
  description:
    'Step output goes to stderr as it comes; stdout gets one line per image: REF ID. Tags move only\n' +
    'after both images built, and a replaced image keeps a <tag>-previous backup tag. A failing step\n' +
    'shows its output, exits 1, and moves no tag.',
  config: true,
  json: true,
  options: {
    'no-cache': { type: 'boolean', description: 'do not use the build cache' },
    'rebuild-base': { type: 'boolean', description: 'make the root image again even when it exists' },
  },
  async run({ values, out, env, loaded }) {
    const { connectEngine } = require('@imagewright/docker') as typeof import('@imagewright/docker');
    const { buildChain } = require('@imagewright/build') as typeof import('@imagewright/build');
    const engine = await connectEngine(env);
    const result = await buildChain(engine, loaded, {
      noCache: Boolean(values['no-cache']),
      rebuildBase: Boolean(values['rebuild-base']),
      step: out.step,
    });
    if (out.json) return out.printJson(result);
    for (const image of [result.common, result.image]) {
      out.line(`${image.ref} ${image.id}${image.backup ? ` (previous kept as ${image.backup})` : ''}`);
    }
  },
});
