#!/usr/bin/env node
import { command } from '@imagewright/core';

command({
  name: 'image-root-sh',
  summary: 'Open an interactive root shell (uid 0, gid 0) in a fresh container of the image (IMAGE_ID, or IMAGE).',
  args: '[IMAGE]',
  positionals: { max: 1 },
  description: `
As image-sh, with -u 0:0 in place of any user IMAGE_RUN_PARS sets: for installing or inspecting
what the image's own user may not touch. Nothing done in the container is kept when
IMAGE_RUN_PARS has --rm (the default).`,
  config: true,
  async run({ positionals, env, loaded: { config } }) {
    const docker = require('@imagewright/docker') as typeof import('@imagewright/docker');
    const flags = docker.shellFlags(docker.parseRunFlags(config.IMAGE_RUN_PARS, { env }), Boolean(process.stdin.isTTY), { root: true });
    const engine = await docker.connectEngine(env);
    return docker.runContainer(engine, { image: positionals[0] ?? config.IMAGE_ID, cmd: docker.INTERACTIVE_SHELL, flags, cwd: config.IMAGE_DIR });
  },
});
