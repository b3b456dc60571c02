import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type CommandContext, findRoot, shownPath, usageError } from '@imagewright/core';
import { type Finding, formatFinding, type ShowPath } from './findings';
import { LEVELS, type Level } from './tools';

/** What the sscan-* commands take: the DIR arguments, else the checkout's deployments/ and tools/. */
export const TARGETS_DESCRIPTION = `DIR… are folders (walked, skipping .git, node_modules, dist and __pycache__) or files; by default
the checkout's deployments/ and tools/ (the checkout: IMAGEWRIGHT_ROOT from setup-env, else the
nearest folder at or above the current one that has deployments/).`;

export function scanTargets(ctx: CommandContext): { targets: string[]; show: ShowPath } {
  if (ctx.positionals.length) return { targets: ctx.positionals, show: (p) => shownPath(resolve(p)) };
  // Only the root is needed: a setup-env file is read when one is given, else the environment and cwd.
  const root =
    ctx.values['setup-env'] !== undefined || ctx.env.IMAGEWRIGHT_SETUP_ENV ? ctx.loaded.config.IMAGEWRIGHT_ROOT : findRoot(ctx.env, process.cwd());
  const targets = ['deployments', 'tools'].map((d) => join(root, d)).filter((d) => existsSync(d));
  return { targets, show: (p) => shownPath(p, root) };
}

export function parseLevel(value: unknown, option: string): Level | undefined {
  if (value === undefined) return undefined;
  if (!(LEVELS as readonly string[]).includes(value as string)) throw usageError(`${option} ${JSON.stringify(value)}: allowed ${LEVELS.join(', ')}`);
  return value as Level;
}

/**
 * The findings on stdout (one line each, or --json {findings, scanned, …extra}), a summary on
 * stderr; exit 1 when there are any.
 */
export function reportFindings(ctx: CommandContext, findings: Finding[], scanned: number, what: string, extra: Record<string, unknown> = {}): number {
  const { out } = ctx;
  if (out.json) out.printJson({ findings, scanned, ...extra });
  else {
    for (const f of findings) out.line(formatFinding(f));
    out.info(`${findings.length} finding${findings.length === 1 ? '' : 's'} in ${scanned} ${what} file${scanned === 1 ? '' : 's'} scanned`);
  }
  return findings.length ? 1 : 0;
}
