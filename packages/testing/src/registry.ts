import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface RegistryOptions {
  username?: string;
  /** Random when omitted. */
  password?: string;
  /** The registry binary; Debian's docker-registry unless told otherwise. */
  binary?: string;
  /** How long to wait for the registry to answer, in ms. */
  timeoutMs?: number;
}

export interface Registry {
  /** 127.0.0.1:PORT, usable as an image reference prefix. */
  host: string;
  username: string;
  password: string;
  /** The registry's storage root (filesystem driver). */
  dataDir: string;
  /** Kills the registry and removes its temp files; safe to call twice. */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function bootstrapError(what: string): Error {
  return new Error(`${what} not found: run tools/bootstrap (it installs docker-registry and apache2-utils)`);
}

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', command], { stdio: 'ignore' }).status === 0;
}

/**
 * A real, throwaway OCI registry: Debian's docker-registry on a free loopback port, htpasswd
 * (bcrypt) auth, filesystem storage in a temp dir, deletes enabled. Resolves once `GET /v2/`
 * answers 401, i.e. it serves and enforces auth.
 */
export async function startRegistry(options: RegistryOptions = {}): Promise<Registry> {
  const binary = options.binary ?? REGISTRY_BINARY;
  if (!existsSync(binary)) throw bootstrapError(binary);
  if (!onPath('htpasswd')) throw bootstrapError('htpasswd');
  const username = options.username ?? 'imagewright';
  const password = options.password ?? randomBytes(18).toString('base64url');
  if (!username || username.includes(':')) throw new Error(`registry username ${JSON.stringify(username)}: allowed a non-empty name without ':'`);
  // htpasswd -i reads one line: a newline would silently truncate the password.
  if (/[\r\n]/.test(password)) throw new Error('registry password: allowed a single line');

  const dir = mkdtempSync(join(tmpdir(), 'imagewright-registry-'));
  const cleanupDir = () => rmSync(dir, { recursive: true, force: true });
  let child: ChildProcess | undefined;
  const onExit = () => {
    child?.kill('SIGKILL');
    cleanupDir();
  };
  try {
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir);

    // Password on stdin, never argv (argv is world-readable in /proc).
    const hashed = spawnSync('htpasswd', ['-niB', username], { input: `${password}\n`, encoding: 'utf8' });
    if (hashed.status !== 0) throw new Error(`htpasswd failed (${hashed.status}): ${hashed.stderr.trim()}`);
    const htpasswdFile = join(dir, 'htpasswd');
    writeFileSync(htpasswdFile, `${hashed.stdout.trim()}\n`, { mode: 0o600 });

    // JSON is valid YAML: no quoting worries for temp paths.
    const configFile = join(dir, 'config.yml');
    const config = {
      version: 0.1,
      log: { level: 'info', accesslog: { disabled: true } },
      storage: { filesystem: { rootdirectory: dataDir }, delete: { enabled: true } },
      // Port 0: the kernel picks a free port atomically (no probe-then-bind race); the registry logs it.
      http: { addr: '127.0.0.1:0', secret: randomBytes(16).toString('hex') },
      auth: { htpasswd: { realm: 'imagewright-test', path: htpasswdFile } },
    };
    writeFileSync(configFile, JSON.stringify(config, null, 2), { mode: 0o600 });

    const proc = spawn(binary, ['serve', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    process.once('exit', onExit);
    // Keep draining output (a full pipe would block the registry) and keep a tail for errors.
    let log = '';
    const collect = (chunk: Buffer) => {
      log = (log + chunk.toString('utf8')).slice(-16_384);
    };
    proc.stdout!.on('data', collect);
    proc.stderr!.on('data', collect);
    let exited: string | undefined;
    const exitedPromise = new Promise<void>((res) => {
      proc.once('exit', (code, signal) => {
        exited = `exited with ${signal ?? code}`;
        res();
      });
      proc.once('error', (error) => {
        exited = `failed to start: ${error.message}`;
        res();
      });
    });

    const deadline = Date.now() + (options.timeoutMs ?? 20_000);
    const fail = (why: string) => new Error(`docker-registry ${why}\n${log.trim().split('\n').slice(-10).join('\n')}`);
    let host: string | undefined;
    while (!host) {
      if (exited) throw fail(exited);
      if (Date.now() > deadline) throw fail('did not report its address in time');
      host = /listening on (127\.0\.0\.1:\d+)/.exec(log)?.[1];
      if (!host) await sleep(50);
    }
    for (;;) {
      if (exited) throw fail(exited);
      if (Date.now() > deadline) throw fail(`at ${host} did not answer GET /v2/ with 401 in time`);
      let status: number | undefined;
      try {
        const res = await fetch(`http://${host}/v2/`);
        await res.arrayBuffer();
        status = res.status;
      } catch {
        await sleep(50); // not accepting yet
        continue;
      }
      if (status === 401) break;
      throw fail(`at ${host} answered GET /v2/ with ${status}, expected 401 (auth not enforced)`);
    }

    let stopped: Promise<void> | undefined;
    const stop = () =>
      (stopped ??= (async () => {
        if (!exited) {
          proc.kill('SIGTERM');
          const killed = await Promise.race([exitedPromise.then(() => true), sleep(5_000).then(() => false)]);
          if (!killed) {
            proc.kill('SIGKILL');
            await exitedPromise;
          }
        }
        process.removeListener('exit', onExit);
        cleanupDir();
      })());
    return { host, username, password, dataDir, stop };
  } catch (error) {
    process.removeListener('exit', onExit);
    onExit();
    throw error;
  }
}
