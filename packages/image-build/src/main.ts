#!/usr/bin/env -S node --
import { command } from '@imagewright/core/bin';

command({
  name: 'image-build',
  summary: 'Build the common and mission images of the deployment (image-update, image-base, then both builds).',
  description:
    'Step output goes to stderr as it comes; stdout gets one line per image: REF ID. Tags move only\n' +
    'after both images built, and a replaced image keeps a <tag>-previous backup tag. A failing step\n' +
    'shows its output, exits 1, and moves no tag. USE_FROZEN picks the environment specs: 1 the frozen\n' +
    'files, 2 the chilled ones (image-chill), 0 the floating specs, and then image-freeze runs and\n' +
    'writes the new frozen files (its lines go to stderr). A missing frozen or chilled file is exit 2\n' +
    'before anything is built.',
  config: true,
  json: true,
  options: {
    'no-cache': { type: 'boolean', description: 'do not use the build cache' },
    'rebuild-base': { type: 'boolean', description: 'make the root image again even when it exists' },
  },
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run({ values, out, env, loaded }) {
    const docker = require('@imagewright/docker') as typeof import('@imagewright/docker');
    const { buildChain } = require('@imagewright/chain') as typeof import('@imagewright/chain');
    const engine = await docker.connectEngine(env);
    const result = await buildChain(engine, loaded, {
      noCache: Boolean(values['no-cache']),
      rebuildBase: Boolean(values['rebuild-base']),
      step: out.step,
    });
    let freeze: unknown;
    if (loaded.config.USE_FROZEN === '0') {
      // As the original: a floating build is followed by image-freeze.
      const environments = require('@imagewright/environments') as typeof import('@imagewright/environments');
      const deployment = loaded.deployment;
      out.step(`image-freeze: ${deployment.environments.length} environment(s) of ${deployment.name}`);
      const flags = docker.parseRunFlags(loaded.config.IMAGE_RUN_PARS, { env });
      const plans = await environments.freezeFromImage(engine, result.image.id, deployment, flags);
      environments.freezeLines(plans, loaded.tree.root).forEach((l) => out.info(l));
      freeze = environments.freezeJson(plans, loaded.tree.root);
    }
    if (out.json) return out.printJson({ ...result, ...(freeze ? { freeze } : {}) });
    for (const image of [result.common, result.image]) {
      out.line(`${image.ref} ${image.id}${image.backup ? ` (previous kept as ${image.backup})` : ''}`);
    }
  },
});
