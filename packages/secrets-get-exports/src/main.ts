#!/usr/bin/env -S node --
import { command, usageError } from '@imagewright/core/bin';
import { engineVersion, ROLE_OPTION, roleArn } from '@imagewright/secrets/command';

command({
  name: 'secrets-get-exports',
  summary: 'Assume ADMIN_ARN (STS AssumeRole) and print its credentials as export lines for eval.',
  description: `
Prints, on stdout only, three lines quoted for the shell:
  export AWS_ACCESS_KEY_ID=…
  export AWS_SECRET_ACCESS_KEY=…
  export AWS_SESSION_TOKEN=…
Use it as the original: eval "$(secrets-get-exports)". The role's session is named "clone", as the
original's; the base credentials are the AWS SDK's (AWS_* variables, AWS_PROFILE, SSO, instance role).`,
  config: 'lazy',
  options: { 'role-arn': ROLE_OPTION },
  engineVersion,
  async run(ctx) {
    const arn = roleArn(ctx);
    if (!arn) throw usageError('ADMIN_ARN is not set: allowed --role-arn ARN, or ECR_ACCOUNT_ID (and ADMIN_ROLENAME) in setup-env');
    const { assumeRoleExports } = require('@imagewright/secrets') as typeof import('@imagewright/secrets');
    ctx.out.stdout.write(await assumeRoleExports(arn, ctx.env));
    return 0;
  },
});
