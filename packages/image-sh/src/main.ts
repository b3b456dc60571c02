#!/usr/bin/env node
import { command } from '@imagewright/core';

command({
  name: 'image-sh',
  summary: 'Open an interactive shell in a fresh container of the image (IMAGE_ID, or IMAGE).',
  args: '[IMAGE]',
  positionals: { max: 1 },
  description: `
Runs bash --rcfile /etc/bash.bashrc when the image has bash, else sh, with the flags of
IMAGE_RUN_PARS plus -i, and -t when stdin is a terminal: a script can be piped in
(\`echo 'conda env list' | image-sh\`). The exit code is the shell's.`,
  config: true,
  async run({ positionals, env, loaded: { config } }) {
    const docker = require('@imagewright/docker') as typeof import('@imagewright/docker');
    const flags = docker.shellFlags(docker.parseRunFlags(config.IMAGE_RUN_PARS, { env }), Boolean(process.stdin.isTTY));
    const engine = await docker.connectEngine(env);
    return docker.runContainer(engine, { image: positionals[0] ?? config.IMAGE_ID, cmd: docker.INTERACTIVE_SHELL, flags, cwd: config.IMAGE_DIR });
  },
});
