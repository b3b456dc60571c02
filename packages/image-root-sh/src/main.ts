#!/usr/bin/env -S node --
import { command } from '@imagewright/core/bin';

command({
  name: 'image-root-sh',
  summary: 'Open an interactive root shell (uid 0, gid 0) in a fresh container of the image (IMAGE_ID, or IMAGE).',
  image: 'positional',
  passThrough: true,
  positionals: { max: 0 },
  runFlags: (word) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).runFlagArity(word),
  description: `
As image-sh, with -u 0:0 in place of any user IMAGE_RUN_PARS sets: for installing or inspecting
what the image's own user may not touch. Nothing done in the container is kept when
IMAGE_RUN_PARS has --rm (the default).`,
  config: true,
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run({ runArgs, env, image, loaded: { config } }) {
    // Any transport: archives and OCI layouts are loaded into the Engine first.
    image = await (require('@imagewright/image') as typeof import('@imagewright/image')).engineRef(image, { env });
    const docker = require('@imagewright/docker') as typeof import('@imagewright/docker');
    const flags = docker.shellFlags(docker.runFlagsFrom(config.IMAGE_RUN_PARS, runArgs, env), Boolean(process.stdin.isTTY), { root: true });
    const engine = await docker.connectEngine(env);
    return docker.runContainer(engine, { image, cmd: docker.INTERACTIVE_SHELL, flags });
  },
});
