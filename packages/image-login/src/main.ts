#!/usr/bin/env -S node --
import { command, shownPath, usageError } from '@imagewright/core/bin';

command({
  name: 'image-login',
  summary: 'Log in to the configured registry and store the credential where docker finds it.',
  description: `
ECR (ECR_ACCOUNT_ID, AWS_REGION): an authorization token from the AWS SDK's default credential
chain, ADMIN_ARN assumed when set, stored as AWS/<token> for the token's registry host.
Other registries (REGISTRY): --username USER --password-stdin, checked against the registry
(GET /v2/) before anything is stored; a password is never taken from the command line.
The credential goes where \`docker login\` puts it: the credential helper $DOCKER_CONFIG/config.json
names (credHelpers, credsStore), given on its stdin, else auths in config.json (mode 0600).
Prints "Login Succeeded: <registry> as <identity>"; --json prints {registry, identity}. Never the secret.`,
  config: true,
  json: true,
  options: {
    username: { type: 'string', short: 'u', value: 'USER', description: 'user name (REGISTRY logins)' },
    'password-stdin': { type: 'boolean', description: 'read the password from standard input (one line)' },
    password: { type: 'string', short: 'p', value: 'PASSWORD', description: 'refused: a password on the command line is visible to others; use --password-stdin' },
  },
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run({ values, out, env, loaded: { config } }) {
    if (values.password !== undefined) {
      throw usageError('--password is refused: a password on the command line is visible to other users (ps, shell history); pipe it to --password-stdin');
    }
    const registry = require('@imagewright/registry') as typeof import('@imagewright/registry');
    let password: string | undefined;
    if (values['password-stdin']) {
      let text = '';
      for await (const chunk of process.stdin) text += chunk;
      password = registry.passwordFromStdin(text);
    }
    const result = await registry.login(config, { username: values.username as string | undefined, password, env });
    out.status('written', shownPath(result.storedIn.file), `credential for ${result.registry}${'helper' in result.storedIn ? ` (secret in ${result.storedIn.helper})` : ''}`);
    if (out.json) return out.printJson({ registry: result.registry, identity: result.identity });
    out.line(`Login Succeeded: ${result.registry} as ${result.identity}`);
  },
});
