#!/usr/bin/env -S node --
import { command, usageError } from '@imagewright/core/bin';

/** The scans, in the order they run; every one runs whatever the earlier ones found. */
const TOOLS = ['sscan-bandit', 'sscan-deps', 'sscan-yaml', 'sscan-lint'] as const;

interface ToolResult {
  name: string;
  /** ok: exit 0; failed: exit 1 (findings, or the scanner failing); error: anything else, or not there to run. */
  status: 'ok' | 'failed' | 'error';
  exit: number | null;
  findings: unknown[];
  message?: string;
  /** The tool's --json output when it has no `findings` list. */
  report?: unknown;
}

/** A sibling package's built bin, else the checkout's bin/ link; undefined when neither is there. */
function toolPath(name: string): string | undefined {
  const { existsSync } = require('node:fs') as typeof import('node:fs');
  const { join } = require('node:path') as typeof import('node:path');
  const packages = join(__dirname, '..', '..');
  return [join(packages, name, 'dist', 'main.js'), join(packages, '..', 'bin', name)].find((p) => existsSync(p));
}

function runTool(path: string, args: string[], env: NodeJS.ProcessEnv, capture: boolean): Promise<{ code: number | null; stdout: string }> {
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  return new Promise((resolve, reject) => {
    // `--`: no argument may be taken by Node itself.
    const child = spawn(process.execPath, ['--', path, ...args], { env, stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'] });
    let stdout = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

function toResult(name: string, code: number | null, stdout: string | undefined): ToolResult {
  const status = code === 0 ? 'ok' : code === 1 ? 'failed' : 'error';
  const result: ToolResult = { name, status, exit: code, findings: [] };
  if (status === 'error') result.message = code === null ? 'killed by a signal' : `exited ${code}`;
  if (stdout === undefined) return result;
  try {
    const report = JSON.parse(stdout) as { findings?: unknown };
    if (Array.isArray(report.findings)) result.findings = report.findings;
    else if (Array.isArray(report)) result.findings = report;
    else result.report = report;
  } catch {
    if (status === 'ok') Object.assign(result, { status: 'error', message: 'its --json output is not JSON' });
  }
  return result;
}

command({
  name: 'sscan',
  summary: 'All source scans: sscan-bandit, sscan-deps, sscan-yaml and sscan-lint, every one run.',
  args: '[DIR...]',
  positionals: { max: Infinity },
  description: `
Runs ${TOOLS.join(', ')} in that order with DIR… (default: each tool's own, the
checkout's deployments/ and tools/; sscan-deps gets the frozen specs under the DIRs and
--no-host), every one even when an earlier one fails (the original's
safety scan stopped at the first failing spec). Each tool's own output is shown under a
\`==== name ====\` banner, then one OK or FAILED line per tool and a summary. A tool that is not
built counts as FAILED. --skip TOOL (repeatable; with or without the sscan- prefix) leaves one out.
--json runs each with --json: {tools: [{name, status: ok|failed|error, exit, findings}], failed};
--markdown prints a table for a CI step summary. Exit 1 when any tool failed.`,
  config: 'lazy',
  json: true,
  options: {
    skip: { type: 'string', value: 'TOOL', multiple: true, description: `leave TOOL out: ${TOOLS.map((t) => t.replace('sscan-', '')).join(', ')}` },
    markdown: { type: 'boolean', description: 'a Markdown summary for a CI step' },
  },
  conflicts: [['json', 'markdown']],
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run(ctx) {
    const { out, values, positionals } = ctx;
    const skip = new Set<string>();
    for (const given of (values.skip as string[] | undefined) ?? []) {
      const name = given.startsWith('sscan-') ? given : `sscan-${given}`;
      if (!(TOOLS as readonly string[]).includes(name)) throw usageError(`--skip ${JSON.stringify(given)}: allowed ${TOOLS.map((t) => t.replace('sscan-', '')).join(', ')}`);
      skip.add(name);
    }
    if (positionals.length) {
      const { existsSync } = require('node:fs') as typeof import('node:fs');
      const missing = positionals.find((p) => !existsSync(p));
      if (missing !== undefined) throw usageError(`${missing}: no such file or directory (allowed: a directory or file to scan)`);
    }
    const capture = Boolean(out.json || values.markdown);
    const common = [...(values['setup-env'] !== undefined ? ['--setup-env', values['setup-env'] as string] : []), ...(capture ? ['--json'] : [])];
    const results: ToolResult[] = [];
    for (const name of TOOLS) {
      if (skip.has(name)) continue;
      if (!capture) out.line(`==== ${name} ====`);
      const path = toolPath(name);
      if (!path) {
        const message = `not built: no packages/${name}/dist/main.js or bin/${name}`;
        if (!capture) out.line(`${name}: ${message}`);
        results.push({ name, status: 'error', exit: null, findings: [], message });
        continue;
      }
      let args = positionals;
      if (name === 'sscan-deps' && positionals.length) {
        // sscan-deps takes specs, not folders: the frozen specs under the DIRs, without the host's pip list (not in them).
        const specs = (require('@imagewright/source-scan') as typeof import('@imagewright/source-scan')).frozenSpecs(positionals);
        if (!specs.length) {
          const message = 'no frozen specs under the DIRs: nothing to scan';
          if (!capture) out.line(message);
          results.push({ name, status: 'ok', exit: null, findings: [], message });
          continue;
        }
        args = ['--no-host', ...specs];
      }
      const run = await runTool(path, [...common, ...args], ctx.env, capture);
      results.push(toResult(name, run.code, capture ? run.stdout : undefined));
    }
    const failed = results.filter((r) => r.status !== 'ok');
    const summary = `${results.length - failed.length} ok, ${failed.length} failed${skip.size ? `, ${skip.size} skipped` : ''}`;
    if (out.json) {
      out.printJson({ tools: results, failed: failed.length });
    } else if (values.markdown) {
      const rows = results.map((r) => `| ${r.name} | ${r.status === 'ok' ? '✅ OK' : '❌ FAILED'} | ${r.findings.length} | ${r.message ?? ''} |`);
      const skipped = [...skip].map((name) => `| ${name} | skipped | | |`);
      out.stdout.write(['### Source scans', '', `**${summary}**`, '', '| Tool | Result | Findings | Note |', '| --- | --- | --- | --- |', ...rows, ...skipped, ''].join('\n'));
    } else {
      out.line('==== summary ====');
      for (const r of results) out.line(`${r.status === 'ok' ? 'OK    ' : 'FAILED'}  ${r.name}${r.message ? `: ${r.message}` : ''}`);
      for (const name of skip) out.line(`SKIPPED ${name}`);
      out.line(`sscan: ${summary}`);
    }
    return failed.length ? 1 : 0;
  },
});
