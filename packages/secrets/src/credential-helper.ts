#!/usr/bin/env node
/*
 * A git credential helper for AWS CodeCommit: what `aws codecommit credential-helper` does, without
 * the aws CLI. cloneSecrets writes it into one repository's local config; git runs it as
 *   credential-helper.js [--role-arn ARN] [--ignore-host-check] get|store|erase
 * `get` reads git's request (protocol, host, path) on stdin and answers the username and the
 * signed password for that repository; `store` and `erase` do nothing (nothing is kept: each
 * answer is computed afresh). With --role-arn it assumes that role first (fetch and push later on
 * do the same); without, the SDK's default chain gives the credentials.
 */
import { codecommitPassword, codecommitRegion, codecommitUsername, isCodecommitHost, parseCredentialRequest } from './codecommit';

export interface HelperArgs {
  operation: 'get' | 'store' | 'erase';
  roleArn?: string;
  /** Answer for any host, not only git-codecommit.*.amazonaws.com (awscli's --ignore-host-check). */
  ignoreHostCheck: boolean;
}

const USAGE = 'usage: credential-helper.js [--role-arn ARN] [--ignore-host-check] get|store|erase';

/** The helper's arguments; git appends the operation last. */
export function parseHelperArgs(argv: readonly string[]): HelperArgs {
  let roleArn: string | undefined;
  let ignoreHostCheck = false;
  let operation: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--role-arn' && i + 1 < argv.length) roleArn = argv[++i];
    else if (arg.startsWith('--role-arn=')) roleArn = arg.slice('--role-arn='.length);
    else if (arg === '--ignore-host-check') ignoreHostCheck = true;
    else if (!arg.startsWith('-') && operation === undefined) operation = arg;
    else throw new HelperError(`${arg}: unknown argument; ${USAGE}`);
  }
  // git's operations; anything newer than it knows (none today) would be ignored the same way.
  if (operation !== 'get' && operation !== 'store' && operation !== 'erase') throw new HelperError(`operation ${operation ?? '(none)'}: allowed get, store, erase; ${USAGE}`);
  return { operation, roleArn: roleArn || undefined, ignoreHostCheck };
}

class HelperError extends Error {}

/**
 * The answer to one `get`: `username=…` and `password=…` lines, or '' when the host is not
 * CodeCommit's (git then asks its next helper, or the user).
 */
export async function answerGet(request: Record<string, string>, args: HelperArgs, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const { protocol, host, path } = request;
  if (!protocol || !host) throw new HelperError('git gave no protocol or host');
  if (!args.ignoreHostCheck && !isCodecommitHost(host)) return '';
  if (!path) throw new HelperError(`git gave no repository path for ${protocol}://${host}: set credential.useHttpPath true for it (the password signs the path)`);
  const region = codecommitRegion(host) ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION);
  if (!region) throw new HelperError(`${host}: not a git-codecommit.<region>.amazonaws.com host; set AWS_REGION`);
  const sts = require('./sts') as typeof import('./sts');
  const credentials = args.roleArn ? await sts.assumeRole(args.roleArn, env, 'imagewright-secrets') : await sts.defaultCredentials(env);
  const password = codecommitPassword(credentials, { host, path, region });
  return `username=${codecommitUsername(credentials)}\npassword=${password}\n`;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(argv: string[]): Promise<number> {
  try {
    const args = parseHelperArgs(argv);
    const input = await readStdin();
    if (args.operation !== 'get') return 0;
    process.stdout.write(await answerGet(parseCredentialRequest(input), args));
    return 0;
  } catch (error) {
    // git shows our stderr and goes on without an answer (then fails: prompts are off, or asks).
    const e = error as { message?: string; exitCode?: number };
    process.stderr.write(`imagewright credential helper: ${String(e?.message ?? error).replace(/\s+/g, ' ').trim()}\n`);
    return error instanceof HelperError ? 2 : (e?.exitCode ?? 1);
  }
}

// Run by git; imported by tests (where there is no CommonJS `module`), it only defines.
if (typeof module !== 'undefined' && require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
