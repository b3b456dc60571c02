#!/usr/bin/env -S node --
import { command } from '@imagewright/core/bin';
import { PATCH_DESCRIPTION, PATCH_SPEC } from '@imagewright/patch/command';

command({
  name: 'patch-apt',
  summary: 'Install or upgrade named OS packages in an image without a rebuild (the one-CVE fix).',
  args: 'PACKAGE[=VERSION]...',
  positionals: { min: 1, max: Infinity },
  description: `Each PACKAGE goes to VERSION, or to the newest version the image's apt sources offer;
nothing else is upgraded beyond what they need (apt-get install --no-install-recommends; apk add
--upgrade on Alpine). Prints the packages that changed, before → after. --description defaults
to "apt: PACKAGE...".
${PATCH_DESCRIPTION}`,
  ...PATCH_SPEC,
  async run(ctx) {
    const patch = require('@imagewright/patch') as typeof import('@imagewright/patch');
    const { runPatch } = require('@imagewright/patch/command') as typeof import('@imagewright/patch/command');
    const source = (ctx.values.source as string | undefined) ?? ctx.image;
    const script = patch.packageInstall(ctx.positionals, source);
    await runPatch(ctx, { command: 'patch-apt', script, description: `apt: ${ctx.positionals.join(' ')}`, inventory: true });
  },
});
