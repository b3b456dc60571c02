/*
 * secrets-edit's two halves outside the format: the plaintext in a private temp file for the
 * user's editor (removed whatever happens), and the commit in the file's repository.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { failure } from '@imagewright/core';
import { commitFile } from './repository';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const SIGNAL_NUMBER: Record<(typeof SIGNALS)[number], number> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };

/** $VISUAL, else $EDITOR, else vi: a shell command, so "code --wait" works as in git. */
export function editorCommand(env: NodeJS.ProcessEnv): string {
  return env.VISUAL?.trim() || env.EDITOR?.trim() || 'vi';
}

/**
 * The editor as the shell runs it: `exec`ed when it is one command, so that our child is the editor
 * itself, not a shell waiting on it (a signal sent to a shell does not reach its foreground child:
 * SIGTERM would orphan the editor, SIGINT would wait for it). A line of several commands (;, &&, |,
 * a leading VAR=) runs as written, in the shell.
 */
function shellLine(editor: string): string {
  const oneCommand = !/[;&|()<>`\n]/.test(editor) && !/^[A-Za-z_][A-Za-z0-9_]*=/.test(editor);
  return oneCommand ? `exec ${editor}` : editor;
}

/**
 * Writes `initial` to a 0600 file named like `target` in a new 0700 temp directory, runs the
 * editor on it and returns what it saved. The directory is removed before this returns or throws,
 * on process exit, and on SIGINT/SIGTERM/SIGHUP. SIGTERM and SIGHUP end the editor and this
 * process (128+n); SIGINT is passed to the editor, which decides (vim ignores it; a script dies),
 * as a terminal's Ctrl-C reaches both. An editor that fails or dies changes nothing: exit 1.
 */
export async function editInPrivate(target: string, initial: Buffer, env: NodeJS.ProcessEnv): Promise<Buffer> {
  let dir: string;
  try {
    dir = mkdtempSync(join(tmpdir(), 'secrets-edit-'));
  } catch (error) {
    throw failure(`cannot make a private temp folder in ${tmpdir()} (TMPDIR): ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, error);
  }
  const remove = () => rmSync(dir, { recursive: true, force: true });
  process.on('exit', remove);
  const path = join(dir, basename(target));
  const editor = editorCommand(env);
  let child: ReturnType<typeof spawn> | undefined;
  const onSignal = (signal: (typeof SIGNALS)[number]) => {
    if (signal === 'SIGINT' && child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      return;
    }
    child?.kill(signal);
    remove();
    process.exit(128 + SIGNAL_NUMBER[signal]);
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  try {
    writeFileSync(path, initial, { mode: 0o600, flag: 'wx' });
    // The terminal is handed to the editor: spawn with inherited stdio, not zx (it pipes).
    const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child = spawn('/bin/sh', ['-c', `${shellLine(editor)} "$1"`, 'sh', path], { stdio: 'inherit', env });
      child.on('error', reject);
      child.on('exit', (code, signal) => resolve({ code, signal }));
    });
    if (ended.signal) throw failure(`editor ${editor} was killed (${ended.signal}): ${target} left as it was`);
    if (ended.code !== 0) throw failure(`editor ${editor} exited with ${ended.code}: ${target} left as it was`);
    return readFileSync(path);
  } finally {
    remove();
    for (const s of SIGNALS) process.off(s, onSignal);
    process.off('exit', remove);
  }
}

/**
 * Commits `target` alone in the git repository holding it, with `message` (given, or made from the
 * file's path in the repository) or "secrets: edit <path>". Returns what was done, for the user;
 * outside a repository nothing is committed.
 */
export async function commitEdit(target: string, message: string | ((inRepo: string) => string) | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  const { $ } = require('zx') as typeof import('zx');
  const top = await $({ cwd: dirname(target), env, nothrow: true, quiet: true })`git rev-parse --show-toplevel`;
  if (top.exitCode !== 0) return `${target}: not in a git repository; not committed`;
  const root = top.stdout.trim();
  // git names the top by its real path: compare like with like.
  const inRepo = relative(root, realpathSync(target));
  const text = typeof message === 'function' ? message(inRepo) : (message ?? `secrets: edit ${inRepo}`);
  const made = await commitFile(root, inRepo, text, { env });
  return made ? `committed ${inRepo} in ${root}` : `${inRepo}: nothing to commit`;
}
