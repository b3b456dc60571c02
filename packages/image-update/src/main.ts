#!/usr/bin/env -S node --
import { command, shownPath } from '@imagewright/core/bin';

command({
  name: 'image-update',
  summary: "Generate the deployment's Dockerfile from Dockerfile.custom + the common Dockerfile.trailer.",
  description:
    'A replaced Dockerfile is kept as Dockerfile.bak. Nothing else is touched: unlike the original,\n' +
    'uncommitted frozen specs are never reverted. Without Dockerfile.custom the Dockerfile is left alone.',
  config: true,
  json: true,
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  run({ out, loaded: { tree, deployment } }) {
    const { updateDockerfile } = require('@imagewright/chain') as typeof import('@imagewright/chain');
    const result = updateDockerfile(deployment, tree.common());
    if (out.json) return out.printJson(result);
    const shown = (path: string) => shownPath(path, tree.root);
    if (result.status === 'opted-out') return out.status('skipped', shown(result.path), 'no Dockerfile.custom, left alone');
    out.status(result.status, shown(result.path), result.backup && `previous kept as ${shown(result.backup)}`);
  },
});
