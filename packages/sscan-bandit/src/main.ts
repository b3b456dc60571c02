#!/usr/bin/env -S node --
import { command } from '@imagewright/core/bin';

command({
  name: 'sscan-bandit',
  summary: "Python sources through Debian's bandit: security issues at or above medium severity and confidence.",
  args: '[DIR...]',
  positionals: { max: Infinity },
  description: `
Python files are found by extension (.py) and by their first line: \`#!\`, any spaces, then
/usr/bin/env (with its flags) or a direct path, then python, python3, python3.11… (the original
needed a space after \`#!\` and missed \`#!/usr/bin/env python\`). Binary files are skipped.
DIR… are folders (walked, skipping .git, node_modules, dist and __pycache__) or files; by default
the checkout's deployments/ and tools/.
bandit runs as \`bandit -ll -ii -f json\` (--severity/--confidence change -ll/-ii); each issue is a
line \`file:line: [B602 subprocess_popen_with_shell_equals_true] HIGH/HIGH text\`; a file bandit
cannot parse is a finding too. --json {findings: [{tool, file, line, test, severity, confidence,
text}], scanned}. Exit 1 on findings or when bandit itself fails.`,
  config: 'lazy',
  json: true,
  options: {
    severity: { type: 'string', value: 'LEVEL', description: 'report issues at or above LEVEL: low, medium (default), high' },
    confidence: { type: 'string', value: 'LEVEL', description: 'report issues at or above LEVEL confidence: low, medium (default), high' },
  },
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run(ctx) {
    const scan = require('@imagewright/source-scan') as typeof import('@imagewright/source-scan');
    const cmd = require('@imagewright/source-scan/command') as typeof import('@imagewright/source-scan/command');
    const severity = cmd.parseLevel(ctx.values.severity, '--severity');
    const confidence = cmd.parseLevel(ctx.values.confidence, '--confidence');
    const { targets, show } = cmd.scanTargets(ctx);
    const files = scan.sourceFiles(targets, 'python');
    const findings = await scan.runBandit(files, { severity, confidence, show, env: ctx.env });
    return cmd.reportFindings(ctx, findings, files.length, 'Python');
  },
});
