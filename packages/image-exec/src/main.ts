#!/usr/bin/env node
import { command } from '@imagewright/core';

command({
  name: 'image-exec',
  summary: 'Run a command in a fresh container of the image (IMAGE_ID) with the docker-run flags of IMAGE_RUN_PARS.',
  args: 'CMD [ARG...]',
  passThrough: true,
  positionals: { min: 1 },
  description: `
CMD and its arguments reach the container exactly as given: no word splitting, so an argument
with spaces stays one argument. Options of image-exec end at CMD (\`image-exec ls -la\`).
IMAGE_RUN_PARS is read like a shell word list without expansion: quotes work, $VAR and globs
stay literal, and a flag image-exec does not support is an error naming it. Relative bind-mount
sources (-v ./x:/y) resolve against IMAGE_DIR. The exit code is the container's, as with
docker run.`,
  config: true,
  options: { image: { type: 'string', value: 'IMAGE', description: 'run IMAGE instead of IMAGE_ID' } },
  async run({ values, positionals, env, loaded: { config } }) {
    const docker = require('@imagewright/docker') as typeof import('@imagewright/docker');
    const flags = docker.parseRunFlags(config.IMAGE_RUN_PARS, { env });
    const engine = await docker.connectEngine(env);
    return docker.runContainer(engine, { image: (values.image as string | undefined) || config.IMAGE_ID, cmd: positionals, flags, cwd: config.IMAGE_DIR });
  },
});
