#!/usr/bin/env node
import { command, usageError } from '@imagewright/core';

command({
  name: 'image-chill',
  summary: 'Turn frozen pins into compatible-release pins (==1.2.3 → ~=1.2.3), for USE_FROZEN=2 builds.',
  args: '[FILE|-]',
  positionals: { max: 1 },
  description: `
Without FILE: every environment's frozen file is chilled into its chilly file beside it
(environments/frozen/<env>-chilly.yml, or env-chilly/<env>/ in the env-frozen layout). With FILE
(- for stdin): the chilled text goes to stdout and nothing is written. As the originals did: pip
pins ==X.Y.Z become ~=X.Y.Z, conda pins =X.Y.Z become ~=X.Y.Z; Debian pins (apt:) are dropped, a
stable suite only carries compatible updates. Exit 1 when an environment has no frozen file.`,
  config: 'lazy',
  json: true,
  async run(ctx) {
    const { positionals, out } = ctx;
    const environments = require('@imagewright/environments') as typeof import('@imagewright/environments');
    if (positionals.length === 1) {
      const { readFileSync } = require('node:fs') as typeof import('node:fs');
      const file = positionals[0];
      let text: string;
      try {
        text = readFileSync(file === '-' ? 0 : file, 'utf8');
      } catch (error) {
        throw usageError(`${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): allowed a frozen spec file or - for stdin`);
      }
      const chilled = /\.txt$/.test(file) ? environments.chillRequirements(text) : environments.chillText(text);
      return void out.stdout.write(chilled);
    }
    const { config, tree } = ctx.loaded;
    const { relative } = require('node:path') as typeof import('node:path');
    const results = environments.chillDeployment(tree.deployment(config.DEPLOYMENT_NAME));
    const rel = (path: string) => relative(tree.root, path);
    if (out.json) out.printJson(results.map((r) => ({ ...r, from: rel(r.from), to: rel(r.to) })));
    else {
      for (const r of results) {
        out.line(r.status === 'missing' ? `missing   ${rel(r.from)} (run image-freeze first)` : `${r.status.padEnd(9)} ${rel(r.to)}`);
      }
    }
    return results.some((r) => r.status === 'missing') ? 1 : 0;
  },
});
