import { shellQuote } from '@imagewright/core';
import { assumeRole } from './sts';

/**
 * secrets-get-exports: an STS AssumeRole of `adminArn` (session name `clone`, as the original's
 * `aws sts assume-role --role-session-name clone`) as three shell lines for `eval`:
 * `export AWS_ACCESS_KEY_ID=…`, `export AWS_SECRET_ACCESS_KEY=…`, `export AWS_SESSION_TOKEN=…`,
 * each value one shell word (quoted when it needs to be). The text holds secrets: print it only
 * where the user asked for it (stdout), never in a log.
 */
export async function assumeRoleExports(adminArn: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const credentials = await assumeRole(adminArn, env, 'clone');
  return [
    `export AWS_ACCESS_KEY_ID=${shellQuote(credentials.accessKeyId)}`,
    `export AWS_SECRET_ACCESS_KEY=${shellQuote(credentials.secretAccessKey)}`,
    `export AWS_SESSION_TOKEN=${shellQuote(credentials.sessionToken ?? '')}`,
    '',
  ].join('\n');
}
