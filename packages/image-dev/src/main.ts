#!/usr/bin/env -S node --
import { command } from '@imagewright/core/bin';

command({
  name: 'image-dev',
  summary: "Open a development shell in a container of the image with the deployment's sources mounted read-write.",
  image: 'positional',
  passThrough: true,
  positionals: { max: 0 },
  runFlags: (word) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).runFlagArity(word),
  description: `
Mounts $COMMON_DIR/common-scripts at /opt/common-scripts, $COMMON_DIR/common-env at
/opt/common-env (when it exists) and $IMAGE_DIR/environments at /opt/environments, sets
JH_DEVELOP=1 and runs the shell of image-sh. IMAGE_RUN_PARS is ignored (docker-run flags given
before IMAGE apply) and the container is
NOT removed: its name is printed on stderr at the end, so files can be copied out of it
(docker cp NAME:/path .) or the shell resumed (docker start -ai NAME); docker rm NAME when done.`,
  config: true,
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run({ runArgs, env, out, image, loaded: { config } }) {
    // Any transport: archives and OCI layouts are loaded into the Engine first.
    image = await (require('@imagewright/image') as typeof import('@imagewright/image')).engineRef(image, { env });
    const docker = require('@imagewright/docker') as typeof import('@imagewright/docker');
    const flags = docker.devRunFlags(config, Boolean(process.stdin.isTTY), docker.runFlagsFrom('', runArgs, env));
    const engine = await docker.connectEngine(env);
    let id: string | undefined;
    try {
      return await docker.runContainer(engine, {
        image,
        cmd: docker.INTERACTIVE_SHELL,
        flags,
        onCreate: (created) => (id = created),
      });
    } finally {
      if (id) {
        const name = await engine
          .getContainer(id)
          .inspect()
          .then((c) => c.Name.replace(/^\//, ''), () => id!.slice(0, 12));
        out.info(`image-dev: container ${name} (${id.slice(0, 12)}) kept: docker cp ${name}:PATH . to recover files, docker start -ai ${name} to go back in, docker rm ${name} to remove it`);
      }
    }
  },
});
