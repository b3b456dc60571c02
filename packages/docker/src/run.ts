import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Duplex, PassThrough, type Readable, type Writable } from 'node:stream';
import { type Config, EXIT, type ExitCode, failure, ImagewrightError, usageError } from '@imagewright/core';
import type Dockerode from 'dockerode';
import { pullImage } from './auth';
import { engineMessage, type Engine } from './client';
import { emptyRunFlags, mergeRunFlags, type RunFlags, toCreateOptions } from './run-flags';

export type RunStdin = Readable & { isTTY?: boolean; setRawMode?(mode: boolean): unknown };
export type RunStdout = Writable & { isTTY?: boolean; columns?: number; rows?: number };

export interface RunContainerOptions {
  image: string;
  /** Empty or absent: the image's CMD. Passed as argv, never through a shell. */
  cmd?: string[];
  flags?: RunFlags;
  /** ./relative bind-mount sources in `flags` resolve against this (default: process.cwd(), as docker run). */
  cwd?: string;
  stdin?: RunStdin;
  stdout?: RunStdout;
  stderr?: Writable;
  /** Attach stdin (`-i`); default flags.interactive. */
  interactive?: boolean;
  /** Allocate a TTY (`-t`); default flags.tty. */
  tty?: boolean;
  /** Called with the container's ID once it exists (image-dev reports it at the end). */
  onCreate?(id: string): void;
  /** Runs after the attach and before the start: files put into the container (patch-image). */
  beforeStart?(container: Dockerode.Container): Promise<void>;
  /** Without a TTY, SIGINT/SIGTERM go to the container (docker's sig-proxy) unless false. */
  forwardSignals?: boolean;
}

interface WaitAnswer {
  StatusCode: number;
  Error?: { Message?: string } | null;
}

/**
 * Starts a wait on the Engine and resolves once the Engine has registered it (it sends the
 * response headers then, the status code only at exit). dockerode's wait() resolves only at
 * exit, so start() after it would race a fast container (above all a --rm one, gone before a
 * late wait could find it).
 */
function registerWait(engine: Engine, id: string, condition: 'next-exit' | 'removed'): Promise<{ exit: Promise<WaitAnswer>; cancel(): void }> {
  return new Promise((registered, reject) => {
    engine.modem.dial(
      {
        path: `/containers/${id}/wait?`,
        method: 'POST',
        isStream: true,
        statusCodes: { 200: true, 400: 'bad parameter', 404: 'no such container', 500: 'server error' },
        options: { condition },
      },
      (error, result) => {
        if (error) return reject(error);
        const response = result as Readable;
        let cancelled = false;
        const exit = new Promise<WaitAnswer>((ok, fail) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => {
            try {
              ok(JSON.parse(body) as WaitAnswer);
            } catch {
              fail(failure(`the Engine's wait answer is not JSON: ${body.slice(0, 200)}`));
            }
          });
          response.on('error', (e) => (cancelled ? undefined : fail(failure(`waiting for container ${id.slice(0, 12)} failed: ${e.message}`, e))));
        });
        registered({
          exit,
          cancel: () => {
            cancelled = true;
            exit.catch(() => undefined);
            response.destroy();
          },
        });
      },
    );
  });
}

/**
 * docker run's exit code for an Engine refusal (cli/command/container/run.go toStatusError):
 * 127 when the command is not found, 126 when it cannot be invoked, 125 for anything else.
 */
export function refusalCode(message: string): ExitCode {
  if (/executable file not found|no such file or directory|system cannot find the file specified/.test(message)) return EXIT.notFound;
  if (/permission denied|is a directory/.test(message)) return EXIT.cannotInvoke;
  return EXIT.engineRefused;
}

/** The image ref as docker names it in "Unable to find image" (a tag added when there is none). */
function withTag(image: string): string {
  return /@|:[^/]*$/.test(image) ? image : `${image}:latest`;
}

/**
 * Creates the container, pulling as `docker run --pull` does: `always` first, `missing` (the
 * default) when the Engine has no such image, `never` not at all. Refusals exit 125.
 */
async function createContainer(engine: Engine, flags: RunFlags, options: RunContainerOptions, stderr: Writable & { isTTY?: boolean }): Promise<Dockerode.Container> {
  const pull = async () => {
    try {
      await pullImage(engine, options.image, { log: stderr, platform: flags.platform });
    } catch (error) {
      throw new ImagewrightError(
        // A refused pull has no JSON body: drop docker-modem's "(HTTP code 500) server error - " before the Engine's words.
        `cannot pull ${options.image}: ${engineMessage(error).replace(/^\(HTTP code \d+\) [^-]*- /, '')} (build it with image-build, or docker login to its registry)`,
        EXIT.engineRefused,
        { cause: error },
      );
    }
  };
  if (flags.pull === 'always') await pull();
  const create = toCreateOptions(flags, { image: options.image, cmd: options.cmd, cwd: options.cwd });
  // docker-modem would also copy every field (Env values included) into the URL: only these belong there.
  const query = Object.fromEntries(Object.entries({ name: create.name, platform: create.platform }).filter(([, v]) => v !== undefined));
  const attempt = () => engine.createContainer({ _query: query, _body: create } as Dockerode.ContainerCreateOptions);
  try {
    try {
      return await attempt();
    } catch (error) {
      const missing = (error as { statusCode?: number }).statusCode === 404 && /no such image/i.test(engineMessage(error));
      if (!missing) throw error;
      if (flags.pull === 'never') {
        throw new ImagewrightError(`image ${options.image} not found locally and --pull never: build it (image-build) or pull it`, EXIT.engineRefused, { cause: error });
      }
      // As docker: say so on stderr, pull, and try once more.
      stderr.write(`Unable to find image '${withTag(options.image)}' locally\n`);
      await pull();
      return await attempt();
    }
  } catch (error) {
    if (error instanceof ImagewrightError) throw error;
    const message = engineMessage(error);
    throw new ImagewrightError(`cannot create a container of ${options.image}: ${message}`, refusalCode(message), { cause: error });
  }
}

/** After the exit, output still in flight gets this long before the attach stream is dropped. */
const OUTPUT_GRACE_MS = 5000;

/**
 * `docker run` without the CLI: create, attach before start (stdin too when interactive), wait
 * registered before start, start; output demuxed to stdout/stderr (raw with a TTY). Resolves to
 * the container's exit code. Piped stdin is sent then half-closed at EOF, so the container sees
 * end of input and `echo 'echo hi' | image-sh` works. Without a TTY, SIGINT/SIGTERM go to the
 * container (docker's sig-proxy); with one, the terminal is in raw mode and ^C is a keystroke.
 * An Engine refusal throws with docker run's codes: 125 (cannot create or start), 126 (the
 * command cannot be invoked), 127 (the command is not found).
 */
export async function runContainer(engine: Engine, options: RunContainerOptions): Promise<number> {
  const flags = options.flags ?? emptyRunFlags();
  const interactive = options.interactive ?? flags.interactive;
  const tty = options.tty ?? flags.tty;
  const stdin = options.stdin ?? process.stdin;
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  if (tty && interactive && !stdin.isTTY) {
    throw usageError('-t with -i needs a terminal on stdin, and stdin is not one: drop -t (docker run refuses this too)');
  }

  const container = await createContainer(engine, { ...flags, interactive, tty }, options, stderr);
  options.onCreate?.(container.id);

  const cleanups: (() => void)[] = [];
  let started = false;
  try {
    const sock = (await container.attach({ stream: true, hijack: true, stdin: interactive, stdout: true, stderr: true })) as unknown as Duplex;
    cleanups.push(() => sock.destroy());
    // A write after the container closed its side (EPIPE, reset) is not the run's outcome: wait says that.
    sock.on('error', () => undefined);
    const outputDone = new Promise<void>((done) => {
      sock.once('end', done);
      sock.once('close', done);
    });
    if (tty) sock.on('data', (chunk: Buffer) => stdout.write(chunk));
    else engine.modem.demuxStream(sock, stdout, stderr);

    // With --rm the container may be gone before a next-exit wait returns: wait for its removal then.
    const wait = await registerWait(engine, container.id, flags.rm ? 'removed' : 'next-exit');
    cleanups.push(() => wait.cancel());

    if (interactive) {
      if (tty) {
        stdin.setRawMode?.(true);
        cleanups.push(() => stdin.setRawMode?.(false));
      }
      // pipe() ends the socket's write side at EOF: a half-close, the output keeps coming.
      stdin.pipe(sock);
      cleanups.push(() => {
        stdin.unpipe(sock);
        stdin.pause(); // lets the process exit although stdin is still open
      });
    }

    await options.beforeStart?.(container);
    try {
      await container.start();
      started = true;
    } catch (error) {
      const message = engineMessage(error);
      const what = options.cmd?.length ? JSON.stringify(options.cmd.join(' ')) : 'the image CMD';
      throw new ImagewrightError(`cannot start ${what} in ${options.image}: ${message}`, refusalCode(message), { cause: error });
    }

    if (tty) {
      const resize = () => {
        if (stdout.isTTY && stdout.columns && stdout.rows) container.resize({ h: stdout.rows, w: stdout.columns }).catch(() => undefined);
      };
      resize();
      stdout.on('resize', resize); // Node emits it on SIGWINCH
      cleanups.push(() => stdout.off('resize', resize));
    } else if (options.forwardSignals !== false) {
      const forward = (signal: NodeJS.Signals) => void container.kill({ signal }).catch(() => undefined);
      process.on('SIGINT', forward);
      process.on('SIGTERM', forward);
      cleanups.push(() => {
        process.off('SIGINT', forward);
        process.off('SIGTERM', forward);
      });
    }

    const answer = await wait.exit;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([outputDone, new Promise((done) => (timer = setTimeout(done, OUTPUT_GRACE_MS)))]);
    clearTimeout(timer);
    return answer.StatusCode;
  } finally {
    for (const cleanup of cleanups.reverse()) cleanup();
    // A --rm container that never ran is not removed by the Engine.
    if (!started && flags.rm) await container.remove({ force: true }).catch(() => undefined);
  }
}

// ---- Presets shared by image-sh, image-root-sh and image-dev ----

/**
 * The interactive shell: bash with the image's rc file when the image has bash, else sh. The
 * choice is made inside the container, so it costs no extra container or image inspection.
 */
export const INTERACTIVE_SHELL = ['/bin/sh', '-c', 'command -v bash >/dev/null 2>&1 && exec bash --rcfile /etc/bash.bashrc || exec sh'];

/** `-i` always, `-t` only when stdin is a terminal (so a piped script works), `-u 0:0` for root. */
export function shellFlags(base: RunFlags, stdinIsTTY: boolean, options: { root?: boolean } = {}): RunFlags {
  return mergeRunFlags(base, { interactive: true, tty: stdinIsTTY, ...(options.root ? { user: '0:0' } : {}) });
}

/** Label on image-dev containers (value: the deployment), to find the ones left behind. */
export const DEV_LABEL = 'imagewright.image-dev';

/**
 * image-dev's flags: the docker-run flags given on its command line (none of IMAGE_RUN_PARS, and
 * no --rm unless given: the stopped container keeps what was done in it); the deployment's
 * sources mounted read-write; JH_DEVELOP=1; an interactive shell. The environments are mounted
 * one entry at a time (each environment folder, frozen/, ...) so what the image alone has at
 * /opt/environments stays visible: above all `test`, the runner image-test calls. Mounts, not
 * binds: a source that vanished is the Engine's error, never an empty folder it creates in the
 * checkout.
 */
export function devRunFlags(config: Pick<Config, 'COMMON_DIR' | 'IMAGE_DIR' | 'DEPLOYMENT_NAME'>, stdinIsTTY: boolean, extra: RunFlags = emptyRunFlags()): RunFlags {
  const mounts: RunFlags['mounts'] = [];
  const mount = (source: string, target: string) => mounts.push({ Type: 'bind', Source: source, Target: target });
  const required = (source: string, target: string) => {
    if (!existsSync(source)) throw usageError(`${source}: missing (allowed: a checkout with that folder, mounted at ${target})`);
  };
  const scripts = join(config.COMMON_DIR, 'common-scripts');
  required(scripts, '/opt/common-scripts');
  mount(scripts, '/opt/common-scripts');
  const commonEnv = join(config.COMMON_DIR, 'common-env');
  if (existsSync(commonEnv)) mount(commonEnv, '/opt/common-env');
  const environments = join(config.IMAGE_DIR, 'environments');
  required(environments, '/opt/environments');
  for (const name of readdirSync(environments).sort()) mount(join(environments, name), `/opt/environments/${name}`);
  return shellFlags(mergeRunFlags(extra, { mounts, env: ['JH_DEVELOP=1'], labels: { [DEV_LABEL]: config.DEPLOYMENT_NAME } }), stdinIsTTY);
}

// ---- Captured runs: the in-image helpers whose output is data (env list/export, test events) ----

export interface CapturedRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs CMD in a fresh container of IMAGE (no TTY, no stdin, removed afterwards) and collects its
 * output. `onLine` sees each stdout line as it arrives, for output that streams (test events).
 * IMAGE_RUN_PARS flags apply, as they did when the originals ran these through image-exec.
 */
export async function runCaptured(
  engine: Engine,
  options: {
    image: string;
    cmd: string[];
    flags?: RunFlags;
    cwd?: string;
    onLine?(line: string): void;
    stderr?: Writable;
    /** The error when CMD does not exist in the image (the Engine refuses to start it). */
    missing?: string;
  },
): Promise<CapturedRun> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  let pending = '';
  out.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (!options.onLine) return;
    const lines = (pending + chunk).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) options.onLine(line);
  });
  err.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    options.stderr?.write(chunk);
  });
  // No name or published ports: several of these may run at once, beside a running lab.
  const flags = { ...mergeRunFlags(options.flags ?? emptyRunFlags(), { rm: true, interactive: false, tty: false }), name: undefined, publish: [] };
  let code: number;
  try {
    code = await runContainer(engine, { image: options.image, cmd: options.cmd, flags, cwd: options.cwd, stdout: out, stderr: err, interactive: false, tty: false });
  } catch (error) {
    if (options.missing && /executable file not found|no such file or directory/i.test((error as Error).message)) throw failure(options.missing, error);
    throw error;
  }
  if (options.missing && (code === 126 || code === 127) && !stdout) throw failure(options.missing);
  if (pending && options.onLine) options.onLine(pending);
  return { code, stdout, stderr };
}
