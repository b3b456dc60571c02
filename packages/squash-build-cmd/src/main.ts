#!/usr/bin/env -S node --
import { command, usageError } from '@imagewright/core/bin';

command({
  name: 'squash-build-cmd',
  summary: "Print the `docker import` command that gives an exported filesystem its image's metadata back.",
  args: '[IMAGE] [FILE]',
  positionals: { max: 2 },
  description: `
IMAGE (or --image; default IMAGE_ID) is read from the Engine with docker image inspect. FILE is
what docker import reads, default "-" (stdin): squash-export IMAGE | <the printed command>.

One --change per ENV entry, ENTRYPOINT and CMD in exec (JSON) form (absent ones left out, an
empty list kept), USER, WORKDIR, one LABEL per label, one EXPOSE per port, VOLUME, STOPSIGNAL,
one ONBUILD per trigger, HEALTHCHECK (or NONE). Each change is one shell word in single quotes,
so bash runs the line as printed whatever the values hold; within a change, values are quoted
as Dockerfile strings. What cannot travel is said on stderr or fails (exit 1): STOPSIGNAL on
Engines before API 1.42, a newline outside a JSON string (ENV, LABEL, …). --json prints the
changes, unquoted.`,
  image: 'option',
  config: 'lazy',
  json: true,
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run(ctx) {
    const { values, positionals, out, env } = ctx;
    if (values.image !== undefined && positionals.length > 1) {
      throw usageError(`the image is given twice (--image ${values.image} and ${positionals[0]}): give it once`);
    }
    const [first, second] = positionals;
    const fromArgs = values.image === undefined && positionals.length > 0;
    if (fromArgs && first === '') throw usageError('IMAGE is empty: allowed an image reference (name[:tag], name@digest) or ID');
    // Config (IMAGE_ID) only when no image is named.
    const ref = fromArgs ? first : ctx.image;
    const file = (fromArgs ? second : first) ?? '-';
    if (file === '') throw usageError('FILE is empty: allowed a path or - for stdin');
    // Loaded here, not at the top: --help and usage errors never pay for the engine client.
    const { squashBuildCommand } = require('@imagewright/image') as typeof import('@imagewright/image');
    const result = await squashBuildCommand(ref, file, env);
    for (const note of result.notCarried) out.info(`not carried: ${note}`);
    if (out.json) return out.printJson(result.changes);
    out.line(result.command);
  },
});
