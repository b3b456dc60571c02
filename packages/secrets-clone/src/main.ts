#!/usr/bin/env -S node --
import { command, usageError } from '@imagewright/core/bin';
import { engineVersion, ROLE_OPTION, roleArn } from '@imagewright/secrets/command';

command({
  name: 'secrets-clone',
  summary: "Clone the deployment's secrets repository, with credentials configured for that repository alone.",
  args: '[URL [DIR]]',
  positionals: { max: 2 },
  description: `
URL defaults to SECRETS_REPO (the deployment's CodeCommit repository
https://git-codecommit.<AWS_REGION>.amazonaws.com/v1/repos/<DEPLOYMENT_NAME>-secrets when AWS_REGION is
set); DIR to SECRETS_DIR (deployments/<DEPLOYMENT_NAME>/secrets, git-ignored).
A CodeCommit URL (or --codecommit) gets our git credential helper in the clone's own .git/config,
for that URL only: AWS credentials from the SDK's chain, ADMIN_ARN (or --role-arn) assumed on every
fetch and push. Your global git config is never changed (the original rewrote it). Any other URL
is cloned with your own git credentials. DIR must be new or empty; a failed clone leaves nothing.`,
  config: 'lazy',
  options: {
    codecommit: { type: 'boolean', description: 'use the CodeCommit credential helper for a URL that is not git-codecommit.*.amazonaws.com' },
    'role-arn': ROLE_OPTION,
  },
  engineVersion,
  async run(ctx) {
    const [urlArg, dirArg] = ctx.positionals;
    // URL and DIR given: the config is only read for ADMIN_ARN, and only without --role-arn (roleArn).
    const config = urlArg !== undefined && dirArg !== undefined ? undefined : ctx.loaded.config;
    const url = urlArg ?? config?.SECRETS_REPO;
    if (url === undefined) throw usageError('SECRETS_REPO is not set: allowed a URL argument, SECRETS_REPO, or AWS_REGION (for the CodeCommit repository <DEPLOYMENT_NAME>-secrets)');
    const dir = dirArg ?? config!.SECRETS_DIR;
    const { cloneSecrets } = require('@imagewright/secrets') as typeof import('@imagewright/secrets');
    const cloned = await cloneSecrets({ url, dir, adminArn: roleArn(ctx), codecommit: ctx.values.codecommit ? true : undefined, env: ctx.env });
    ctx.out.info(`secrets-clone: cloned into ${cloned.dir}${cloned.codecommit ? ' (CodeCommit credentials for this repository only)' : ''}`);
    return 0;
  },
});
