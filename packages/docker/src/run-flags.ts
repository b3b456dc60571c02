import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { isAbsolute, posix, resolve } from 'node:path';
import { usageError } from '@imagewright/core';
import type Dockerode from 'dockerode';

/**
 * IMAGE_RUN_PARS (and the run family's command-line flags): `docker run` flags, parsed here (not
 * by a shell) into a typed form and translated to an Engine create request as the docker CLI
 * (28.x, cli/command/container/opts.go) translates them. The original passed IMAGE_RUN_PARS
 * unquoted to `docker run`, so quotes were not honoured; here they are, but nothing is expanded:
 * no $VAR, no globs, and a shell operator is an error.
 */

export type Protocol = 'tcp' | 'udp' | 'sctp';

/** One `-p` mapping (a port range becomes one entry per port). */
export interface PortSpec {
  /** '' = all interfaces. */
  hostIp: string;
  /** '' = a port the Engine picks; may be a range "8000-8010" for a single container port. */
  hostPort: string;
  containerPort: number;
  protocol: Protocol;
}

/** One `-v`: a bind mount, a named volume, or (no source) an anonymous volume. */
export interface VolumeSpec {
  /** Absolute host path, a ./relative one (resolved at translation), or a volume name. */
  source?: string;
  kind: 'bind' | 'volume' | 'anonymous';
  target: string;
  /** ro, rw, z, Z, propagation, nocopy... as given (comma-separated in the flag). */
  options: string[];
}

/** `--gpus` (and CDI `--device`s): the Engine's DeviceRequest, every field as the CLI sends it. */
export interface DeviceRequest {
  Driver: string;
  /** -1 = all. */
  Count: number;
  DeviceIDs: string[] | null;
  /** null only in the CDI request (the CLI leaves them unset there). */
  Capabilities: string[][] | null;
  Options: Record<string, string> | null;
}

/** `--ulimit NAME=SOFT[:HARD]`. */
export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

/** `--device HOST[:CONTAINER][:PERMISSIONS]`. */
export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
}

/** `--mount`: the Engine's Mount, with the fields the CLI sets (Source ./relative until translation). */
export interface MountSpec {
  Type: 'bind' | 'volume' | 'tmpfs';
  Source?: string;
  Target: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean; ReadOnlyNonRecursive?: boolean; ReadOnlyForceRecursive?: boolean };
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string>; Subpath?: string; DriverConfig?: { Name?: string; Options?: Record<string, string> } };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

export type PullPolicy = 'missing' | 'always' | 'never';

export interface RunFlags {
  rm: boolean;
  /** -e NAME=VALUE, in flag order (the last of a name wins in the container, as with docker). */
  env: string[];
  /** The variables of the --env-file files, read at parse time; docker puts them before every -e. */
  envFile: string[];
  publish: PortSpec[];
  volumes: VolumeSpec[];
  mounts: MountSpec[];
  /** --tmpfs PATH[:OPTIONS]: path → options. */
  tmpfs: Record<string, string>;
  labels: Record<string, string>;
  user?: string;
  workdir?: string;
  name?: string;
  interactive: boolean;
  tty: boolean;
  /** '' resets the image's entrypoint, as `--entrypoint ''` does. */
  entrypoint?: string;
  network?: string;
  hostname?: string;
  privileged: boolean;
  /** Undefined: not given (the daemon's default applies); `--init=false` is sent, as docker does. */
  init?: boolean;
  platform?: string;
  gpus: DeviceRequest[];
  devices: DeviceMapping[];
  /** CDI device names (vendor/class=name) from --device: one request of the "cdi" driver. */
  cdiDevices: string[];
  shmSize?: number;
  memory?: number;
  /** -1 = unlimited swap. */
  memorySwap?: number;
  nanoCpus?: number;
  /** Repeats of a name: the last wins (docker keeps a map). */
  ulimits: Ulimit[];
  capAdd: string[];
  capDrop: string[];
  ipc?: string;
  extraHosts: string[];
  securityOpt: string[];
  /** `--security-opt systempaths=unconfined`: sent as empty MaskedPaths/ReadonlyPaths, not as an option. */
  unconfinedPaths?: boolean;
  groupAdd: string[];
  /** Undefined = missing (docker's default). */
  pull?: PullPolicy;
}

export function emptyRunFlags(): RunFlags {
  return {
    rm: false,
    env: [],
    envFile: [],
    publish: [],
    volumes: [],
    mounts: [],
    tmpfs: {},
    labels: {},
    interactive: false,
    tty: false,
    privileged: false,
    gpus: [],
    devices: [],
    cdiDevices: [],
    ulimits: [],
    capAdd: [],
    capDrop: [],
    extraHosts: [],
    securityOpt: [],
    groupAdd: [],
  };
}

/** `extra` on top of `base`: lists are appended, maps merged, single values replaced when given. */
export function mergeRunFlags(base: RunFlags, extra: Partial<RunFlags>): RunFlags {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const old = merged[key];
    if (Array.isArray(old) && Array.isArray(value)) merged[key] = [...old, ...value];
    else if (key === 'labels' || key === 'tmpfs') merged[key] = { ...(old as object), ...(value as object) };
    else if (value !== undefined) merged[key] = value;
  }
  return merged as unknown as RunFlags;
}

export interface ParseRunFlagsOptions {
  /** Where `-e NAME` and an env-file's `NAME` (no `=`) take their value, as docker takes it from its own environment. */
  env?: NodeJS.ProcessEnv;
  /** Names the input in error messages (default IMAGE_RUN_PARS). */
  source?: string;
  /** Relative --env-file and seccomp profile paths resolve against this (default: process.cwd()). */
  cwd?: string;
}

type Bad = (allowed: string) => Error;

interface FlagSpec {
  long: string;
  short?: string;
  aliases?: string[];
  /** Absent: a boolean flag. */
  value?: (flags: RunFlags, value: string, bad: Bad, opts: ParseRunFlagsOptions) => void;
  bool?: (flags: RunFlags, on: boolean) => void;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const VOLUME_OPTIONS = new Set(['ro', 'rw', 'z', 'Z', 'shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate', 'nocopy', 'consistent', 'cached', 'delegated']);
const SIZE = 'allowed a size: a number with an optional unit b, k, m, g, t, p (case-insensitive, powers of 1024), e.g. 512m or 2g';

const FLAGS: FlagSpec[] = [
  { long: 'rm', bool: (f, on) => (f.rm = on) },
  {
    long: 'env',
    short: 'e',
    value: (f, v, bad, opts) => {
      const eq = v.indexOf('=');
      const name = eq < 0 ? v : v.slice(0, eq);
      if (!name || /\s/.test(name)) throw bad('allowed NAME=VALUE or NAME');
      // As docker: NAME alone passes the caller's value; without one it is sent as NAME alone,
      // which the Engine keeps in the config but leaves out of the container's environment.
      if (eq < 0 && opts.env?.[name] !== undefined) f.env.push(`${name}=${opts.env[name]}`);
      else f.env.push(v);
    },
  },
  { long: 'env-file', value: (f, v, bad, opts) => f.envFile.push(...readEnvFileVars(v, bad, opts)) },
  { long: 'publish', short: 'p', value: (f, v, bad) => f.publish.push(...parsePort(v, bad)) },
  { long: 'volume', short: 'v', value: (f, v, bad) => f.volumes.push(parseVolume(v, bad)) },
  { long: 'mount', value: (f, v, bad) => f.mounts.push(parseMount(v, bad)) },
  {
    long: 'tmpfs',
    value: (f, v, bad) => {
      const colon = v.indexOf(':');
      const path = colon < 0 ? v : v.slice(0, colon);
      if (!posix.isAbsolute(path) || path === '/') throw bad('allowed PATH[:OPTIONS] with an absolute PATH in the container, e.g. /scratch:size=1g,mode=1777');
      f.tmpfs[path] = colon < 0 ? '' : v.slice(colon + 1);
    },
  },
  {
    long: 'label',
    short: 'l',
    value: (f, v, bad) => {
      const eq = v.indexOf('=');
      const key = eq < 0 ? v : v.slice(0, eq);
      if (!key || /\s/.test(key)) throw bad('allowed KEY=VALUE or KEY');
      f.labels[key] = eq < 0 ? '' : v.slice(eq + 1);
    },
  },
  {
    long: 'user',
    short: 'u',
    value: (f, v, bad) => {
      if (!/^[^:\s]+(?::[^:\s]+)?$/.test(v)) throw bad('allowed USER[:GROUP], names or numeric ids');
      f.user = v;
    },
  },
  {
    long: 'workdir',
    short: 'w',
    value: (f, v, bad) => {
      if (!v.startsWith('/')) throw bad('allowed an absolute path in the container');
      f.workdir = v;
    },
  },
  {
    long: 'name',
    value: (f, v, bad) => {
      if (!NAME.test(v.replace(/^\//, ''))) throw bad('allowed [a-zA-Z0-9][a-zA-Z0-9_.-]+');
      f.name = v.replace(/^\//, '');
    },
  },
  { long: 'interactive', short: 'i', bool: (f, on) => (f.interactive = on) },
  { long: 'tty', short: 't', bool: (f, on) => (f.tty = on) },
  { long: 'entrypoint', value: (f, v) => (f.entrypoint = v) },
  {
    long: 'network',
    aliases: ['net'],
    value: (f, v, bad) => {
      if (!v || /\s/.test(v)) throw bad('allowed a network name, bridge, host, none or container:NAME');
      f.network = v;
    },
  },
  {
    long: 'hostname',
    short: 'h',
    value: (f, v, bad) => {
      if (!/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})$/.test(v)) throw bad('allowed a host name: letters, digits, . -');
      f.hostname = v;
    },
  },
  { long: 'privileged', bool: (f, on) => (f.privileged = on) },
  { long: 'init', bool: (f, on) => (f.init = on) },
  {
    long: 'platform',
    value: (f, v, bad) => {
      if (!/^[a-z0-9_]+(?:\/[a-z0-9_.]+){0,2}$/.test(v)) throw bad('allowed os[/arch[/variant]], e.g. linux/amd64');
      f.platform = v;
    },
  },
  { long: 'gpus', value: (f, v, bad) => f.gpus.push(parseGpus(v, bad)) },
  {
    long: 'device',
    value: (f, v, bad) => {
      if (isCdiName(v)) f.cdiDevices.push(v);
      else f.devices.push(parseDevice(v, bad));
    },
  },
  { long: 'shm-size', value: (f, v, bad) => (f.shmSize = sizeOf(v, bad)) },
  { long: 'memory', short: 'm', value: (f, v, bad) => (f.memory = sizeOf(v, bad)) },
  { long: 'memory-swap', value: (f, v, bad) => (f.memorySwap = v === '-1' ? -1 : sizeOf(v, (a) => bad(`${a}; or -1 for unlimited swap`))) },
  { long: 'cpus', value: (f, v, bad) => (f.nanoCpus = parseCpus(v, bad)) },
  { long: 'ulimit', value: (f, v, bad) => f.ulimits.push(parseUlimit(v, bad)) },
  { long: 'cap-add', value: (f, v, bad) => f.capAdd.push(capability(v, bad)) },
  { long: 'cap-drop', value: (f, v, bad) => f.capDrop.push(capability(v, bad)) },
  {
    long: 'ipc',
    value: (f, v, bad) => {
      // The Engine's IpcMode.Valid(), checked here so a typo is exit 2, not a refused create.
      if (!['', 'none', 'private', 'shareable', 'host'].includes(v) && !/^container:.+/.test(v)) throw bad('allowed none, private, shareable, host or container:NAME');
      f.ipc = v;
    },
  },
  { long: 'add-host', value: (f, v, bad) => f.extraHosts.push(parseExtraHost(v, bad)) },
  {
    long: 'security-opt',
    value: (f, v, bad, opts) => {
      const opt = parseSecurityOpt(v, bad, opts);
      if (opt === 'systempaths=unconfined') f.unconfinedPaths = true;
      else f.securityOpt.push(opt);
    },
  },
  {
    long: 'group-add',
    value: (f, v, bad) => {
      if (!v || /[\s:]/.test(v)) throw bad('allowed a group name or numeric id');
      f.groupAdd.push(v);
    },
  },
  {
    long: 'pull',
    value: (f, v, bad) => {
      if (v !== '' && v !== 'missing' && v !== 'always' && v !== 'never') throw bad('allowed missing (the default), always or never');
      f.pull = v === '' ? undefined : v;
    },
  },
];

/** For error messages: "--rm, -e/--env, ..." */
export const SUPPORTED_RUN_FLAGS = FLAGS.map((s) => [...(s.short ? [`-${s.short}`] : []), `--${s.long}`, ...(s.aliases ?? []).map((a) => `--${a}`)].join('/'));

const byLong = new Map<string, FlagSpec>();
const byShort = new Map<string, FlagSpec>();
for (const spec of FLAGS) {
  byLong.set(spec.long, spec);
  for (const alias of spec.aliases ?? []) byLong.set(alias, spec);
  if (spec.short) byShort.set(spec.short, spec);
}

/** Go's strconv.ParseBool, which docker's flag parser uses. */
function parseBool(value: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  return undefined;
}

/**
 * A quote left open or a trailing backslash: shell-quote would silently drop it (`-e 'A=x`
 * gave A=x), so this is checked first, as a shell reads it. A `#` starting a word ends the scan:
 * the comment is reported by splitRunPars itself.
 */
function checkQuotes(text: string, source: string): void {
  let quote: string | undefined;
  let opened = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote === "'") {
      if (c === "'") quote = undefined;
    } else if (quote === '"') {
      if (c === '\\') i++;
      else if (c === '"') quote = undefined;
    } else if (c === '\\') {
      if (i === text.length - 1) throw usageError(`${source}: ends with a lone backslash: escape it as \\\\ or quote it (allowed: docker-run flags with shell quoting)`);
      i++;
    } else if (c === "'" || c === '"') {
      quote = c;
      opened = i;
    } else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]))) {
      return;
    }
  }
  if (quote) {
    throw usageError(`${source}: unterminated ${quote} quote at character ${opened + 1} (${JSON.stringify(text.slice(opened, opened + 20))}): close it (allowed: docker-run flags with shell quoting)`);
  }
}

/**
 * Splits like a shell but expands nothing: `$` is protected from shell-quote's variable
 * substitution, and a `#` inside a word is not a comment (shell-quote would take `C=#fff` as one).
 */
export function splitRunPars(text: string, source = 'IMAGE_RUN_PARS'): string[] {
  checkQuotes(text, source);
  const { parse } = require('shell-quote') as typeof import('shell-quote');
  const DOLLAR = '\0';
  const HASH = '\x01';
  const restore = (s: string) => s.replaceAll(DOLLAR, '$').replaceAll(HASH, '#');
  let entries;
  try {
    entries = parse(text.replaceAll('$', DOLLAR).replace(/(?<=\S)#/g, HASH));
  } catch (error) {
    throw usageError(`${source}: cannot split ${JSON.stringify(text)} (${(error as Error).message}): allowed docker-run flags with shell quoting`);
  }
  return entries.map((entry) => {
    if (typeof entry === 'string') return restore(entry);
    if ('op' in entry && entry.op === 'glob') return restore(entry.pattern); // no globbing: the word as written
    if ('comment' in entry) throw usageError(`${source}: "#${restore(entry.comment)}" would be a comment: quote the # (allowed: docker-run flags only)`);
    throw usageError(`${source}: shell operator ${JSON.stringify(restore(String(entry.op)))} is not allowed (docker-run flags only; quote it to pass it literally)`);
  });
}

/** Parses IMAGE_RUN_PARS (or any docker-run flag string) into RunFlags. */
export function parseRunFlags(text: string, options: ParseRunFlagsOptions = {}): RunFlags {
  return parseRunFlagArgs(splitRunPars(text, options.source), options);
}

interface FlagUse {
  spec: FlagSpec;
  /** As written: -e, --env, --net. */
  shown: string;
  /** The value given in the same word (`--env=X`, `-eX`, `-e=X`); undefined: none. */
  inline?: string;
}

/**
 * One argv word read as docker's flag parser (pflag) reads it: the flags it names and whether
 * the last one takes the next word as its value. Combined shorts: -it, -ti, -p8888:8888,
 * -e=K=V, -ie K=V. Shared by the parser and runFlagArity, so they cannot disagree.
 */
function scanWord(word: string, source: string): { uses: FlagUse[]; takesNext: boolean } {
  const unsupported = (flag: string) => usageError(`${source}: ${flag} is not supported (supported: ${SUPPORTED_RUN_FLAGS.join(', ')})`);
  if (word.startsWith('--') && word.length > 2) {
    const eq = word.indexOf('=');
    const name = eq < 0 ? word.slice(2) : word.slice(2, eq);
    const spec = byLong.get(name);
    if (!spec) throw unsupported(`--${name}`);
    const inline = eq < 0 ? undefined : word.slice(eq + 1);
    return { uses: [{ spec, shown: `--${name}`, inline }], takesNext: Boolean(spec.value) && inline === undefined };
  }
  if (word.startsWith('-') && word.length > 1) {
    const uses: FlagUse[] = [];
    for (let j = 1; j < word.length; j++) {
      const letter = word[j];
      const spec = byShort.get(letter);
      if (!spec) throw unsupported(`-${letter}`);
      const rest = word.slice(j + 1);
      if (spec.bool) {
        if (rest.startsWith('=')) {
          uses.push({ spec, shown: `-${letter}`, inline: rest.slice(1) });
          return { uses, takesNext: false };
        }
        uses.push({ spec, shown: `-${letter}` });
        continue;
      }
      if (rest === '') {
        uses.push({ spec, shown: `-${letter}` });
        return { uses, takesNext: true };
      }
      uses.push({ spec, shown: `-${letter}`, inline: rest.replace(/^=/, '') });
      return { uses, takesNext: false };
    }
    return { uses, takesNext: false };
  }
  throw usageError(`${source}: unexpected argument ${JSON.stringify(word)}: allowed docker-run flags only (the image and command are given by the command)`);
}

/**
 * How many of the following argv words a docker-run flag word consumes: `-e` 1, `-e=X`,
 * `--env=X`, `-eFOO`, `-it`, `--rm` 0, `-ie` 1. The command-line parser uses it to find where
 * the container's command starts. An unsupported flag (or a word that is no flag) throws the
 * parser's usage error.
 */
export function runFlagArity(word: string, source = 'command line'): 0 | 1 {
  return scanWord(word, source).takesNext ? 1 : 0;
}

/** Parses docker-run flags already split into words. */
export function parseRunFlagArgs(args: string[], options: ParseRunFlagsOptions = {}, into: RunFlags = emptyRunFlags()): RunFlags {
  const source = options.source ?? 'IMAGE_RUN_PARS';
  const opts = { ...options, source };
  // `into`: flags read before these words (IMAGE_RUN_PARS), continued as one docker-run list.
  const flags = into;
  for (let i = 0; i < args.length; i++) {
    const { uses, takesNext } = scanWord(args[i], source);
    for (const [k, { spec, shown, inline }] of uses.entries()) {
      if (spec.bool) {
        const on = inline === undefined ? true : parseBool(inline);
        if (on === undefined) throw usageError(`${source}: ${shown}=${inline} is invalid: allowed ${shown}, ${shown}=true or ${shown}=false`);
        spec.bool(flags, on);
        continue;
      }
      let value = inline;
      if (takesNext && k === uses.length - 1) {
        if (i + 1 >= args.length) throw usageError(`${source}: ${shown} needs a value`);
        value = args[++i];
      }
      spec.value!(flags, value!, (allowed) => usageError(`${source}: ${shown} ${JSON.stringify(value)} is invalid: ${allowed}`), opts);
    }
  }
  return flags;
}

// ---- Values, each as the docker CLI reads it ----

/**
 * go-units RAMInBytes, which the CLI uses for --memory, --shm-size, tmpfs-size...: a decimal
 * number, an optional space, an optional unit b/k/m/g/t/p (powers of 1024, case-insensitive,
 * optionally followed by b or ib); the result truncated to whole bytes. Undefined when invalid.
 */
export function ramInBytes(text: string): number | undefined {
  let sep = -1;
  for (let i = text.length - 1; i >= 0; i--) {
    if ('0123456789. '.includes(text[i])) {
      sep = i;
      break;
    }
  }
  if (sep < 0) return undefined;
  const num = text[sep] === ' ' ? text.slice(0, sep) : text.slice(0, sep + 1);
  let sfx = text.slice(sep + 1);
  // strconv.ParseFloat's decimal syntax (hex floats and underscores aside).
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(num)) return undefined;
  let size = Number(num);
  if (size < 0) return undefined;
  if (sfx) {
    if (sfx.length > 3) return undefined;
    sfx = sfx.toLowerCase();
    if (sfx[0] === 'b') {
      if (sfx.length > 1) return undefined;
    } else {
      const power = 'kmgtp'.indexOf(sfx[0]);
      if (power < 0) return undefined;
      size *= 1024 ** (power + 1);
      if ((sfx.length === 2 && sfx[1] !== 'b') || (sfx.length === 3 && sfx.slice(1) !== 'ib')) return undefined;
    }
  }
  const bytes = Math.trunc(size);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

function sizeOf(value: string, bad: Bad): number {
  const bytes = ramInBytes(value);
  if (bytes === undefined) throw bad(SIZE);
  return bytes;
}

/** `--cpus`: a decimal (or a/b) number of CPUs, exact to the nanocpu, as big.Rat reads it. */
function parseCpus(value: string, bad: Bad): number {
  const allowed = 'allowed a number of CPUs ≥ 0 with at most 9 decimals, e.g. 1.5';
  let num: bigint;
  let den: bigint;
  const frac = /^\+?(\d+)\/(\d+)$/.exec(value);
  const dec = /^\+?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(value);
  if (frac) {
    num = BigInt(frac[1]);
    den = BigInt(frac[2]);
    if (den === 0n) throw bad(allowed);
  } else if (dec && (dec[1] || dec[2]) && Math.abs(Number(dec[3] ?? 0)) < 400) {
    const digits = `${dec[1]}${dec[2] ?? ''}`;
    const exp = Number(dec[3] ?? 0) - (dec[2] ?? '').length;
    num = BigInt(digits) * (exp > 0 ? 10n ** BigInt(exp) : 1n);
    den = exp < 0 ? 10n ** BigInt(-exp) : 1n;
  } else {
    throw bad(allowed);
  }
  const nanos = num * 1_000_000_000n;
  if (nanos % den !== 0n) throw bad(`value is too precise; ${allowed}`);
  const result = nanos / den;
  if (result > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(allowed);
  return Number(result);
}

/**
 * One record of Go's encoding/csv (the CLI reads --gpus and --mount with it): comma-separated
 * fields, a field may be "quoted" with "" for a quote; a quote inside an unquoted field is an
 * error. Returns the fields or the reason it is not valid.
 */
function csvFields(text: string): string[] | string {
  if (text === '') return 'empty value';
  if (/[\r\n]/.test(text)) return 'a line break';
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (text[i] !== '"') {
      const comma = text.indexOf(',', i);
      const field = comma < 0 ? text.slice(i) : text.slice(i, comma);
      if (field.includes('"')) return `bare " in non-quoted field ${JSON.stringify(field)}`;
      fields.push(field);
      if (comma < 0) return fields;
      i = comma + 1;
      continue;
    }
    let field = '';
    i++;
    for (;;) {
      const quote = text.indexOf('"', i);
      if (quote < 0) return 'extraneous or missing " in quoted-field';
      field += text.slice(i, quote);
      i = quote + 1;
      if (text[i] === '"') {
        field += '"';
        i++;
      } else if (text[i] === ',' || i === text.length) {
        break;
      } else {
        return 'extraneous or missing " in quoted-field';
      }
    }
    fields.push(field);
    if (i === text.length) return fields;
    i++; // the comma
  }
}

/** `--gpus`: opts.GpuOpts.Set of the docker CLI, field for field. */
function parseGpus(value: string, bad: Bad): DeviceRequest {
  const allowed =
    'allowed all, a count, or comma-separated count=N|all, device=ID[,ID], capabilities=CAP[,CAP], driver=NAME, options=K=V; quote a field holding commas: \'"device=0,1"\'';
  const fields = csvFields(value);
  if (typeof fields === 'string') throw bad(`${fields}; ${allowed}`);
  const count = (text: string) => {
    if (text === 'all') return -1;
    if (!/^[+-]?\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw bad(`invalid count (${text}): value must be either "all" or an integer; ${allowed}`);
    return Number(text);
  };
  const req: DeviceRequest = { Driver: '', Count: 0, DeviceIDs: null, Capabilities: null, Options: {} };
  const seen = new Set<string>();
  let capabilities: string[][] | undefined;
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = eq < 0 ? field : field.slice(0, eq);
    const val = field.slice(eq + 1);
    if (seen.has(key)) throw bad(`gpu request key '${key}' can be specified only once; ${allowed}`);
    seen.add(key);
    if (eq < 0) {
      seen.add('count');
      req.Count = count(key);
      continue;
    }
    switch (key) {
      case 'driver':
        req.Driver = val;
        break;
      case 'count':
        req.Count = count(val);
        break;
      case 'device':
        req.DeviceIDs = val.split(',');
        break;
      case 'capabilities':
        capabilities = [[...val.split(','), 'gpu']];
        break;
      case 'options': {
        const options = csvFields(val);
        if (typeof options === 'string') throw bad(`failed to read gpu options: ${options}; ${allowed}`);
        const map: Record<string, string> = {};
        for (const kv of options) {
          const oeq = kv.indexOf('=');
          map[oeq < 0 ? kv : kv.slice(0, oeq)] = oeq < 0 ? '' : kv.slice(oeq + 1);
        }
        req.Options = map;
        break;
      }
      default:
        throw bad(`unexpected key '${key}' in '${field}'; ${allowed}`);
    }
  }
  if (!seen.has('count') && req.DeviceIDs === null) req.Count = 1;
  req.Capabilities = capabilities ?? [['gpu']];
  return req;
}

/** A CDI device name, vendor.com/class=name, as tags.cncf.io/container-device-interface reads it. */
function isCdiName(device: string): boolean {
  return /^[A-Za-z][A-Za-z0-9_.-]*[A-Za-z0-9]\/[A-Za-z][A-Za-z0-9_.-]*[A-Za-z0-9]=[A-Za-z0-9](?:[A-Za-z0-9_.:-]*[A-Za-z0-9])?$/.test(device);
}

function isDeviceMode(mode: string): boolean {
  return mode !== '' && /^[rwm]+$/.test(mode) && new Set(mode).size === mode.length;
}

/** Go's path.Clean: normalised, without a trailing slash. */
function goClean(path: string): string {
  const clean = posix.normalize(path);
  return clean.length > 1 && clean.endsWith('/') ? clean.slice(0, -1) : clean;
}

/** `--device HOST[:CONTAINER][:rwm]`: validateLinuxPath then parseLinuxDevice of the CLI (what it cleans, too). */
function parseDevice(value: string, bad: Bad): DeviceMapping {
  const allowed = 'allowed HOST_PATH[:CONTAINER_PATH][:PERMISSIONS] with an absolute CONTAINER_PATH and permissions of r, w, m, or a CDI name vendor.com/class=name';
  const parts = value.split(':');
  if (parts.length > 3 || parts[0] === '') throw bad(allowed);
  let src = parts[0];
  let dst: string;
  let mode = 'rwm';
  if (parts.length === 3) {
    if (!isDeviceMode(parts[2])) throw bad(allowed);
    [dst, mode] = [parts[1], parts[2]];
  } else if (parts.length === 2 && !isDeviceMode(parts[1])) {
    dst = goClean(parts[1]);
  } else {
    src = goClean(src);
    dst = src;
    if (parts.length === 2) mode = parts[1];
  }
  if (!posix.isAbsolute(dst)) throw bad(allowed);
  return { PathOnHost: src, PathInContainer: dst, CgroupPermissions: mode };
}

const ULIMITS = ['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack'];

/** `--ulimit NAME=SOFT[:HARD]`: go-units ParseUlimit. */
function parseUlimit(value: string, bad: Bad): Ulimit {
  const allowed = `allowed NAME=SOFT[:HARD] with NAME one of ${ULIMITS.join(', ')}, integer limits (-1 unlimited), SOFT ≤ HARD`;
  const eq = value.indexOf('=');
  if (eq < 0 || !ULIMITS.includes(value.slice(0, eq))) throw bad(allowed);
  const limits = value.slice(eq + 1).split(':');
  const int = (text: string) => {
    if (!/^[+-]?\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw bad(allowed);
    return Number(text);
  };
  if (limits.length > 2) throw bad(allowed);
  const soft = int(limits[0]);
  const hard = limits.length === 2 ? int(limits[1]) : soft;
  if (hard !== -1 && (soft === -1 || soft > hard)) throw bad(`soft limit above hard limit; ${allowed}`);
  return { Name: value.slice(0, eq), Soft: soft, Hard: hard };
}

function capability(value: string, bad: Bad): string {
  // The Engine checks the name itself; toCreateOptions normalises it as the docker client does.
  if (!/^[A-Za-z_]+$/.test(value)) throw bad('allowed a capability name such as NET_ADMIN or CAP_SYS_PTRACE, or ALL');
  return value;
}

/** `--add-host NAME:IP` (or NAME=IP, [IPv6], host-gateway): opts.ValidateExtraHost, sent as NAME:IP. */
function parseExtraHost(value: string, bad: Bad): string {
  const allowed = 'allowed HOST:IP or HOST=IP (IPv6 may be in [ ]), or HOST:host-gateway';
  let sep = value.indexOf('=');
  if (sep < 0) sep = value.indexOf(':');
  const host = sep < 0 ? '' : value.slice(0, sep);
  let ip = value.slice(sep + 1);
  if (sep < 0 || !host || host.includes(':')) throw bad(allowed);
  if (ip !== 'host-gateway') {
    if (ip.length > 2 && ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
    // Go's net.ParseIP takes no zone; the CLI keeps the address as written.
    if (!isIP(ip.trim()) || ip.includes('%')) throw bad(allowed);
  }
  return `${host}:${ip}`;
}

/** Go's json.Compact: the JSON text without insignificant whitespace, strings untouched. */
function compactJson(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i];
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (!' \t\r\n'.includes(c)) {
      out += c;
    }
  }
  return out;
}

/** `--security-opt`: parseSecurityOpts of the CLI; a seccomp profile file is sent as its JSON. */
function parseSecurityOpt(value: string, bad: Bad, opts: ParseRunFlagsOptions): string {
  const allowed = 'allowed KEY=VALUE (or KEY:VALUE): label=…, apparmor=…, seccomp=PROFILE.json|unconfined|builtin, no-new-privileges[=true], systempaths=unconfined';
  let sep = value.indexOf('=');
  if (sep < 0 && value !== 'no-new-privileges') sep = value.indexOf(':');
  const key = sep < 0 ? value : value.slice(0, sep);
  const val = sep < 0 ? '' : value.slice(sep + 1);
  if (key !== 'no-new-privileges' && (sep < 0 || val === '')) throw bad(allowed);
  if (key !== 'seccomp' || val === 'builtin' || val === 'unconfined') return value;
  const file = resolve(opts.cwd ?? process.cwd(), val);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw bad(`cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); ${allowed}`);
  }
  try {
    JSON.parse(text);
  } catch (error) {
    throw bad(`${file} is not JSON (${(error as Error).message}); ${allowed}`);
  }
  return `seccomp=${compactJson(text)}`;
}

/**
 * `--env-file FILE`, docker's format (pkg/kvfile): one NAME=VALUE per line, kept as written
 * (no quotes removed, trailing spaces kept); NAME alone takes the caller's value (and is left out
 * when the caller has none); leading whitespace, blank lines and `#` lines are skipped.
 */
function readEnvFileVars(path: string, bad: Bad, opts: ParseRunFlagsOptions): string[] {
  const allowed = 'allowed a readable file of NAME=VALUE lines (# comments, blank lines)';
  const file = resolve(opts.cwd ?? process.cwd(), path);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw bad(`cannot read ${file} (${code === 'ENOENT' ? 'no such file' : (code ?? (error as Error).message)}); ${allowed}`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw bad(`${file} is not valid UTF-8; ${allowed}`);
  }
  const vars: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const [n, raw] of lines.entries()) {
    const line = raw.replace(/\r$/, '').replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const name = eq < 0 ? line : line.slice(0, eq);
    if (name === '') throw bad(`${file} line ${n + 1} has no variable name; ${allowed}`);
    if (/[ \t]/.test(name)) throw bad(`${file} line ${n + 1}: variable '${name}' contains whitespace; ${allowed}`);
    if (eq >= 0) vars.push(line);
    else if (opts.env?.[name] !== undefined) vars.push(`${name}=${opts.env[name]}`);
  }
  return vars;
}

/** `--mount`: opts.MountOpt.Set of the CLI (types bind, volume and tmpfs). */
export function parseMount(value: string, bad: Bad = (a) => usageError(`--mount ${JSON.stringify(value)} is invalid: ${a}`)): MountSpec {
  const allowed =
    'allowed comma-separated type=bind|volume|tmpfs, source=, target= (absolute), readonly, bind-propagation=, bind-recursive=, volume-nocopy, volume-label=, volume-driver=, volume-opt=, volume-subpath=, tmpfs-size=, tmpfs-mode=';
  const fields = csvFields(value);
  if (typeof fields === 'string') throw bad(`${fields}; ${allowed}`);
  const mount: MountSpec = { Type: 'volume', Target: '' };
  let type = 'volume';
  const volumeOptions = () => {
    mount.VolumeOptions ??= {};
    mount.VolumeOptions.DriverConfig ??= {};
    return mount.VolumeOptions;
  };
  const bindOptions = () => (mount.BindOptions ??= {});
  const tmpfsOptions = () => (mount.TmpfsOptions ??= {});
  const bool = (key: string, val: string) => {
    const on = parseBool(val);
    if (on === undefined) throw bad(`invalid value for ${key}: ${val}; ${allowed}`);
    return on;
  };
  const keyValue = (target: Record<string, string>, kv: string) => {
    const eq = kv.indexOf('=');
    const k = eq < 0 ? kv : kv.slice(0, eq);
    if (k) target[k] = eq < 0 ? '' : kv.slice(eq + 1);
  };
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const val = field.slice(eq + 1);
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro') mount.ReadOnly = true;
      else if (key === 'volume-nocopy') volumeOptions().NoCopy = true;
      else if (key === 'bind-nonrecursive') bindOptions().NonRecursive = true;
      else throw bad(`invalid field '${field}' must be a key=value pair; ${allowed}`);
      continue;
    }
    switch (key) {
      case 'type':
        type = val.toLowerCase();
        break;
      case 'source':
      case 'src':
        mount.Source = val;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        mount.Target = val;
        break;
      case 'readonly':
      case 'ro':
        mount.ReadOnly = bool(key, val);
        break;
      case 'consistency':
        mount.Consistency = val.toLowerCase();
        break;
      case 'bind-propagation':
        bindOptions().Propagation = val.toLowerCase();
        break;
      case 'bind-nonrecursive':
        bindOptions().NonRecursive = bool(key, val);
        break;
      case 'bind-recursive':
        if (val === 'disabled') bindOptions().NonRecursive = true;
        else if (val === 'writable') bindOptions().ReadOnlyNonRecursive = true;
        else if (val === 'readonly') bindOptions().ReadOnlyForceRecursive = true;
        else if (val !== 'enabled') throw bad(`bind-recursive must be enabled, disabled, writable or readonly; ${allowed}`);
        break;
      case 'volume-subpath':
        volumeOptions().Subpath = val;
        break;
      case 'volume-nocopy':
        volumeOptions().NoCopy = bool(key, val);
        break;
      case 'volume-label':
        keyValue((volumeOptions().Labels ??= {}), val);
        break;
      case 'volume-driver':
        volumeOptions().DriverConfig!.Name = val;
        break;
      case 'volume-opt':
        keyValue((volumeOptions().DriverConfig!.Options ??= {}), val);
        break;
      case 'tmpfs-size': {
        const bytes = ramInBytes(val);
        if (bytes === undefined) throw bad(`invalid value for tmpfs-size: ${val}; ${allowed}`);
        tmpfsOptions().SizeBytes = bytes;
        break;
      }
      case 'tmpfs-mode':
        if (!/^[0-7]+$/.test(val) || parseInt(val, 8) > 0xffffffff) throw bad(`invalid value for tmpfs-mode: ${val} (octal); ${allowed}`);
        tmpfsOptions().Mode = parseInt(val, 8);
        break;
      default:
        throw bad(`unexpected key '${key}' in '${field}'; ${allowed}`);
    }
  }
  if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs') throw bad(`type ${JSON.stringify(type)} is not supported; ${allowed}`);
  mount.Type = type;
  if (!mount.Target) throw bad(`target is required; ${allowed}`);
  if (!posix.isAbsolute(mount.Target)) throw bad(`target must be an absolute path in the container; ${allowed}`);
  for (const [options, kind] of [
    [mount.VolumeOptions, 'volume'],
    [mount.BindOptions, 'bind'],
    [mount.TmpfsOptions, 'tmpfs'],
  ] as const) {
    if (options && type !== kind) throw bad(`cannot mix '${kind}-*' options with mount type '${type}'; ${allowed}`);
  }
  if (mount.BindOptions?.ReadOnlyNonRecursive && !mount.ReadOnly) throw bad(`bind-recursive=writable requires readonly; ${allowed}`);
  if (mount.BindOptions?.ReadOnlyForceRecursive && (!mount.ReadOnly || mount.BindOptions.Propagation !== 'rprivate')) {
    throw bad(`bind-recursive=readonly requires readonly and bind-propagation=rprivate; ${allowed}`);
  }
  // Checked here rather than refused by the Engine: a bind needs a host path it can resolve.
  if (type === 'bind' && !(mount.Source && (isAbsolute(mount.Source) || mount.Source.startsWith('.')))) {
    throw bad(`a bind mount needs source= an absolute or ./relative host path; ${allowed}`);
  }
  if (type === 'tmpfs' && mount.Source) throw bad(`a tmpfs mount takes no source; ${allowed}`);
  if (type === 'volume' && mount.Source && !NAME.test(mount.Source)) throw bad(`a volume source is a volume name [a-zA-Z0-9][a-zA-Z0-9_.-]+; ${allowed}`);
  return mount;
}

function parsePortNumber(text: string): [number, number] | undefined {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (start < 1 || end > 65535 || end < start) return undefined;
  return [start, end];
}

/** `-p [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]`, ranges allowed, as docker reads it. */
export function parsePort(spec: string, bad: Bad = (a) => usageError(`-p ${JSON.stringify(spec)} is invalid: ${a}`)): PortSpec[] {
  const allowed = 'allowed [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp|sctp], ports 1-65535, e.g. 8888:8888';
  let rest = spec;
  let protocol: Protocol = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const proto = rest.slice(slash + 1);
    if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') throw bad(allowed);
    protocol = proto;
    rest = rest.slice(0, slash);
  }
  let hostIp = '';
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(.*)$/.exec(rest);
  let parts: string[];
  if (v6) {
    hostIp = v6[1];
    parts = v6[2].split(':');
    if (parts.length !== 2) throw bad(allowed);
  } else {
    parts = rest.split(':');
    if (parts.length > 3) throw bad(allowed);
    if (parts.length === 3) hostIp = parts.shift()!;
  }
  if (hostIp && !isIP(hostIp)) throw bad(allowed);
  const [hostText, containerText] = parts.length === 2 ? parts : ['', parts[0]];
  const container = parsePortNumber(containerText);
  const host = hostText === '' ? undefined : parsePortNumber(hostText);
  if (!container || (hostText !== '' && !host)) throw bad(allowed);
  const count = container[1] - container[0];
  if (host && host[1] - host[0] !== count && count !== 0) throw bad(`${allowed} (a host range must match the container range)`);
  const out: PortSpec[] = [];
  for (let k = 0; k <= count; k++) {
    let hostPort = '';
    if (host && count === 0) hostPort = hostText; // a single container port may take a host range
    else if (host) hostPort = String(host[0] + k);
    out.push({ hostIp, hostPort, containerPort: container[0] + k, protocol });
  }
  return out;
}

/** `-v SOURCE:TARGET[:OPTIONS]` or `-v TARGET` (anonymous volume), as docker reads it on Linux. */
export function parseVolume(spec: string, bad: Bad = (a) => usageError(`-v ${JSON.stringify(spec)} is invalid: ${a}`)): VolumeSpec {
  const allowed = 'allowed SOURCE:TARGET[:ro|rw|...] with an absolute TARGET; SOURCE an absolute or ./relative host path or a volume name';
  const parts = spec.split(':');
  if (parts.length > 3 || parts.some((p) => p === '')) throw bad(allowed);
  if (parts.length === 1) {
    if (!isAbsolute(parts[0]) || parts[0] === '/') throw bad(allowed);
    return { kind: 'anonymous', target: parts[0], options: [] };
  }
  const [source, target, optionText] = parts;
  if (!isAbsolute(target) || target === '/') throw bad(allowed);
  const options = optionText === undefined ? [] : optionText.split(',');
  if (options.some((o) => !VOLUME_OPTIONS.has(o)) || (options.includes('ro') && options.includes('rw'))) {
    throw bad(`allowed options ${[...VOLUME_OPTIONS].join(', ')} (one of ro, rw)`);
  }
  if (source.startsWith('~')) throw bad(`${allowed} (~ is not expanded: there is no shell)`);
  // As docker: a source starting with / or . is a host path; any other word is a volume name
  // (so sub/dir is refused, as the Engine refuses it: write ./sub/dir).
  const kind = isAbsolute(source) || source.startsWith('.') ? 'bind' : 'volume';
  if (kind === 'volume' && !NAME.test(source)) throw bad(`${allowed} (a relative host path starts with ./)`);
  return { source, kind, target, options };
}

export interface CreateOptionsInput {
  image: string;
  /** Empty or absent: the image's CMD. */
  cmd?: string[];
  /** ./relative bind sources (-v, --mount) resolve against this (default: process.cwd(), as docker run). */
  cwd?: string;
}

/** A ./relative host path made absolute, as the CLI does (filepath.Abs); others as given. */
function hostPath(source: string, cwd: string): string {
  return !isAbsolute(source) && source.startsWith('.') ? resolve(cwd, source) : source;
}

/** As the docker client library sends them: upper case, CAP_ prefixed (ALL aside), unique, sorted. */
function normalizeCapabilities(caps: string[]): string[] {
  const names = caps.map((c) => {
    const upper = c.toUpperCase();
    return upper === 'ALL' || upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  });
  return [...new Set(names)].sort();
}

/** RunFlags → the Engine's create request, as `docker run` would send it. */
export function toCreateOptions(flags: RunFlags, input: CreateOptionsInput): Dockerode.ContainerCreateOptions {
  const cwd = input.cwd ?? process.cwd();
  const hostConfig: Dockerode.HostConfig & Record<string, unknown> = {};
  const options: Dockerode.ContainerCreateOptions = {
    Image: input.image,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: hostConfig,
  };
  if (input.cmd && input.cmd.length > 0) options.Cmd = input.cmd;
  // As the CLI: the env-files' variables first, then -e (so -e overrides a file). docker 28 passes
  // -e through a map first (for its proxy settings): a repeated name is sent once, its last value.
  const byName = new Map(flags.env.map((e) => [e.split('=', 1)[0], e]));
  const env = [...flags.envFile, ...byName.values()];
  if (env.length) options.Env = env;
  if (Object.keys(flags.labels).length) options.Labels = { ...flags.labels };
  if (flags.user !== undefined) options.User = flags.user;
  if (flags.workdir !== undefined) options.WorkingDir = flags.workdir;
  if (flags.name !== undefined) options.name = flags.name;
  if (flags.hostname !== undefined) options.Hostname = flags.hostname;
  if (flags.entrypoint !== undefined) options.Entrypoint = [flags.entrypoint];
  if (flags.platform !== undefined) options.platform = flags.platform;
  if (flags.tty) options.Tty = true;
  if (flags.interactive) Object.assign(options, { OpenStdin: true, StdinOnce: true, AttachStdin: true });
  if (flags.publish.length) {
    options.ExposedPorts = {};
    const bindings: Dockerode.PortMap = {};
    for (const p of flags.publish) {
      const key = `${p.containerPort}/${p.protocol}`;
      options.ExposedPorts[key] = {};
      (bindings[key] ??= []).push({ HostIp: p.hostIp, HostPort: p.hostPort });
    }
    hostConfig.PortBindings = bindings;
  }
  const binds: string[] = [];
  for (const v of flags.volumes) {
    if (v.kind === 'anonymous') {
      (options.Volumes ??= {})[v.target] = {};
      continue;
    }
    const source = v.kind === 'bind' ? hostPath(v.source!, cwd) : v.source!;
    binds.push([source, v.target, ...(v.options.length ? [v.options.join(',')] : [])].join(':'));
  }
  if (binds.length) hostConfig.Binds = binds;
  if (flags.mounts.length) {
    hostConfig.Mounts = flags.mounts.map((m) => ({ ...m, ...(m.Source === undefined ? {} : { Source: hostPath(m.Source, cwd) }) })) as Dockerode.MountSettings[];
  }
  if (Object.keys(flags.tmpfs).length) hostConfig.Tmpfs = { ...flags.tmpfs };
  if (flags.rm) hostConfig.AutoRemove = true;
  if (flags.network !== undefined) hostConfig.NetworkMode = flags.network;
  if (flags.privileged) hostConfig.Privileged = true;
  if (flags.init !== undefined) hostConfig.Init = flags.init;
  const deviceRequests: DeviceRequest[] = [...flags.gpus];
  if (flags.cdiDevices.length) deviceRequests.push({ Driver: 'cdi', Count: 0, DeviceIDs: [...flags.cdiDevices], Capabilities: null, Options: null });
  if (deviceRequests.length) hostConfig.DeviceRequests = deviceRequests as Dockerode.DeviceRequest[];
  if (flags.devices.length) hostConfig.Devices = flags.devices.map((d) => ({ ...d }));
  if (flags.shmSize !== undefined) hostConfig.ShmSize = flags.shmSize;
  if (flags.memory !== undefined) hostConfig.Memory = flags.memory;
  if (flags.memorySwap !== undefined) hostConfig.MemorySwap = flags.memorySwap;
  if (flags.nanoCpus !== undefined) hostConfig.NanoCpus = flags.nanoCpus;
  if (flags.ulimits.length) {
    // A map in the CLI: the last of a name wins, sent sorted by name.
    const byName = new Map(flags.ulimits.map((u) => [u.Name, u]));
    hostConfig.Ulimits = [...byName.values()].sort((a, b) => (a.Name < b.Name ? -1 : 1)).map((u) => ({ ...u }));
  }
  if (flags.capAdd.length) hostConfig.CapAdd = normalizeCapabilities(flags.capAdd);
  if (flags.capDrop.length) hostConfig.CapDrop = normalizeCapabilities(flags.capDrop);
  if (flags.ipc !== undefined) hostConfig.IpcMode = flags.ipc;
  if (flags.extraHosts.length) hostConfig.ExtraHosts = [...flags.extraHosts];
  if (flags.securityOpt.length) hostConfig.SecurityOpt = [...flags.securityOpt];
  if (flags.unconfinedPaths) Object.assign(hostConfig, { MaskedPaths: [], ReadonlyPaths: [] });
  if (flags.groupAdd.length) hostConfig.GroupAdd = [...flags.groupAdd];
  return options;
}
