#!/usr/bin/env -S node --
import { command } from '@imagewright/core/bin';

command({
  name: 'image-env-export',
  summary: "Print an environment's exact versions as YAML in the shape of `conda env export --no-build`.",
  args: 'ENV',
  positionals: { min: 1, max: 1 },
  description: `
name, channels, dependencies (with a nested pip: list) and prefix, as conda writes them; for a
venv or the system Python, the same shape from pip freeze, plus an apt: list pinning the Debian
packages the environment's *.apt specs name. This is what image-freeze writes to the frozen file.`,
  config: true,
  image: 'option',
  json: true,
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run({ positionals, out, env, image, loaded: { config } }) {
    // Any transport: archives and OCI layouts are loaded into the Engine first.
    image = await (require('@imagewright/image') as typeof import('@imagewright/image')).engineRef(image, { env });
    const docker = require('@imagewright/docker') as typeof import('@imagewright/docker');
    const { exportEnvironments, renderExport } = require('@imagewright/environments') as typeof import('@imagewright/environments');
    const engine = await docker.connectEngine(env);
    const [exported] = await exportEnvironments(engine, image, positionals, docker.parseRunFlags(config.IMAGE_RUN_PARS, { env }));
    if (out.json) return out.printJson(exported);
    out.stdout.write(renderExport(exported));
  },
});
