#!/usr/bin/env -S node --
import { command } from '@imagewright/core/bin';

command({
  name: 'image-push',
  summary: 'Push the image to the configured registry under its push tag, with progress; print REF DIGEST.',
  image: 'positional',
  description: `
Pushes IMAGE (default IMAGE_ID) as <registry>/<IMAGE_REPO>:<PUSH_TAG>, where the registry is
REGISTRY, else the ECR registry of ECR_ACCOUNT_ID/AWS_REGION (exit 2 when neither is set).
Quarantine: with IMAGE_QUARANTINE=1 (the default for ECR) PUSH_TAG is
unscanned-<IMAGE_TAG>-<ENVIRONMENT>, and the image stays there until a scan or image-promote
approves it as <IMAGE_TAG>-<ENVIRONMENT>; with IMAGE_QUARANTINE=0 (the default otherwise) it is
IMAGE_TAG. The local image gets that reference as an extra tag first when it has another one.
The common image is not pushed (as the originals).
Credentials: ECR gets a fresh token; other registries use what image-login (or docker login) stored.
--also-tag TAG (repeatable) puts the same manifest under more tags without pushing again, e.g.
Canonical's --also-tag "$IMAGE_TAG-$(git rev-parse --short HEAD)".
Layers the registry already has are skipped, so an interrupted push completes when run again.
Transient registry failures (5xx, reset connections) are retried with backoff.
Prints one "REF DIGEST" line per tag on stdout; --json prints {ref, digest, tags}.`,
  config: true,
  json: true,
  options: {
    'also-tag': { type: 'string', multiple: true, value: 'TAG', description: 'also put the pushed manifest under TAG (repeatable)' },
  },
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run({ values, out, env, image, loaded: { config } }) {
    // Any transport: archives and OCI layouts are loaded into the Engine first.
    image = await (require('@imagewright/image') as typeof import('@imagewright/image')).engineRef(image, { env });
    const { pushConfigured } = require('@imagewright/registry') as typeof import('@imagewright/registry');
    const result = await pushConfigured(config, {
      image,
      alsoTags: values['also-tag'] as string[] | undefined,
      env,
      log: out.stderr,
      retry: { onRetry: (why, attempt, attempts, ms) => out.info(`image-push: ${why.what}; attempt ${attempt} of ${attempts} in ${ms / 1000}s`) },
    });
    if (out.json) return out.printJson(result);
    const repo = result.ref.slice(0, result.ref.lastIndexOf(':'));
    for (const tag of result.tags) out.line(`${repo}:${tag} ${result.digest}`);
  },
});
