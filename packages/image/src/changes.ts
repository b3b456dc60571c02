import { failure, shellQuote } from '@imagewright/core';
import type { RunConfig } from './model';

/**
 * The `docker import --change` instructions that give an imported filesystem its image's
 * metadata back (squash-build-cmd). The Engine parses each change as a Dockerfile line
 * (moby builder/dockerfile BuildFromConfig): ENV, LABEL, USER, WORKDIR, EXPOSE, STOPSIGNAL and
 * VOLUME's elements go through the Dockerfile word expander (quotes removed, `$VAR` expanded,
 * backslash escapes), CMD/ENTRYPOINT/ONBUILD/HEALTHCHECK do not. The changes are joined with
 * newlines, so a newline can only travel inside a JSON string.
 */

export interface ChangeOptions {
  /** The Engine accepts STOPSIGNAL in changes (API >= 1.42, moby#43369); else it is left out with a note. */
  stopSignal?: boolean;
  /** The Engine knows HEALTHCHECK --start-interval (API >= 1.44); else it is left out with a note. */
  startInterval?: boolean;
}

export interface ImportChanges {
  /** One Dockerfile instruction each, unquoted. */
  changes: string[];
  /** Metadata the changes cannot carry on this Engine (one line each, for stderr). */
  notCarried: string[];
}

/** A string as the Dockerfile word expander reads it back verbatim: double quotes, with `\`, `"` and `$` escaped. */
export function dockerfileString(value: string): string {
  return `"${value.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

/** A word left bare when the expander would read it as it is, else quoted. */
function dockerfileWord(value: string): string {
  return /^[A-Za-z0-9_.,:/@%+=-]+$/.test(value) ? value : dockerfileString(value);
}

/** A JSON array whose elements also pass the word expander (VOLUME): backslash before every special character. */
function expandedJsonArray(values: string[]): string {
  return JSON.stringify(values.map((v) => v.replace(/[\\"'$]/g, (c) => `\\${c}`))).replace(/","/g, '", "');
}

const jsonArray = (values: string[]) => JSON.stringify(values).replace(/","/g, '", "');

/** A Go duration time.ParseDuration reads back exactly, from nanoseconds. */
export function goDuration(ns: number): string {
  for (const [unit, size] of [['h', 3600e9], ['m', 60e9], ['s', 1e9], ['ms', 1e6], ['us', 1e3]] as const) {
    if (ns % size === 0) return `${ns / size}${unit}`;
  }
  return `${ns}ns`;
}

function oneLine(what: string, value: string): string {
  if (/[\r\n]/.test(value)) throw failure(`${what}: the value has a newline, which docker import --change cannot carry (each change is one Dockerfile line)`);
  return value;
}

/** The changes for every metadata field of `config` (the image's Config), in Dockerfile order. */
export function importChanges(config: RunConfig, options: ChangeOptions = {}): ImportChanges {
  const changes: string[] = [];
  const notCarried: string[] = [];
  for (const entry of config.Env ?? []) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw failure(`ENV entry ${JSON.stringify(entry)}: not NAME=VALUE, which ENV cannot set`);
    const name = entry.slice(0, eq);
    changes.push(`ENV ${dockerfileWord(oneLine(`ENV ${name}`, name))}=${dockerfileWord(oneLine(`ENV ${name}`, entry.slice(eq + 1)))}`);
  }
  // ENTRYPOINT before CMD: the Engine clears CMD when ENTRYPOINT comes after it.
  if (Array.isArray(config.Entrypoint)) changes.push(`ENTRYPOINT ${jsonArray(config.Entrypoint)}`);
  if (Array.isArray(config.Cmd)) changes.push(`CMD ${jsonArray(config.Cmd)}`);
  if (config.User) changes.push(`USER ${dockerfileWord(oneLine('USER', config.User))}`);
  if (config.WorkingDir) changes.push(`WORKDIR ${dockerfileWord(oneLine('WORKDIR', config.WorkingDir))}`);
  for (const [key, value] of Object.entries(config.Labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    changes.push(`LABEL ${dockerfileString(oneLine(`LABEL ${key}`, key))}=${dockerfileString(oneLine(`LABEL ${key}`, value))}`);
  }
  for (const port of Object.keys(config.ExposedPorts ?? {}).sort()) changes.push(`EXPOSE ${dockerfileWord(oneLine('EXPOSE', port))}`);
  const volumes = Object.keys(config.Volumes ?? {}).sort();
  if (volumes.length) changes.push(`VOLUME ${expandedJsonArray(volumes)}`);
  if (config.StopSignal) {
    if (options.stopSignal) changes.push(`STOPSIGNAL ${dockerfileWord(oneLine('STOPSIGNAL', config.StopSignal))}`);
    else notCarried.push(`STOPSIGNAL ${config.StopSignal}: this Engine does not take STOPSIGNAL in docker import --change (Docker >= 23, API 1.42, does)`);
  }
  for (const trigger of config.OnBuild ?? []) changes.push(`ONBUILD ${oneLine('ONBUILD', trigger)}`);
  const health = healthcheck(config.Healthcheck, options, notCarried);
  if (health) changes.push(health);
  if (typeof config.Shell === 'object' && config.Shell !== null && (config.Shell as unknown[]).length) {
    notCarried.push(`SHELL ${JSON.stringify(config.Shell)}: docker import --change has no SHELL`);
  }
  return { changes, notCarried };
}

function healthcheck(check: RunConfig['Healthcheck'], options: ChangeOptions, notCarried: string[]): string | undefined {
  const test = check?.Test;
  // An empty Test means "inherit from the base image": an import has none.
  if (!check || !test?.length) return undefined;
  if (test[0] === 'NONE') return 'HEALTHCHECK NONE';
  const flags: string[] = [];
  const start = (check as { StartInterval?: number }).StartInterval;
  if (check.Interval) flags.push(`--interval=${goDuration(check.Interval)}`);
  if (check.Timeout) flags.push(`--timeout=${goDuration(check.Timeout)}`);
  if (check.StartPeriod) flags.push(`--start-period=${goDuration(check.StartPeriod)}`);
  if (start) {
    if (options.startInterval) flags.push(`--start-interval=${goDuration(start)}`);
    else notCarried.push(`HEALTHCHECK --start-interval: this Engine does not know it (API 1.44 does)`);
  }
  if (check.Retries) flags.push(`--retries=${check.Retries}`);
  const prefix = ['HEALTHCHECK', ...flags, 'CMD'].join(' ');
  if (test[0] === 'CMD') return `${prefix} ${jsonArray(test.slice(1))}`;
  if (test[0] === 'CMD-SHELL' && test.length === 2) {
    const shell = oneLine('HEALTHCHECK', test[1]);
    // The shell form is kept raw, except that a valid JSON array would be read as the exec form.
    if (/^\s*\[/.test(shell) || shell.trim() !== shell || shell === '') throw failure(`HEALTHCHECK CMD-SHELL ${JSON.stringify(shell)}: this shell form cannot be written back as a Dockerfile line`);
    return `${prefix} ${shell}`;
  }
  throw failure(`HEALTHCHECK test ${JSON.stringify(test)}: not NONE, CMD or CMD-SHELL`);
}


/** `docker import --change '…' … FILE`, every change one shell word. */
export function importCommand(changes: string[], file = '-'): string {
  return ['docker', 'import', ...changes.flatMap((c) => ['--change', shellQuote(c)]), shellQuote(file)].join(' ');
}

/** API version a.b as a comparable number pair. */
function apiAtLeast(version: string, major: number, minor: number): boolean {
  const [a, b] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

export interface SquashBuildCommand extends ImportChanges {
  /** The whole `docker import …` line. */
  command: string;
}

/**
 * squash-build-cmd: the `docker import` line that gives `file` (a `docker export` stream or
 * file) the metadata of the Engine's image `ref`, for this Engine's API.
 */
export async function squashBuildCommand(ref: string, file: string, env: NodeJS.ProcessEnv = process.env): Promise<SquashBuildCommand> {
  const { connectEngine, engineMessage } = require('@imagewright/docker') as typeof import('@imagewright/docker');
  const { usageError } = require('@imagewright/core') as typeof import('@imagewright/core');
  const engine = await connectEngine(env);
  let config: RunConfig;
  try {
    config = ((await engine.getImage(ref).inspect()).Config ?? {}) as RunConfig;
  } catch (error) {
    const status = (error as { statusCode?: number }).statusCode;
    if (status === 404) throw failure(`image ${ref} not found locally: ${engineMessage(error)}`, error);
    if (status === 400) throw usageError(`image ${JSON.stringify(ref)} is invalid (${engineMessage(error)}): allowed a local image reference or ID`);
    throw failure(`inspecting image ${ref} failed: ${engineMessage(error)}`, error);
  }
  const api = (await engine.version()).ApiVersion;
  const result = importChanges(config, { stopSignal: apiAtLeast(api, 1, 42), startInterval: apiAtLeast(api, 1, 44) });
  return { ...result, command: importCommand(result.changes, file) };
}
