#!/usr/bin/env -S node --
import { command, usageError } from '@imagewright/core/bin';
import { PATCH_DESCRIPTION, PATCH_SPEC } from '@imagewright/patch/command';

command({
  name: 'patch-image',
  summary: 'Patch an image without a rebuild: run SCRIPT in a container of it, record, commit, check, move the tag.',
  args: 'SCRIPT',
  positionals: { min: 1, max: 1 },
  description: `${PATCH_DESCRIPTION}
SCRIPT is any executable file (its #! line picks the interpreter; none: /bin/sh), run in
/opt/patches/<source-id>/. Prints DEST and the new image ID; --json the whole result.`,
  ...PATCH_SPEC,
  async run(ctx) {
    const { readFileSync, statSync } = require('node:fs') as typeof import('node:fs');
    const { basename } = require('node:path') as typeof import('node:path');
    const file = ctx.positionals[0];
    const stat = statSync(file, { throwIfNoEntry: false });
    if (!stat?.isFile()) throw usageError(`SCRIPT ${file}: ${stat ? 'not a regular file' : 'no such file'}; allowed a patch script file`);
    const { runPatch } = require('@imagewright/patch/command') as typeof import('@imagewright/patch/command');
    await runPatch(ctx, { command: 'patch-image', script: { name: basename(file), body: readFileSync(file), mode: 0o755 } });
  },
});
