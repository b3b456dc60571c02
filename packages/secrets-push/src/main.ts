#!/usr/bin/env -S node --
import { command } from '@imagewright/core/bin';
import { engineVersion } from '@imagewright/secrets/command';

command({
  name: 'secrets-push',
  summary: "Push the secrets repository's commits, with the credentials secrets-clone set up for it alone.",
  args: '[DIR]',
  positionals: { max: 1 },
  description: `
DIR defaults to SECRETS_DIR (deployments/<DEPLOYMENT_NAME>/secrets). A CodeCommit clone gets its
AWS credentials from the helper secrets-clone wrote into the clone's own git config (assuming
ADMIN_ARN when it was set then); other clones push with your own git credentials.`,
  config: 'lazy',
  engineVersion,
  async run(ctx) {
    const dir = ctx.positionals[0] ?? ctx.loaded.config.SECRETS_DIR;
    const { pushSecrets } = require('@imagewright/secrets') as typeof import('@imagewright/secrets');
    await pushSecrets(dir, { env: ctx.env });
    ctx.out.info(`secrets-push: pushed ${dir}`);
    return 0;
  },
});
