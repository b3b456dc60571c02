#!/usr/bin/env -S node --
import { command } from '@imagewright/core/bin';

command({
  name: 'image-exec',
  summary: 'Run a command in a fresh container of the image (IMAGE_ID) with the docker-run flags of IMAGE_RUN_PARS.',
  args: 'CMD [ARG...]',
  passThrough: true,
  positionals: { min: 1 },
  description: `
CMD and its arguments reach the container exactly as given: no word splitting, so an argument
with spaces stays one argument. Options of image-exec end at CMD (\`image-exec ls -la\`).
docker-run flags (-e, -v, --gpus, --shm-size, ...) go before CMD and add to IMAGE_RUN_PARS, which
is read like a shell word list without expansion: quotes work, $VAR and globs stay literal, and a
flag image-exec does not support is an error naming it. Relative bind-mount sources (-v ./x:/y)
resolve against the current directory, as with docker run.`,
  config: true,
  image: 'option',
  runFlags: (word) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).runFlagArity(word),
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run({ positionals, runArgs, env, image, loaded: { config } }) {
    // Any transport: archives and OCI layouts are loaded into the Engine first.
    image = await (require('@imagewright/image') as typeof import('@imagewright/image')).engineRef(image, { env });
    const docker = require('@imagewright/docker') as typeof import('@imagewright/docker');
    const flags = docker.runFlagsFrom(config.IMAGE_RUN_PARS, runArgs, env);
    const engine = await docker.connectEngine(env);
    return docker.runContainer(engine, { image, cmd: positionals, flags });
  },
});
