import { parseArgs } from 'node:util';
import { EXIT, ImagewrightError, usageError } from './errors';
import { loadConfig, type Loaded } from './load';
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
  out: Output;
  env: NodeJS.ProcessEnv;
  /** The config (`config: true`: loaded before run; 'lazy': on first access). */
  readonly loaded: Loaded;
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** Positional arguments as shown in usage, e.g. "[IMAGE]" or "CMD [ARG...]". */
  args?: string;
  positionals?: { min?: number; max?: number };
  /** Everything from the first positional on is passed through untouched (image-exec). */
  passThrough?: boolean;
  description?: string;
  options?: Record<string, OptionSpec>;
  /**
   * Reads setup-env config (adds --env-file): true loads and validates it before run;
   * 'lazy' loads it on first use of ctx.loaded (a command that may not need it).
   */
  config?: boolean | 'lazy';
  /** Prints data (adds --json). */
  json?: boolean;
  run(ctx: CommandContext): Promise<number | void> | number | void;
}

const HELP: OptionSpec = { type: 'boolean', short: 'h', description: 'show this help' };
const ENV_FILE: OptionSpec = { type: 'string', value: 'FILE', description: 'read config from a setup-env file instead of the environment' };
const JSON_OPT: OptionSpec = { type: 'boolean', description: 'print data as JSON' };

function allOptions(spec: CommandSpec): Record<string, OptionSpec> {
  return {
    ...(spec.config ? { 'env-file': ENV_FILE } : {}),
    ...(spec.json ? { json: JSON_OPT } : {}),
    ...spec.options,
    help: HELP,
  };
}

const usageLine = (spec: CommandSpec) => `${spec.name} [OPTIONS]${spec.args ? ` ${spec.args}` : ''}`;

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
    'Exit codes: 0 ok, 1 operation or check failed, 2 usage or config error.',
    '',
  ].join('\n');
}

/** With passThrough, options end at the first positional: `image-exec ls -la` keeps `-la`. */
function splitPassThrough(argv: string[], options: Record<string, OptionSpec>): [string[], string[]] {
  const byFlag = new Map<string, OptionSpec>();
  for (const [name, o] of Object.entries(options)) {
    byFlag.set(`--${name}`, o);
    if (o.short) byFlag.set(`-${o.short}`, o);
  }
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === '--') return [argv.slice(0, i), argv.slice(i + 1)];
    if (!token.startsWith('-') || token === '-') return [argv.slice(0, i), argv.slice(i)];
    const o = byFlag.get(token.split('=')[0]);
    if (o?.type === 'string' && !token.includes('=')) i++;
  }
  return [argv, []];
}

function parse(spec: CommandSpec, argv: string[]) {
  const options = allOptions(spec);
  const known = Object.keys(options).map((n) => `--${n}`).join(', ');
  const [own, rest] = spec.passThrough ? splitPassThrough(argv, options) : [argv, [] as string[]];
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
    if (unknown) throw usageError(`unknown option ${unknown[1]} (allowed: ${known})`);
    const missing = /Option '(?:-\w, )?(--[\w-]+) <value>' argument missing/.exec(message);
    if (missing) throw usageError(`option ${missing[1]} needs a value (${options[missing[1].slice(2)]?.value ?? 'VALUE'})`);
    throw usageError(message.split('\n')[0]);
  }
  const positionals = spec.passThrough ? rest : parsed.positionals;
  if (parsed.values.help) return { values: parsed.values as CommandContext['values'], positionals };
  const { min = 0, max = spec.passThrough ? Infinity : 0 } = spec.positionals ?? {};
  if (positionals.length < min) throw usageError(`missing argument: usage: ${usageLine(spec)}`);
  if (positionals.length > max) throw usageError(`unexpected argument ${JSON.stringify(positionals[max])}: usage: ${usageLine(spec)}`);
  return { values: parsed.values as CommandContext['values'], positionals };
}

export interface RunIO {
  env?: NodeJS.ProcessEnv;
  out?: Output;
}

/** Runs a command and resolves to its exit code; errors become one line on stderr. */
export async function runCommand(spec: CommandSpec, argv: string[], io: RunIO = {}): Promise<number> {
  const env = io.env ?? process.env;
  const errOut = io.out?.stderr ?? process.stderr;
  try {
    const { values, positionals } = parse(spec, argv);
    if (values.help) {
      (io.out?.stdout ?? process.stdout).write(helpText(spec));
      return EXIT.ok;
    }
    const out = io.out ?? createOutput({ json: Boolean(values.json), env });
    let loaded: Loaded | undefined;
    const load = () => (loaded ??= loadConfig({ envFile: values['env-file'] as string | undefined, env }));
    if (spec.config === true) load();
    const ctx: CommandContext = {
      values,
      positionals,
      out,
      env,
      get loaded() {
        return load();
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
