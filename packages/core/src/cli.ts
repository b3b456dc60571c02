import { parseArgs } from 'node:util';
import { EXIT, ImagewrightError, usageError } from './errors';
import type { Loaded } from './load';
import { createOutput, type Output } from './output';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  description: string;
  /** Placeholder shown in --help for string options. */
  value?: string;
  multiple?: boolean;
}

export interface CommandContext {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  /** The docker-run flags given on the command line (run family: `runFlags`), in order. */
  runArgs: string[];
  out: Output;
  env: NodeJS.ProcessEnv;
  /** The config (`config: true`: loaded before run; 'lazy': on first access). */
  readonly loaded: Loaded;
  /** The image the command works on (`image`): --image, the IMAGE argument, else IMAGE_ID. */
  readonly image: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** Positional arguments as shown in usage, e.g. "CMD [ARG...]" ("[IMAGE]" comes from `image`). */
  args?: string;
  positionals?: { min?: number; max?: number };
  /** Everything from the first positional on is passed through untouched (image-exec). */
  passThrough?: boolean;
  description?: string;
  options?: Record<string, OptionSpec>;
  /**
   * Reads setup-env config (adds --setup-env): true loads and validates it before run;
   * 'lazy' loads it on first use of ctx.loaded (a command that may not need it).
   */
  config?: boolean | 'lazy';
  /** Prints data (adds --json). */
  json?: boolean;
  /**
   * Works on one image (adds --image REF, default IMAGE_ID); 'positional' also takes it as the
   * command's only positional argument, as the docker CLI does.
   */
  image?: 'option' | 'positional';
  /** Groups of options of which at most one may be given. */
  conflicts?: string[][];
  /**
   * The run family: `docker run` flags are accepted before the command, in any order with the
   * command's own options. Returns how many following words a flag word takes (throws a usage
   * error for an unsupported one); the words end up in ctx.runArgs.
   */
  runFlags?: (word: string) => 0 | 1;
  /** The exit-code footer of --help, when it is not the usual one. */
  exitCodes?: string;
  /** The Engine's API version, for `--version --json` (commands that talk to the Engine). */
  engineVersion?: (env: NodeJS.ProcessEnv) => Promise<string>;
  run(ctx: CommandContext): Promise<number | void> | number | void;
}

const SETUP_ENV: OptionSpec = {
  type: 'string',
  value: 'FILE',
  description: 'read config from a setup-env file instead of the environment (or IMAGEWRIGHT_SETUP_ENV=FILE)',
};
const JSON_OPT: OptionSpec = { type: 'boolean', description: 'print data as JSON' };
// Every command has --version, and `--version --json` is for tools: commands without data take --json for that only.
const VERSION_JSON: OptionSpec = { type: 'boolean', description: 'with --version: print it as JSON' };
const IMAGE_OPT: OptionSpec = { type: 'string', value: 'REF', description: 'the image to use instead of IMAGE_ID' };
const VERSION: OptionSpec = { type: 'boolean', description: "print imagewright's version (--json: with Node's and the Engine API's)" };
// In `docker run`, -h is --hostname: the run family keeps --help long only.
const helpOption = (spec: CommandSpec): OptionSpec => ({ type: 'boolean', ...(spec.runFlags ? {} : { short: 'h' }), description: 'show this help' });

export const EXIT_CODES_FOOTER = 'Exit codes: 0 ok, 1 operation or check failed, 2 usage or config error.';
export const RUN_EXIT_CODES_FOOTER = [
  "Exit codes: the command's own, as with docker run; 2 usage or config error;",
  '  125 the Engine refused the container, 126 the command cannot be invoked, 127 the command was not found.',
].join('\n');

function allOptions(spec: CommandSpec): Record<string, OptionSpec> {
  return {
    ...(spec.config ? { 'setup-env': SETUP_ENV } : {}),
    ...(spec.image ? { image: IMAGE_OPT } : {}),
    json: spec.json ? JSON_OPT : VERSION_JSON,
    ...spec.options,
    version: VERSION,
    help: helpOption(spec),
  };
}

function usageArgs(spec: CommandSpec): string {
  const parts = [spec.runFlags ? '[DOCKER RUN FLAGS]' : '', spec.image === 'positional' ? '[IMAGE]' : '', spec.args ?? ''];
  return parts.filter(Boolean).join(' ');
}

const usageLine = (spec: CommandSpec) => `${spec.name} [OPTIONS]${usageArgs(spec) ? ` ${usageArgs(spec)}` : ''}`;

export function helpText(spec: CommandSpec): string {
  const options = allOptions(spec);
  const left = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
    return [flag, o.description] as const;
  });
  const width = Math.max(...left.map(([f]) => f.length)) + 3;
  return [
    `Usage: ${usageLine(spec)}`,
    '',
    spec.summary,
    ...(spec.description ? ['', spec.description.trim()] : []),
    '',
    'Options:',
    ...left.map(([flag, desc]) => `  ${flag.padEnd(width)}${desc}`),
    '',
    spec.exitCodes ?? (spec.runFlags ? RUN_EXIT_CODES_FOOTER : EXIT_CODES_FOOTER),
    '',
  ].join('\n');
}

/**
 * With passThrough, options end at the first positional: `image-exec ls -la` keeps `-la`.
 * Before it, the command's own options go to parseArgs and, in the run family, docker-run flags
 * (with their values) to runArgs.
 */
function splitPassThrough(spec: CommandSpec, argv: string[], options: Record<string, OptionSpec>): { own: string[]; runArgs: string[]; rest: string[] } {
  const byFlag = new Map<string, OptionSpec>();
  for (const [name, o] of Object.entries(options)) {
    byFlag.set(`--${name}`, o);
    if (o.short) byFlag.set(`-${o.short}`, o);
  }
  const own: string[] = [];
  const runArgs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === '--') return { own, runArgs, rest: argv.slice(i + 1) };
    if (!token.startsWith('-') || token === '-') return { own, runArgs, rest: argv.slice(i) };
    const o = byFlag.get(token.split('=')[0]);
    if (o || !spec.runFlags) {
      own.push(token);
      if (o?.type === 'string' && !token.includes('=') && i + 1 < argv.length) own.push(argv[++i]);
      continue;
    }
    const words = spec.runFlags(token);
    runArgs.push(token, ...argv.slice(i + 1, i + 1 + words));
    if (i + words >= argv.length) throw usageError(`${token} needs a value: usage: ${usageLine(spec)}`);
    i += words;
  }
  return { own, runArgs, rest: [] };
}

function parse(spec: CommandSpec, argv: string[]) {
  const options = allOptions(spec);
  const known = Object.keys(options).map((n) => `--${n}`).join(', ');
  const { own, runArgs, rest } = spec.passThrough ? splitPassThrough(spec, argv, options) : { own: argv, runArgs: [], rest: [] as string[] };
  let parsed;
  try {
    parsed = parseArgs({
      args: own,
      options: Object.fromEntries(
        Object.entries(options).map(([n, o]) => [n, { type: o.type, multiple: Boolean(o.multiple), ...(o.short ? { short: o.short } : {}) }]),
      ),
      allowPositionals: !spec.passThrough,
      strict: true,
    });
  } catch (error) {
    const message = (error as Error).message;
    const unknown = /Unknown option '([^']+)'/.exec(message);
    if (unknown?.[1] === '--env-file' && spec.config) {
      // The docker CLI's --env-file is a container's environment; ours was renamed.
      throw usageError(`unknown option --env-file: the setup-env file is --setup-env FILE (or IMAGEWRIGHT_SETUP_ENV=FILE); allowed: ${known}`);
    }
    if (unknown) throw usageError(`unknown option ${unknown[1]} (allowed: ${known})`);
    const missing = /Option '(?:-\w, )?(--[\w-]+) <value>' argument missing/.exec(message);
    if (missing) throw usageError(`option ${missing[1]} needs a value (${options[missing[1].slice(2)]?.value ?? 'VALUE'})`);
    throw usageError(message.split('\n')[0]);
  }
  const values = parsed.values as CommandContext['values'];
  const positionals = spec.passThrough ? rest : parsed.positionals;
  if (values.help || values.version) return { values, positionals, runArgs, image: undefined };
  if (values.json && !spec.json) throw usageError('--json goes with --version here: this command prints no data');
  for (const group of spec.conflicts ?? []) {
    const given = group.filter((name) => values[name] !== undefined && values[name] !== false);
    if (given.length > 1) throw usageError(`${given.map((n) => `--${n}`).join(' and ')} conflict: give at most one`);
  }
  const imageArg = spec.image === 'positional' ? 1 : 0;
  const { min = 0, max = spec.passThrough ? Infinity : 0 } = spec.positionals ?? {};
  if (positionals.length < min) throw usageError(`missing argument: usage: ${usageLine(spec)}`);
  if (positionals.length > max + imageArg) throw usageError(`unexpected argument ${JSON.stringify(positionals[max + imageArg])}: usage: ${usageLine(spec)}`);
  if (imageArg && positionals.length > max && values.image !== undefined) {
    throw usageError(`the image is given twice (--image ${values.image} and ${positionals[max]}): give it once`);
  }
  if (values.image === '' || (imageArg && positionals[max] === '')) {
    throw usageError(`${values.image === '' ? '--image' : 'IMAGE'} is empty: allowed an image reference (name[:tag], name@digest) or ID`);
  }
  // The IMAGE argument is the image's, not one of the command's own positionals.
  const image = (values.image as string | undefined) ?? (imageArg ? positionals[max] : undefined);
  return { values, positionals: imageArg ? positionals.slice(0, max) : positionals, runArgs, image };
}

export interface RunIO {
  env?: NodeJS.ProcessEnv;
  out?: Output;
}

/** imagewright's version: the checkout's package.json (every package is released with it). */
export function imagewrightVersion(): string {
  const { readFileSync } = require('node:fs') as typeof import('node:fs');
  const { join } = require('node:path') as typeof import('node:path');
  return (JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
}

async function printVersion(spec: CommandSpec, json: boolean, env: NodeJS.ProcessEnv, stdout: NodeJS.WritableStream): Promise<void> {
  const version = imagewrightVersion();
  if (!json) return void stdout.write(`${spec.name} (imagewright) ${version}\n`);
  const info: Record<string, string | null> = { command: spec.name, imagewright: version, node: process.versions.node, engineApi: null };
  if (spec.engineVersion) {
    try {
      info.engineApi = await spec.engineVersion(env);
    } catch (error) {
      info.engineError = (error as Error).message;
    }
  }
  stdout.write(`${JSON.stringify(info, null, 2)}\n`);
}

/** Runs a command and resolves to its exit code; errors become one line on stderr. */
export async function runCommand(spec: CommandSpec, argv: string[], io: RunIO = {}): Promise<number> {
  const env = io.env ?? process.env;
  const errOut = io.out?.stderr ?? process.stderr;
  try {
    const { values, positionals, runArgs, image } = parse(spec, argv);
    const stdout = io.out?.stdout ?? process.stdout;
    if (values.help) {
      stdout.write(helpText(spec));
      return EXIT.ok;
    }
    if (values.version) {
      await printVersion(spec, Boolean(values.json), env, stdout);
      return EXIT.ok;
    }
    const out = io.out ?? createOutput({ json: Boolean(values.json), env });
    let loaded: Loaded | undefined;
    // Loaded on first use: --help and usage errors never read config.
    const load = () => (loaded ??= (require('./load') as typeof import('./load')).loadConfig({ setupEnv: values['setup-env'] as string | undefined, env }));
    if (spec.config === true) load();
    const ctx: CommandContext = {
      values,
      positionals,
      runArgs,
      out,
      env,
      get loaded() {
        return load();
      },
      get image() {
        return image ?? load().config.IMAGE_ID;
      },
    };
    const code = await spec.run(ctx);
    return code ?? EXIT.ok;
  } catch (error) {
    if (error instanceof ImagewrightError) {
      errOut.write(`${spec.name}: ${error.message}\n`);
      if (env.IMAGEWRIGHT_DEBUG && error.cause) errOut.write(`${String((error.cause as Error).stack ?? error.cause)}\n`);
      return error.exitCode;
    }
    errOut.write(`${spec.name}: ${(error as Error)?.message ?? String(error)}\n`);
    if (env.IMAGEWRIGHT_DEBUG) errOut.write(`${(error as Error)?.stack}\n`);
    return EXIT.failed;
  }
}

/** Entry point of every bin: parse → call → print → exit code. */
export function command(spec: CommandSpec): void {
  // A closed pipe (`image-env | head -1`) is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });
  void runCommand(spec, process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
