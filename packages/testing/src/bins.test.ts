import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, runBin } from './bin';

// Every command, found from the packages' manifests (a new one is covered without a change here).
const bins = readdirSync(join(REPO_ROOT, 'packages'))
  .filter((dir) => existsSync(join(REPO_ROOT, 'packages', dir, 'package.json')))
  .flatMap((dir) => Object.keys((JSON.parse(readFileSync(join(REPO_ROOT, 'packages', dir, 'package.json'), 'utf8')) as { bin?: Record<string, string> }).bin ?? {}).map((name) => ({ dir, name })));
const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };

describe('every command', () => {
  it('there are commands to check', () => expect(bins.length).toBeGreaterThan(10));

  describe.each(bins)('$name', ({ dir }) => {
    it('--help and --version work without config; --version --json adds Node and the Engine API', async () => {
      const env = { DEPLOYMENT_NAME: '' };
      const help = await runBin(dir, ['--help'], { env });
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/^Usage: /);
      expect(help.stdout).toMatch(/--version/);
      const plain = await runBin(dir, ['--version'], { env });
      expect(plain).toMatchObject({ code: 0, stderr: '' });
      expect(plain.stdout).toMatch(new RegExp(` \\(imagewright\\) ${version.replace(/\./g, '\\.')}\\n$`));
      const json = await runBin(dir, ['--version', '--json'], { env });
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout)).toMatchObject({ imagewright: version, node: process.versions.node, engineApi: expect.stringMatching(/^1\.\d+$/) });
    });

    // Node would take these for itself if a bin started it without `--` (nodejs/node#54232).
    it('no argument is taken by Node itself', async () => {
      const r = await runBin(dir, ['--env-file', '/nonexistent', '--help']);
      expect(r.stderr).not.toMatch(/^node:/m);
      expect([0, 2]).toContain(r.code);
    });
  });
});
