/*
 * The data key (or its Shamir share) wrapped for an age recipient, as sops' age/keysource.go does:
 * the raw key bytes are the plaintext of an age file, ASCII-armored; identities are looked for
 * where sops looks for them.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { AgeKey } from './metadata';

type AgeModule = typeof import('age-encryption');
// age-encryption is ESM only: Node 20.19+ require()s it; loaded when a key is wrapped or unwrapped.
const ageModule = (): AgeModule => require('age-encryption') as AgeModule;

export const SOPS_AGE_KEY = 'SOPS_AGE_KEY';
export const SOPS_AGE_KEY_FILE = 'SOPS_AGE_KEY_FILE';
export const SOPS_AGE_KEY_CMD = 'SOPS_AGE_KEY_CMD';
/** Given to SOPS_AGE_KEY_CMD: the recipient whose identity is wanted. */
export const SOPS_AGE_RECIPIENT = 'SOPS_AGE_RECIPIENT';

/** `dataKey` encrypted to `recipient`: an armored age file holding exactly those bytes. */
export async function ageWrap(dataKey: Uint8Array, recipient: string): Promise<AgeKey> {
  const { Encrypter, armor } = ageModule();
  const encrypter = new Encrypter();
  encrypter.addRecipient(recipient);
  return { recipient, enc: armor.encode(await encrypter.encrypt(dataKey)) };
}

/**
 * The bytes in an armored age file, with the first identity that fits; undefined when none fits
 * (a malformed file is an error).
 */
export async function ageUnwrap(enc: string, identities: readonly string[]): Promise<Buffer | undefined> {
  if (identities.length === 0) return undefined;
  const { Decrypter, armor } = ageModule();
  const decrypter = new Decrypter();
  for (const identity of identities) decrypter.addIdentity(identity);
  const file = armor.decode(enc);
  try {
    return Buffer.from(await decrypter.decrypt(file));
  } catch (error) {
    if (/no identity matched/i.test((error as Error)?.message ?? '')) return undefined;
    throw error;
  }
}

/** Identities found, where they were looked for, and what could not be read. */
export interface AgeIdentities {
  /** `AGE-SECRET-KEY-1…` / `AGE-SECRET-KEY-PQ-1…` strings: never print them. */
  identities: string[];
  /** Every place looked at, in sops' order, with what was found there: `SOPS_AGE_KEY_FILE=/x (2 identities)`. */
  looked: string[];
  /** Sources that were set but could not be used (unreadable file, bad line, failing command). */
  problems: string[];
}

/**
 * Parses identities as sops does: one a line, empty lines and lines starting with `#` skipped;
 * with `severalPerLine` (SOPS_AGE_KEY), every word of a line is one. Throws a message naming
 * the line, never its text.
 */
export function parseAgeIdentities(text: string, source: string, severalPerLine = false): string[] {
  const { Decrypter } = ageModule();
  const found: string[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/\r$/, '');
    if (line === '' || line.startsWith('#')) return;
    for (const word of severalPerLine ? line.split(/\s+/).filter(Boolean) : [line]) {
      if (word.startsWith('AGE-PLUGIN-')) throw new Error(`${source}: line ${index + 1} is an age plugin identity, which is not supported`);
      try {
        new Decrypter().addIdentity(word); // checks prefix and bech32
      } catch {
        throw new Error(`${source}: line ${index + 1} is not an age identity (AGE-SECRET-KEY-1…)`);
      }
      found.push(word);
    }
  });
  return found;
}

/** sops' user config directory (Go's os.UserConfigDir, XDG_CONFIG_HOME honoured on macOS too). */
function userConfigDir(env: NodeJS.ProcessEnv): string | undefined {
  const xdg = env.XDG_CONFIG_HOME;
  if (process.platform === 'darwin') return xdg || (env.HOME ? join(env.HOME, 'Library', 'Application Support') : undefined);
  if (process.platform === 'win32') return env.APPDATA || undefined;
  if (xdg) return isAbsolute(xdg) ? xdg : undefined; // Go refuses a relative XDG_CONFIG_HOME
  return env.HOME ? join(env.HOME, '.config') : undefined;
}

/** Splits a command line as sops does (google/shlex): words, '…' and "…" quoting, backslash escapes, # comments. */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === '#' && word === undefined) {
      break;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error('unclosed single quote');
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      word ??= '';
      for (i++; ; i++) {
        if (i >= line.length) throw new Error('unclosed double quote');
        if (line[i] === '"') break;
        if (line[i] === '\\' && i + 1 < line.length && '"\\$`\n'.includes(line[i + 1]!)) i++;
        word += line[i];
      }
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new Error('a backslash ends the command');
      word = (word ?? '') + line[++i];
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

const counted = (n: number) => `${n} identit${n === 1 ? 'y' : 'ies'}`;

/**
 * The age identities sops would use, from the same places in the same order: SOPS_AGE_KEY (several
 * per line), the file SOPS_AGE_KEY_FILE names, the output of SOPS_AGE_KEY_CMD (run with
 * SOPS_AGE_RECIPIENT=`recipient`), and `<user config dir>/sops/age/keys.txt`
 * ($XDG_CONFIG_HOME/sops/age/keys.txt, else ~/.config/sops/age/keys.txt on Linux). A set variable
 * counts even when empty, as in sops. Not read: SSH keys and passphrase-protected identity files.
 */
export async function findAgeIdentities(env: NodeJS.ProcessEnv = process.env, recipient?: string): Promise<AgeIdentities> {
  const result: AgeIdentities = { identities: [], looked: [], problems: [] };
  const take = (source: string, label: string, text: string, severalPerLine = false) => {
    if (/^(age-encryption|-----BEGIN AGE)/.test(text)) {
      result.problems.push(`${source}: passphrase-protected identity files are not supported`);
      result.looked.push(`${label} (protected by a passphrase)`);
      return;
    }
    try {
      const found = parseAgeIdentities(text, source, severalPerLine);
      result.identities.push(...found);
      result.looked.push(`${label} (${counted(found.length)})`);
    } catch (error) {
      result.problems.push((error as Error).message);
      result.looked.push(`${label} (unusable)`);
    }
  };

  if (env[SOPS_AGE_KEY] !== undefined) take(SOPS_AGE_KEY, SOPS_AGE_KEY, env[SOPS_AGE_KEY]!, true);
  else result.looked.push(`${SOPS_AGE_KEY} (not set)`);

  const file = env[SOPS_AGE_KEY_FILE];
  if (file !== undefined) {
    const label = `${SOPS_AGE_KEY_FILE}=${file}`;
    try {
      take(label, label, await readFile(file, 'utf8'));
    } catch (error) {
      result.problems.push(`${label}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
      result.looked.push(`${label} (unreadable)`);
    }
  } else {
    result.looked.push(`${SOPS_AGE_KEY_FILE} (not set)`);
  }

  const command = env[SOPS_AGE_KEY_CMD];
  if (command !== undefined) {
    try {
      take(SOPS_AGE_KEY_CMD, SOPS_AGE_KEY_CMD, await runKeyCommand(command, env, recipient));
    } catch (error) {
      result.problems.push(`${SOPS_AGE_KEY_CMD}: ${(error as Error).message}`);
      result.looked.push(`${SOPS_AGE_KEY_CMD} (failed)`);
    }
  } else {
    result.looked.push(`${SOPS_AGE_KEY_CMD} (not set)`);
  }

  const dir = userConfigDir(env);
  if (dir) {
    const path = join(dir, 'sops', 'age', 'keys.txt');
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') result.problems.push(`${path}: ${(error as Error).message}`);
      result.looked.push(`${path} (${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : 'unreadable'})`);
    }
    if (text !== undefined) take(path, path, text);
  } else {
    result.looked.push('the user config directory (neither XDG_CONFIG_HOME nor HOME is set)');
  }
  return result;
}

/** SOPS_AGE_KEY_CMD's standard output: the command split as sops splits it; each word quoted, so nothing is expanded. */
async function runKeyCommand(command: string, env: NodeJS.ProcessEnv, recipient: string | undefined): Promise<string> {
  const args = splitCommand(command);
  if (args.length === 0) throw new Error('empty command');
  const { $ } = require('zx') as typeof import('zx');
  const childEnv = { ...env, ...(recipient ? { [SOPS_AGE_RECIPIENT]: recipient } : {}) };
  const out = await $({ env: childEnv, quiet: true, nothrow: true, stdio: ['ignore', 'pipe', 'pipe'] })`${args}`;
  // The command's output is secret: only its exit status is told.
  if (out.exitCode !== 0) throw new Error(`${args[0]} exited with status ${out.exitCode ?? out.signal}`);
  return out.stdout;
}

/** Why no identity opened a group's age keys: its recipients, what was found where, what could not be read. */
export function ageMiss(recipients: string[], found: AgeIdentities): string {
  const what = found.identities.length ? `none of the ${counted(found.identities.length)} found fits` : 'no age identity found';
  const problems = found.problems.length ? `; ${found.problems.join('; ')}` : '';
  return `${what} for its age recipients (${recipients.join(', ')}); looked in ${found.looked.join(', ')}${problems}`;
}
