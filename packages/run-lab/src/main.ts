#!/usr/bin/env -S node --
import { command } from '@imagewright/core/bin';

command({
  name: 'run-lab',
  summary: "Run the image's notebook server (its own CMD, or the CMD given) with port 8888 published on the host.",
  args: '[CMD [ARG...]]',
  passThrough: true,
  description: `
image-exec with -p 8888:8888 added to IMAGE_RUN_PARS and the flags given (unless they publish 8888 already). With no CMD the image's own CMD runs
(start-notebook.sh in Jupyter images; JUPYTER_ENABLE_LAB=yes in the default IMAGE_RUN_PARS
makes it JupyterLab), then open http://localhost:8888 with the token it prints. Stop it with
Ctrl-C; the exit code is the container's.`,
  config: true,
  image: 'option',
  runFlags: (word) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).runFlagArity(word),
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run({ positionals, runArgs, env, image, loaded: { config } }) {
    // Any transport: archives and OCI layouts are loaded into the Engine first.
    image = await (require('@imagewright/image') as typeof import('@imagewright/image')).engineRef(image, { env });
    const docker = require('@imagewright/docker') as typeof import('@imagewright/docker');
    const base = docker.runFlagsFrom(config.IMAGE_RUN_PARS, runArgs, env);
    // A second binding of host port 8888 would fail the start: keep the user's own -p for 8888.
    const has8888 = base.publish.some((p) => p.containerPort === 8888 && p.protocol === 'tcp');
    const flags = has8888 ? base : docker.mergeRunFlags(base, { publish: docker.parsePort('8888:8888') });
    const engine = await docker.connectEngine(env);
    return docker.runContainer(engine, { image, cmd: positionals, flags });
  },
});
