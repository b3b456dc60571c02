import type { CommandContext, OptionSpec } from '@imagewright/core';
import type { PatchFile, PatchRequest, PatchResult } from './frame';

/**
 * What every patch command shares, loaded by their bins at start (light: the frame, Engine and
 * image model are required only when a patch runs): the options, and run → print.
 */

export const PATCH_OPTIONS: Record<string, OptionSpec> = {
  author: { type: 'string', value: 'EMAIL', description: 'who patches (docker commit --author, metadata, ledger); required' },
  description: { type: 'string', value: 'TEXT', description: 'what the patch is for (commit message, metadata, ledger)' },
  source: { type: 'string', value: 'IMAGE', description: 'the image to patch (default IMAGE_ID; --image is the same)' },
  tag: { type: 'string', short: 't', value: 'DEST', description: "the tag to move (default: the source's tag)" },
  'no-ledger': { type: 'boolean', description: "do not append to the deployment's patches.yaml" },
};

export const PATCH_CONFLICTS = [['source', 'image']];

/** The parts of a patch command's spec they all share (spread into it). */
export const PATCH_SPEC = {
  config: 'lazy',
  image: 'option',
  json: true,
  options: PATCH_OPTIONS,
  conflicts: PATCH_CONFLICTS,
  engineVersion: (env: NodeJS.ProcessEnv) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
} as const;

export const PATCH_DESCRIPTION = `
The patch runs as root in a container of the source image. Its record goes into the image, in
/opt/patches/<source-id>/: metadata.yaml (author, description, time, source ID and digests,
script name and sha256, imagewright version, exit status), source-inspect.json, the script, and
patch.log (its output, also shown as it runs). Only an exit 0 is committed; the result keeps the
source's Cmd, Entrypoint, User, WorkingDir, Env, labels, ports and volumes (checked). The tag
moves last: the image it pointed at is tagged <repo>:pre-patch-<short id> first, and the patch is
appended to deployments/<name>/patches.yaml. The container is always removed; SIGINT/SIGTERM at
any point leave the tags as they were. The source may be docker://REF (pulled first) or an archive.`;

export interface PatchCommand {
  command: string;
  script: PatchRequest['script'];
  files?: PatchFile[];
  /** Used when --description is not given (patch-os: "OS update"); absent: --description is required. */
  description?: string;
  inventory?: boolean;
  check?: PatchRequest['check'];
}

/** Runs a patch from the command line's options and prints what happened. */
export async function runPatch(ctx: CommandContext, patch: PatchCommand | ((source: string, connect: () => Promise<import('@imagewright/docker').Engine>) => Promise<PatchCommand>)): Promise<void> {
  const { usageError } = require('@imagewright/core') as typeof import('@imagewright/core');
  const { values, out, env } = ctx;
  const author = values.author as string | undefined;
  if (author === undefined) throw usageError('--author EMAIL is required: who patches the image');
  const source = (values.source as string | undefined) ?? ctx.image;
  const docker = require('@imagewright/docker') as typeof import('@imagewright/docker');
  let engine: Promise<import('@imagewright/docker').Engine> | undefined;
  const connect = () => (engine ??= docker.connectEngine(env));
  const spec = typeof patch === 'function' ? await patch(source, connect) : patch;
  const description = (values.description as string | undefined) ?? spec.description;
  if (description === undefined) throw usageError('--description TEXT is required: what the patch is for');
  const ledger = values['no-ledger'] ? undefined : (require('node:path') as typeof import('node:path')).join(ctx.loaded.deployment.dir, 'patches.yaml');
  const { applyPatch } = require('./frame') as typeof import('./frame');
  const result = await applyPatch(await connect(), {
    command: spec.command,
    source,
    dest: values.tag as string | undefined,
    script: spec.script,
    files: spec.files,
    author,
    description,
    env,
    log: out.stderr,
    say: (line) => out.info(line),
    inventory: spec.inventory,
    check: spec.check,
    ledger,
  });
  print(ctx, result, ledger);
}

function print(ctx: CommandContext, result: PatchResult, ledger: string | undefined): void {
  const { out } = ctx;
  if (out.json) return out.printJson({ ...result, ...(ledger ? { ledger } : {}) });
  const short = (require('@imagewright/core') as typeof import('@imagewright/core')).shortId;
  if (result.packages) {
    if (result.packages.length) {
      out.table(
        ['PACKAGE', 'BEFORE', 'AFTER'],
        result.packages.map((p) => [p.architecture && p.architecture !== 'all' ? `${p.name}:${p.architecture}` : p.name, p.before ?? '(none)', p.after ?? '(removed)']),
      );
    } else out.info('no package changed');
  }
  out.line(`${result.tag} ${result.id}`);
  out.info(
    `patched ${short(result.source.id)} → ${short(result.id)} in ${result.seconds.toFixed(1)}s; record in ${result.patchDir}` +
      (result.backup ? `; ${result.tag} was ${short(result.previous!)}, kept as ${result.backup}` : '') +
      (ledger ? `; ledger ${ledger}` : ''),
  );
}
