#!/usr/bin/env -S node --
import { command } from '@imagewright/core/bin';

command({
  name: 'image-env-list',
  summary: 'List the Python environments in the image: conda envs when it has conda, else the declared venvs and system Python.',
  description: `
One name per line in a pipe (as the original's \`conda env list | cut\`), a table with each
environment's kind (conda, venv, system) and prefix on a terminal; --json gives
[{name, kind, prefix, python}].`,
  config: true,
  image: 'option',
  json: true,
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run({ out, env, image, loaded: { config } }) {
    // Any transport: archives and OCI layouts are loaded into the Engine first.
    image = await (require('@imagewright/image') as typeof import('@imagewright/image')).engineRef(image, { env });
    const docker = require('@imagewright/docker') as typeof import('@imagewright/docker');
    const { listEnvironments } = require('@imagewright/environments') as typeof import('@imagewright/environments');
    const engine = await docker.connectEngine(env);
    const environments = await listEnvironments(engine, image, docker.parseRunFlags(config.IMAGE_RUN_PARS, { env }));
    if (out.json) return out.printJson(environments);
    if (!out.tty) return environments.forEach((e) => out.line(e.name));
    out.table(['NAME', 'KIND', 'PREFIX'], environments.map((e) => [e.name, e.kind, e.prefix]));
  },
});
