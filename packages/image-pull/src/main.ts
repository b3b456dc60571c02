#!/usr/bin/env -S node --
import { command, usageError } from '@imagewright/core/bin';

command({
  name: 'image-pull',
  summary: "Pull the image's approved tag from the configured registry, with progress; print REF ID.",
  args: '[REF]',
  positionals: { max: 1 },
  description: `
REF defaults to the approved tag <registry>/<IMAGE_REPO>:<APPROVED_TAG> (not IMAGE_ID): with
quarantine (IMAGE_QUARANTINE=1) that is <IMAGE_TAG>-<ENVIRONMENT>, the tag a scan or image-promote
gives, never the unscanned- one. Credentials: ECR gets a fresh token; other registries use what
image-login (or docker login) stored. When the pull replaces the image a local tag pointed at,
the replaced one keeps a <tag>-previous backup tag. Transient registry failures are retried.
Prints "REF ID" on stdout; --json prints {ref, id, previous, backup}.`,
  config: true,
  json: true,
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run({ positionals, out, env, loaded: { config } }) {
    const { pullConfigured } = require('@imagewright/registry') as typeof import('@imagewright/registry');
    const named = positionals[0];
    if (named === '') throw usageError('REF is empty: allowed an image reference (name[:tag], name@digest)');
    const result = await pullConfigured(config, {
      ref: named,
      env,
      log: out.stderr,
      retry: { onRetry: (why, attempt, attempts, ms) => out.info(`image-pull: ${why.what}; attempt ${attempt} of ${attempts} in ${ms / 1000}s`) },
    });
    if (result.backup) out.info(`image-pull: the replaced image ${result.previous} is kept as ${result.backup}`);
    if (out.json) return out.printJson({ ref: result.ref, id: result.id, previous: result.previous ?? null, backup: result.backup ?? null });
    out.line(`${result.ref} ${result.id}`);
  },
});
