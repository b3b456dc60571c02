import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The client's version as [major, minor], or undefined when it does not answer. */
function versionOf(binary: string): [number, number] | undefined {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  const m = /version (\d+)\.(\d+)/.exec(r.stdout ?? '');
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/**
 * The docker CLI the tests use as their oracle: the newest client on this machine. Debian's
 * docker.io brings a 20.10 client beside the newer one the machines ship, and the two differ in
 * what we follow (relative `-v ./x`, `N/A` ages, `docker context show`); which comes first on
 * PATH depends on the environment a run gets, so the choice is made here, not by PATH. Chosen on
 * first use: most test files never call it.
 */
export function dockerCli(): string {
  return (chosen ??= newestDockerCli());
}
let chosen: string | undefined;

function newestDockerCli(): string {
  const candidates = [...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'docker')), '/usr/local/bin/docker', '/usr/bin/docker'];
  let best: { path: string; version: [number, number] } | undefined;
  for (const path of new Set(candidates)) {
    if (!existsSync(path)) continue;
    const version = versionOf(path);
    if (version && (!best || version[0] > best.version[0] || (version[0] === best.version[0] && version[1] > best.version[1]))) best = { path, version };
  }
  if (!best) throw new Error('no docker CLI found: run tools/bootstrap');
  if (best.version[0] < 23) throw new Error(`the newest docker CLI here is ${best.version.join('.')} (${best.path}): the tests follow docker >= 23`);
  return best.path;
}
