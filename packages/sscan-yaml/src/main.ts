#!/usr/bin/env -S node --
import { command } from '@imagewright/core/bin';

command({
  name: 'sscan-yaml',
  summary: 'Every YAML file parses, with no duplicate keys.',
  args: '[DIR...]',
  positionals: { max: Infinity },
  description: `
Every *.yml and *.yaml under DIR… (folders walked, skipping .git, node_modules, dist and
__pycache__; by default the checkout's deployments/ and tools/) is parsed, every document of it;
a syntax error or a duplicate key is a finding \`file:line:col: [CODE] message\`. Files with \`{{\`
are templates, not YAML until rendered: skipped (as the original did) and listed as skipped.
--json {findings, scanned, skipped}. Exit 1 on any finding.`,
  config: 'lazy',
  json: true,
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  run(ctx) {
    const scan = require('@imagewright/source-scan') as typeof import('@imagewright/source-scan');
    const cmd = require('@imagewright/source-scan/command') as typeof import('@imagewright/source-scan/command');
    const { targets, show } = cmd.scanTargets(ctx);
    const files = scan.sourceFiles(targets, 'yaml');
    const { findings, skipped } = scan.checkYaml(files, { show });
    if (!ctx.out.json) for (const file of skipped) ctx.out.status('skipped', file, 'a template ({{)');
    return cmd.reportFindings(ctx, findings, files.length - skipped.length, 'YAML', { skipped });
  },
});
