#!/usr/bin/env -S node --
import { command } from '@imagewright/core/bin';

command({
  name: 'image-freeze',
  summary: "Write every environment's exact versions from the built image (IMAGE_ID) to its frozen file.",
  description: `
Frozen files: environments/frozen/<env>-frozen.yml in the deployment's image folder, or
env-frozen/<env>/requirements.yml when that layout is in use. One line per environment: added,
changed (with the packages that moved) or unchanged. Files are written all together or not at
all, only when they changed; no other file is deleted or reverted. image-build runs this after a
USE_FROZEN=0 build. --json: [{environment, file, status, changes: [{section, name, from, to}]}].`,
  config: true,
  image: 'option',
  json: true,
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run({ out, env, image, loaded: { config, tree, deployment } }) {
    // Any transport: archives and OCI layouts are loaded into the Engine first.
    image = await (require('@imagewright/image') as typeof import('@imagewright/image')).engineRef(image, { env });
    const docker = require('@imagewright/docker') as typeof import('@imagewright/docker');
    const { freezeFromImage, freezeJson, freezeLines } = require('@imagewright/environments') as typeof import('@imagewright/environments');
    const engine = await docker.connectEngine(env);
    const plans = await freezeFromImage(engine, image, deployment, docker.parseRunFlags(config.IMAGE_RUN_PARS, { env }));
    if (out.json) return out.printJson(freezeJson(plans, tree.root));
    if (plans.length === 0) return out.info(`image-freeze: deployment ${deployment.name} declares no environments`);
    freezeLines(plans, tree.root).forEach((l) => out.info(l));
  },
});
