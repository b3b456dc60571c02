import { failure } from '@imagewright/core';
import type { Finding, ShowPath } from './findings';

export interface ToolRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs a scanner through zx; a missing program or one that cannot run is a failure naming it. */
export async function runTool(program: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ToolRun> {
  const { $ } = require('zx') as typeof import('zx');
  const run = await $({ env, quiet: true, nothrow: true })`${program} ${args}`;
  if (run.exitCode === 127 || run.exitCode === null) {
    throw failure(`${program}: not found or not runnable (${lastLine(run.stderr) || 'no message'}); tools/bootstrap installs Debian's ${program}`);
  }
  return { exitCode: run.exitCode, stdout: run.stdout, stderr: run.stderr };
}

/** The last non-empty line of a tool's stderr: its error, for a one-line failure. */
export const lastLine = (text: string): string => text.trim().split('\n').map((l) => l.trim()).filter(Boolean).pop() ?? '';

// ---- bandit

export const LEVELS = ['low', 'medium', 'high'] as const;
export type Level = (typeof LEVELS)[number];

export interface BanditOptions {
  /** Report issues at or above (bandit's -l, -ll, -lll); default medium, as the original's -ll. */
  severity?: Level;
  /** Report issues at or above this confidence (-i, -ii, -iii); default medium (-ii). */
  confidence?: Level;
  show?: ShowPath;
  env?: NodeJS.ProcessEnv;
}

const repeat = (flag: string, level: Level) => `-${flag.repeat(LEVELS.indexOf(level) + 1)}`;

export function banditArgs(files: string[], options: BanditOptions = {}): string[] {
  return [repeat('l', options.severity ?? 'medium'), repeat('i', options.confidence ?? 'medium'), '-f', 'json', '-q', ...files];
}

interface BanditReport {
  errors?: { filename: string; reason: string }[];
  results?: {
    filename: string;
    line_number: number;
    test_id: string;
    test_name: string;
    issue_severity: string;
    issue_confidence: string;
    issue_text: string;
  }[];
}

/** bandit's `-f json` report as findings; a file bandit could not read or parse is one too (it is unscanned). */
export function banditFindings(report: BanditReport, show: ShowPath = (p) => p): Finding[] {
  const errors: Finding[] = (report.errors ?? []).map((e) => ({ tool: 'bandit', file: show(e.filename), line: 0, test: 'error', text: e.reason }));
  const results: Finding[] = (report.results ?? []).map((r) => ({
    tool: 'bandit',
    file: show(r.filename),
    line: r.line_number,
    test: `${r.test_id} ${r.test_name}`,
    severity: r.issue_severity,
    confidence: r.issue_confidence,
    text: r.issue_text,
  }));
  return [...errors, ...results];
}

/** Debian's bandit on the files: 0 clean, 1 issues; anything else (or no JSON) is bandit failing. */
export async function runBandit(files: string[], options: BanditOptions = {}): Promise<Finding[]> {
  if (!files.length) return [];
  const run = await runTool('bandit', banditArgs(files, options), options.env);
  let report: BanditReport;
  try {
    report = JSON.parse(run.stdout) as BanditReport;
  } catch {
    throw failure(`bandit exited ${run.exitCode} without a JSON report: ${lastLine(run.stderr) || lastLine(run.stdout) || 'no message'}`);
  }
  if (run.exitCode > 1) throw failure(`bandit exited ${run.exitCode}: ${lastLine(run.stderr) || 'no message'}`);
  return banditFindings(report, options.show);
}

// ---- flake8 and shellcheck

/** The original's sscan-flake8 settings. */
export const FLAKE8_ARGS = ['--max-line-length', '120', '--ignore', 'E302,E203,W291,W503,W504'];

/** flake8's default `file:line:col: CODE text` lines as findings. */
export function flake8Findings(output: string, show: ShowPath = (p) => p): Finding[] {
  const findings: Finding[] = [];
  for (const line of output.split('\n')) {
    const m = /^(.+?):(\d+):(\d+): ([A-Z]+\d+) (.*)$/.exec(line);
    if (m) findings.push({ tool: 'flake8', file: show(m[1]), line: Number(m[2]), col: Number(m[3]), test: m[4], text: m[5] });
  }
  return findings;
}

export async function runFlake8(files: string[], options: { show?: ShowPath; env?: NodeJS.ProcessEnv } = {}): Promise<Finding[]> {
  if (!files.length) return [];
  const run = await runTool('flake8', [...FLAKE8_ARGS, '--', ...files], options.env);
  if (run.exitCode > 1) throw failure(`flake8 exited ${run.exitCode}: ${lastLine(run.stderr) || 'no message'}`);
  const findings = flake8Findings(run.stdout, options.show);
  if (run.exitCode === 1 && !findings.length) throw failure(`flake8 exited 1 with no findings: ${lastLine(run.stderr) || lastLine(run.stdout) || 'no message'}`);
  return findings;
}

interface ShellcheckComment {
  file: string;
  line: number;
  column: number;
  level: string;
  code: number;
  message: string;
}

export function shellcheckFindings(comments: ShellcheckComment[], show: ShowPath = (p) => p): Finding[] {
  return comments.map((c) => ({ tool: 'shellcheck', file: show(c.file), line: c.line, col: c.column, test: `SC${c.code}`, severity: c.level, text: c.message }));
}

/** shellcheck -f json: 0 clean, 1 comments; more is shellcheck failing. */
export async function runShellcheck(files: string[], options: { show?: ShowPath; env?: NodeJS.ProcessEnv } = {}): Promise<Finding[]> {
  if (!files.length) return [];
  const run = await runTool('shellcheck', ['-f', 'json', '--', ...files], options.env);
  if (run.exitCode > 1) throw failure(`shellcheck exited ${run.exitCode}: ${lastLine(run.stderr) || 'no message'}`);
  try {
    return shellcheckFindings(JSON.parse(run.stdout) as ShellcheckComment[], options.show);
  } catch {
    throw failure(`shellcheck exited ${run.exitCode} without a JSON report: ${lastLine(run.stderr) || 'no message'}`);
  }
}

// ---- YAML

export interface YamlCheck {
  findings: Finding[];
  /** Templates (a `{{` in them): not YAML until rendered, skipped as HEAD's sscan-yaml did. */
  skipped: string[];
}

/** Every document of every file parses, with unique keys; errors with the parser's line and column. */
export function checkYaml(files: string[], options: { show?: ShowPath } = {}): YamlCheck {
  const { readFileSync } = require('node:fs') as typeof import('node:fs');
  const { parseAllDocuments } = require('yaml') as typeof import('yaml');
  const show = options.show ?? ((p: string) => p);
  const findings: Finding[] = [];
  const skipped: string[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    if (text.includes('{{')) {
      skipped.push(show(file));
      continue;
    }
    // An empty file is an EmptyStream: no documents, no errors.
    const errors = [...parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true })].flatMap((d) => d.errors);
    for (const error of errors) {
      const pos = error.linePos?.[0];
      // prettyErrors appends " at line N, column M:" and a context excerpt: the position is in the finding.
      const message = error.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
      findings.push({ tool: 'yaml', file: show(file), line: pos?.line ?? 0, ...(pos ? { col: pos.col } : {}), test: error.code, text: message });
    }
  }
  return { findings, skipped };
}
