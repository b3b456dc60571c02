import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectEngine, type Engine } from '@imagewright/docker';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function tryConnect(): Promise<Engine | undefined> {
  try {
    return await connectEngine();
  } catch {
    return undefined;
  }
}

/**
 * A reachable real Docker Engine, started here (Debian's dockerd, as root) when none runs and
 * DOCKER_HOST is unset. Never a skip: a test that needs the engine fails when it can't be had,
 * which is what CI=true demands.
 */
export async function ensureEngine(): Promise<Engine> {
  const engine = await tryConnect();
  if (engine) return engine;
  if (process.env.DOCKER_HOST) throw new Error(`Docker Engine unreachable at DOCKER_HOST=${process.env.DOCKER_HOST}`);
  // Several vitest processes may get here at once: one starts dockerd, the others wait.
  const lock = join(tmpdir(), 'imagewright-dockerd.lock');
  let owner = false;
  try {
    mkdirSync(lock);
    owner = true;
  } catch {
    /* another process is starting it */
  }
  try {
    if (owner && spawnSync('sh', ['-c', 'command -v dockerd']).status === 0) {
      const log = openSync(join(tmpdir(), 'imagewright-dockerd.log'), 'a');
      spawn('dockerd', [], { detached: true, stdio: ['ignore', log, log] }).unref();
    }
    for (let i = 0; i < 120; i++) {
      await sleep(500);
      const started = await tryConnect();
      if (started) return started;
    }
  } finally {
    if (owner) rmSync(lock, { recursive: true, force: true });
  }
  throw new Error(
    `Docker Engine unreachable at unix:///var/run/docker.sock and could not be started (see ${join(tmpdir(), 'imagewright-dockerd.log')}; tools/bootstrap installs docker.io)`,
  );
}
