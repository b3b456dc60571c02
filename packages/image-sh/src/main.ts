#!/usr/bin/env -S node --
import { command } from '@imagewright/core/bin';

command({
  name: 'image-sh',
  summary: 'Open an interactive shell in a fresh container of the image (IMAGE_ID, or IMAGE).',
  image: 'positional',
  passThrough: true,
  positionals: { max: 0 },
  runFlags: (word) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).runFlagArity(word),
  description: `
Runs bash --rcfile /etc/bash.bashrc when the image has bash, else sh, with the flags of
IMAGE_RUN_PARS and the docker-run flags given before IMAGE, plus -i, and -t when stdin is a terminal: a script can be piped in
(\`echo 'conda env list' | image-sh\`). The exit code is the shell's.`,
  config: true,
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run({ runArgs, env, image, loaded: { config } }) {
    // Any transport: archives and OCI layouts are loaded into the Engine first.
    image = await (require('@imagewright/image') as typeof import('@imagewright/image')).engineRef(image, { env });
    const docker = require('@imagewright/docker') as typeof import('@imagewright/docker');
    const flags = docker.shellFlags(docker.runFlagsFrom(config.IMAGE_RUN_PARS, runArgs, env), Boolean(process.stdin.isTTY));
    const engine = await docker.connectEngine(env);
    return docker.runContainer(engine, { image, cmd: docker.INTERACTIVE_SHELL, flags });
  },
});
