/*
 * What the secrets commands share on their command line: which file, which clone, which role,
 * and the --input-type option. Bins stay glue: parse → call → print.
 */
import type { CommandContext, Config, OptionSpec } from '@imagewright/core';
import { usageError } from '@imagewright/core/bin';
import type { Format } from './document';

// Kept here, not read from document.ts: --help must not load the format code.
const FORMATS = ['yaml', 'json', 'ini', 'dotenv', 'binary'];

export const INPUT_TYPE_OPTION: OptionSpec = {
  type: 'string',
  value: 'FORMAT',
  description: `the file's format when its name does not say it (${FORMATS.join(', ')}; default by extension, else binary)`,
};

export const FILE_DEFAULT = 'FILE defaults to SECRETS_FILE: deployments/<DEPLOYMENT_NAME>/secrets/<ENVIRONMENT>.yaml.';

/** The --version --json Engine field every command reports. */
export const engineVersion = (env: NodeJS.ProcessEnv) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env);

/** --input-type, checked. */
export function inputType(ctx: CommandContext): Format | undefined {
  const given = ctx.values['input-type'] as string | undefined;
  return given === undefined ? undefined : (require('./document') as typeof import('./document')).parseFormat(given, '--input-type');
}

/** Is a config there to read (sourced setup-env, --setup-env or IMAGEWRIGHT_SETUP_ENV)? */
export function hasConfig(ctx: CommandContext): boolean {
  return Boolean(ctx.values['setup-env'] || ctx.env.IMAGEWRIGHT_SETUP_ENV || ctx.env.DEPLOYMENT_NAME);
}

/** The config, when one is there; a config given but bad is still an error. */
export function optionalConfig(ctx: CommandContext): Config | undefined {
  return hasConfig(ctx) ? ctx.loaded.config : undefined;
}

/** The FILE argument, else SECRETS_FILE of the config. */
export function secretsFileArg(ctx: CommandContext): string {
  return ctx.positionals[0] ?? ctx.loaded.config.SECRETS_FILE;
}

/** The role to assume: --role-arn, else ADMIN_ARN when a config is there. */
export function roleArn(ctx: CommandContext): string | undefined {
  const given = ctx.values['role-arn'] as string | undefined;
  if (given !== undefined) {
    if (!given) throw usageError('--role-arn is empty: allowed an IAM role ARN (arn:aws:iam::<account>:role/<name>)');
    // Checked here so the error names the option, not ADMIN_ARN (sts.ts's default name).
    (require('./sts') as typeof import('./sts')).checkRoleArn(given, '--role-arn');
    return given;
  }
  return optionalConfig(ctx)?.ADMIN_ARN;
}

export const ROLE_OPTION: OptionSpec = {
  type: 'string',
  value: 'ARN',
  description: 'the IAM role to assume (default ADMIN_ARN: arn:aws:iam::<ECR_ACCOUNT_ID>:role/<ADMIN_ROLENAME>)',
};
