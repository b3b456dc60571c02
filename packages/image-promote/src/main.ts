#!/usr/bin/env -S node --
import { command, usageError } from '@imagewright/core/bin';

command({
  name: 'image-promote',
  summary: "Put a tag's manifest under another tag in the registry, without pulling: the digest stays.",
  args: '[FROM_TAG TO_TAG]',
  positionals: { max: 2 },
  description: `
The manifest's exact bytes and media type are put under TO_TAG, so the digest is the same for
Docker v2 and OCI manifests and for manifest lists / indexes. TO_TAG moves if it existed.
FROM_TAG may also be a digest. With no arguments, as the original: <IMAGE_TAG>-<ENVIRONMENT> to
the next environment's tag (dev -> test -> prod), e.g. latest-dev -> latest-test in IMAGE_REPO.
Prints REPO:FROM_TAG → REPO:TO_TAG DIGEST.`,
  config: true,
  json: true,
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run({ positionals, loaded, env, out }) {
    if (positionals.length === 1) throw usageError('give both FROM_TAG and TO_TAG, or neither (the next environment): usage: image-promote [FROM_TAG TO_TAG]');
    // Loaded here, not at the top: --help and usage errors never pay for the registry clients.
    const registries = require('@imagewright/registry') as typeof import('@imagewright/registry');
    const { config } = loaded;
    const promotion = positionals.length ? registries.checkPromotion(positionals[0], positionals[1]) : registries.defaultPromotion(config);
    const result = await registries.promote(registries.openRegistry(config, env), config.IMAGE_REPO, promotion);
    if (out.json) return out.printJson(result);
    const name = `${result.registry}/${result.repository}`;
    const at = (ref: string) => (registries.isDigest(ref) ? `${name}@${ref}` : `${name}:${ref}`);
    out.line(`${at(result.from)} → ${at(result.to)} ${result.digest}`);
    if (result.previous === result.digest) out.info(`unchanged: ${name}:${result.to} already pointed at ${result.digest}`);
    else if (result.previous) out.info(`moved: ${name}:${result.to} pointed at ${result.previous}`);
  },
});
