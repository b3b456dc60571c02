#!/usr/bin/env -S node --
import { command } from '@imagewright/core/bin';

command({
  name: 'sscan-lint',
  summary: "Debian's flake8 on the Python sources and shellcheck on the shell scripts.",
  args: '[DIR...]',
  positionals: { max: Infinity },
  description: `
Python files (.py, or a python \`#!\` line) go through flake8 with the original's settings
(--max-line-length 120 --ignore E302,E203,W291,W503,W504); shell scripts (.sh, or a sh or bash
\`#!\` line) through shellcheck. DIR… are folders (walked, skipping .git, node_modules, dist and
__pycache__) or files; by default the checkout's deployments/ and tools/. Each finding is a line
\`file:line:col: [CODE] text\`; --json {findings: [{tool, file, line, col, test, severity?, text}],
scanned}. Exit 1 on findings or when a linter itself fails.`,
  config: 'lazy',
  json: true,
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run(ctx) {
    const scan = require('@imagewright/source-scan') as typeof import('@imagewright/source-scan');
    const cmd = require('@imagewright/source-scan/command') as typeof import('@imagewright/source-scan/command');
    const { targets, show } = cmd.scanTargets(ctx);
    const files = scan.walkFiles(targets);
    const kinds = files.map((f) => scan.classify(f));
    const python = files.filter((_, i) => kinds[i] === 'python');
    const shell = files.filter((_, i) => kinds[i] === 'shell');
    const findings = [...(await scan.runFlake8(python, { show, env: ctx.env })), ...(await scan.runShellcheck(shell, { show, env: ctx.env }))];
    return cmd.reportFindings(ctx, findings, python.length + shell.length, 'Python and shell');
  },
});
