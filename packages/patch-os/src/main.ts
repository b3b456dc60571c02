#!/usr/bin/env -S node --
import { command } from '@imagewright/core/bin';
import { PATCH_DESCRIPTION, PATCH_SPEC } from '@imagewright/patch/command';

command({
  name: 'patch-os',
  summary: "Update an image's OS packages without a rebuild (apt-get dist-upgrade, or apk upgrade on Alpine).",
  description: `Debian and Ubuntu images get the shipped apt-upgrade patch (update, non-interactive
dist-upgrade keeping changed config files, lists and caches removed); Alpine images apk upgrade.
The distribution is read from the image's package database; an image with neither fails (exit 2).
Prints the packages that changed, before → after, read from the package database before and after
the patch, then DEST and the new image ID. --description defaults to "OS update".
${PATCH_DESCRIPTION}`,
  ...PATCH_SPEC,
  async run(ctx) {
    const patch = require('@imagewright/patch') as typeof import('@imagewright/patch');
    const { runPatch } = require('@imagewright/patch/command') as typeof import('@imagewright/patch/command');
    const source = (ctx.values.source as string | undefined) ?? ctx.image;
    await runPatch(ctx, { command: 'patch-os', script: patch.osUpgrade(source), description: 'OS update', inventory: true });
  },
});
