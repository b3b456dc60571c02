import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import { usageError } from '@imagewright/core';
import type Dockerode from 'dockerode';

/**
 * IMAGE_RUN_PARS: a string of `docker run` flags, parsed here (not by a shell) into a typed form
 * and translated to an Engine create request. The original passed it unquoted to `docker run`,
 * so quotes were not honoured; here they are, but nothing is expanded: no $VAR, no globs, and a
 * shell operator is an error.
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
  /** Absolute host path, a path relative to the cwd given at translation, or a volume name. */
  source?: string;
  kind: 'bind' | 'volume' | 'anonymous';
  target: string;
  /** ro, rw, z, Z, propagation, nocopy... as given (comma-separated in the flag). */
  options: string[];
}

export interface RunFlags {
  rm: boolean;
  /** NAME=VALUE, in flag order (the last of a name wins in the container, as with docker). */
  env: string[];
  publish: PortSpec[];
  volumes: VolumeSpec[];
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
  init: boolean;
  platform?: string;
}

export function emptyRunFlags(): RunFlags {
  return { rm: false, env: [], publish: [], volumes: [], labels: {}, interactive: false, tty: false, privileged: false, init: false };
}

/** `extra` on top of `base`: lists are appended, labels merged, single values replaced. */
export function mergeRunFlags(base: RunFlags, extra: Partial<RunFlags>): RunFlags {
  return {
    ...base,
    ...extra,
    env: [...base.env, ...(extra.env ?? [])],
    publish: [...base.publish, ...(extra.publish ?? [])],
    volumes: [...base.volumes, ...(extra.volumes ?? [])],
    labels: { ...base.labels, ...extra.labels },
  };
}

export interface ParseRunFlagsOptions {
  /** Where `-e NAME` (no `=`) takes its value from, as docker takes it from its own environment. */
  env?: NodeJS.ProcessEnv;
  /** Names the input in error messages. */
  source?: string;
}

interface FlagSpec {
  long: string;
  short?: string;
  aliases?: string[];
  /** Absent: a boolean flag. */
  value?: (flags: RunFlags, value: string, bad: (what: string) => Error, opts: ParseRunFlagsOptions) => void;
  bool?: (flags: RunFlags, on: boolean) => void;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const VOLUME_OPTIONS = new Set(['ro', 'rw', 'z', 'Z', 'shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate', 'nocopy', 'consistent', 'cached', 'delegated']);

const FLAGS: FlagSpec[] = [
  { long: 'rm', bool: (f, on) => (f.rm = on) },
  {
    long: 'env',
    short: 'e',
    value: (f, v, bad, opts) => {
      const eq = v.indexOf('=');
      const name = eq < 0 ? v : v.slice(0, eq);
      if (!name || /\s/.test(name)) throw bad('allowed NAME=VALUE or NAME');
      if (eq >= 0) f.env.push(v);
      // As docker: NAME alone passes the caller's value, and nothing when the caller has none.
      else if (opts.env?.[name] !== undefined) f.env.push(`${name}=${opts.env[name]}`);
    },
  },
  { long: 'publish', short: 'p', value: (f, v, bad) => f.publish.push(...parsePort(v, bad)) },
  { long: 'volume', short: 'v', value: (f, v, bad) => f.volumes.push(parseVolume(v, bad)) },
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

function parseBool(value: string): boolean | undefined {
  const v = value.toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return undefined;
}

/**
 * Splits like a shell but expands nothing: `$` is protected from shell-quote's variable
 * substitution, and a `#` inside a word is not a comment (shell-quote would take `C=#fff` as one).
 */
export function splitRunPars(text: string, source = 'IMAGE_RUN_PARS'): string[] {
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

/** Parses docker-run flags already split into words. */
export function parseRunFlagArgs(args: string[], options: ParseRunFlagsOptions = {}): RunFlags {
  const source = options.source ?? 'IMAGE_RUN_PARS';
  const flags = emptyRunFlags();
  const unsupported = (flag: string) => usageError(`${source}: ${flag} is not supported (supported: ${SUPPORTED_RUN_FLAGS.join(', ')})`);
  const apply = (spec: FlagSpec, shown: string, inline: string | undefined, next: () => string | undefined) => {
    if (spec.bool) {
      if (inline === undefined) return spec.bool(flags, true);
      const on = parseBool(inline);
      if (on === undefined) throw usageError(`${source}: ${shown}=${inline} is invalid: allowed ${shown}, ${shown}=true or ${shown}=false`);
      return spec.bool(flags, on);
    }
    const value = inline ?? next();
    if (value === undefined) throw usageError(`${source}: ${shown} needs a value`);
    spec.value!(flags, value, (allowed) => usageError(`${source}: ${shown} ${JSON.stringify(value)} is invalid: ${allowed}`), options);
  };

  for (let i = 0; i < args.length; i++) {
    const word = args[i];
    const next = () => (i + 1 < args.length ? args[++i] : undefined);
    if (word.startsWith('--') && word.length > 2) {
      const eq = word.indexOf('=');
      const name = eq < 0 ? word.slice(2) : word.slice(2, eq);
      const spec = byLong.get(name);
      if (!spec) throw unsupported(`--${name}`);
      apply(spec, `--${name}`, eq < 0 ? undefined : word.slice(eq + 1), next);
    } else if (word.startsWith('-') && word.length > 1) {
      // Combined shorts as docker's flag parser reads them: -it, -ti, -p8888:8888, -e=K=V, -ie K=V.
      for (let j = 1; j < word.length; j++) {
        const letter = word[j];
        const spec = byShort.get(letter);
        if (!spec) throw unsupported(`-${letter}`);
        const rest = word.slice(j + 1);
        if (spec.bool) {
          if (rest.startsWith('=')) {
            apply(spec, `-${letter}`, rest.slice(1), next);
            break;
          }
          apply(spec, `-${letter}`, undefined, next);
          continue;
        }
        apply(spec, `-${letter}`, rest === '' ? undefined : rest.replace(/^=/, ''), next);
        break;
      }
    } else {
      throw usageError(`${source}: unexpected argument ${JSON.stringify(word)}: allowed docker-run flags only (the image and command are given by the command)`);
    }
  }
  return flags;
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
export function parsePort(spec: string, bad: (allowed: string) => Error = (a) => usageError(`-p ${JSON.stringify(spec)} is invalid: ${a}`)): PortSpec[] {
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
export function parseVolume(spec: string, bad: (allowed: string) => Error = (a) => usageError(`-v ${JSON.stringify(spec)} is invalid: ${a}`)): VolumeSpec {
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
  // As docker: a word without a slash is a named volume; anything path-like is a host path.
  const kind = isAbsolute(source) || source.startsWith('.') || source.includes('/') ? 'bind' : 'volume';
  if (kind === 'volume' && !NAME.test(source)) throw bad(allowed);
  return { source, kind, target, options };
}

export interface CreateOptionsInput {
  image: string;
  /** Empty or absent: the image's CMD. */
  cmd?: string[];
  /** Relative bind sources resolve against this (default: process.cwd()). */
  cwd?: string;
}

/** RunFlags → the Engine's create request, as `docker run` would send it. */
export function toCreateOptions(flags: RunFlags, input: CreateOptionsInput): Dockerode.ContainerCreateOptions {
  const cwd = input.cwd ?? process.cwd();
  const hostConfig: Dockerode.HostConfig = {};
  const options: Dockerode.ContainerCreateOptions = {
    Image: input.image,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: hostConfig,
  };
  if (input.cmd && input.cmd.length > 0) options.Cmd = input.cmd;
  if (flags.env.length) options.Env = [...flags.env];
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
    const source = v.kind === 'bind' ? resolve(cwd, v.source!) : v.source!;
    binds.push([source, v.target, ...(v.options.length ? [v.options.join(',')] : [])].join(':'));
  }
  if (binds.length) hostConfig.Binds = binds;
  if (flags.rm) hostConfig.AutoRemove = true;
  if (flags.network !== undefined) hostConfig.NetworkMode = flags.network;
  if (flags.privileged) hostConfig.Privileged = true;
  if (flags.init) hostConfig.Init = true;
  return options;
}
