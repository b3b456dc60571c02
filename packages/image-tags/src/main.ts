#!/usr/bin/env -S node --
import { command } from '@imagewright/core/bin';

command({
  name: 'image-tags',
  summary: "List a repository's tags and the digests they point at (default IMAGE_REPO).",
  args: '[REPO]',
  positionals: { max: 1 },
  description: `
Every page of the registry's answer is read (the distribution API's Link headers, ECR's
nextToken). A table on a terminal, "TAG DIGEST" lines in a pipe, --json [{tag, digest}];
sorted by tag.`,
  config: true,
  json: true,
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run({ positionals, loaded, env, out }) {
    // Loaded here, not at the top: --help and usage errors never pay for the registry clients.
    const registries = require('@imagewright/registry') as typeof import('@imagewright/registry');
    const { config } = loaded;
    const repository = positionals.length ? registries.checkRepository(positionals[0]) : config.IMAGE_REPO;
    const tags = await registries.repositoryTags(registries.openRegistry(config, env), repository);
    if (out.json) return out.printJson(tags.map(({ tag, digest }) => ({ tag, digest })));
    if (out.tty) return out.table(['TAG', 'DIGEST'], tags.map((t) => [t.tag, t.digest]));
    for (const t of tags) out.line(`${t.tag} ${t.digest}`);
  },
});
