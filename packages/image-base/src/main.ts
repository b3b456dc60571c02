#!/usr/bin/env -S node --
import { command } from '@imagewright/core/bin';

command({
  name: 'image-base',
  summary: 'Make or reuse the root image of the deployment chain (debootstrap, or pull).',
  description:
    'The root is named by deployments/<name>/deployment.yaml (default: Debian bookworm minbase made\n' +
    'with debootstrap and imported as one layer through the Engine API). An existing root is reused\n' +
    'unless --rebuild; a replaced one keeps a <tag>-previous backup tag.',
  config: true,
  json: true,
  options: { rebuild: { type: 'boolean', description: 'make (or pull) the root again even when it exists' } },
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run({ values, out, env, loaded: { deployment } }) {
    const { connectEngine } = require('@imagewright/docker') as typeof import('@imagewright/docker');
    const { ensureRootImage } = require('@imagewright/chain') as typeof import('@imagewright/chain');
    const engine = await connectEngine(env);
    const { root } = deployment.spec;
    const result = await ensureRootImage(engine, root, { rebuild: Boolean(values.rebuild) });
    if (out.json) return out.printJson(result);
    out.line(`${result.ref} ${result.id} ${result.action}${result.backup ? ` (previous kept as ${result.backup})` : ''}`);
  },
});
