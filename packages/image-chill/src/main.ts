#!/usr/bin/env -S node --
import { command, shownPath, usageError } from '@imagewright/core/bin';

command({
  name: 'image-chill',
  summary: 'Turn frozen pins into compatible-release pins (==1.2.3 → ~=1.2.3), for USE_FROZEN=2 builds.',
  args: '[FILE|-]',
  positionals: { max: 1 },
  description: `
Without FILE: every environment's frozen file is chilled into its chilly file beside it
(environments/frozen/<env>-chilly.yml, or env-chilly/<env>/ in the env-frozen layout). With FILE
(- for stdin): the chilled text goes to stdout and nothing is written; it must be a frozen
conda-export YAML or a pip requirements file (else exit 2 naming its first wrong line). As the
originals did: pip pins ==X.Y.Z become ~=X.Y.Z, conda pins =X.Y.Z become ~=X.Y.Z; Debian pins
(apt:) are dropped, a stable suite only carries compatible updates. Exit 1 when an environment has
no frozen file.`,
  config: 'lazy',
  json: true,
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
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
      // Checked first: text that is neither a frozen YAML nor requirements would be echoed unchanged.
      const chilled = environments.chillInput(text, file === '-' ? '- (stdin)' : file);
      return void out.stdout.write(chilled);
    }
    const { tree, deployment } = ctx.loaded;
    const { relative } = require('node:path') as typeof import('node:path');
    const results = environments.chillDeployment(deployment);
    const rel = (path: string) => relative(tree.root, path);
    if (out.json) out.printJson(results.map((r) => ({ ...r, from: rel(r.from), to: rel(r.to) })));
    else {
      for (const r of results) {
        if (r.status === 'missing') out.status('missing', shownPath(r.from, tree.root), 'run image-freeze first');
        else out.status(r.status, shownPath(r.to, tree.root));
      }
    }
    return results.some((r) => r.status === 'missing') ? 1 : 0;
  },
});
