import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecrets, type Recipient } from '@imagewright/secrets';
import { FIXTURES, REPO_ROOT, runBin, tempDeploymentRoot } from '@imagewright/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

// secrets-cat's built bin on temp copies of the sops 3.7.1 fixtures; what it prints is compared
// with what the npm sops-age package decrypts from the same files. TMPDIR is the test's own and
// must stay empty: the plaintext goes to stdout only.

const SOPS = join(FIXTURES, 'sops');
const KEYS = join(SOPS, 'keys.txt');
const KEYS_TEXT = readFileSync(KEYS, 'utf8');
const IDENTITY = KEYS_TEXT.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
const PUBLIC = [...KEYS_TEXT.matchAll(/^# public key: (age1\S+)$/gm)].map((m) => m[1]!);

let work: string;
let tmp: string;
let home: string;

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'iw-secrets-cat-'));
  [tmp, home] = [join(work, 'tmp'), join(work, 'home')];
  mkdirSync(tmp);
  mkdirSync(home);
  for (const f of ['example.yaml', 'example.json', 'example.ini', 'example.txt']) copyFileSync(join(SOPS, f), join(work, f));
});
afterEach(() => {
  expect(readdirSync(tmp)).toEqual([]);
  rmSync(work, { recursive: true, force: true });
});

/** Identities from keys.txt alone (nothing from the outer environment or a HOME keys.txt). */
const ENV = (): NodeJS.ProcessEnv => ({ HOME: home, TMPDIR: tmp, SOPS_AGE_KEY_FILE: KEYS, SOPS_AGE_KEY: undefined, SOPS_AGE_KEY_CMD: undefined, XDG_CONFIG_HOME: undefined });
const cat = (args: string[], env: NodeJS.ProcessEnv = {}) => runBin('secrets-cat', args, { cwd: work, env: { ...ENV(), ...env } });
const at = (name: string) => join(work, name);

async function sopsAge(text: string, fileType: 'yaml' | 'json' | 'env'): Promise<Record<string, unknown>> {
  const { decryptSops } = await import('sops-age');
  return decryptSops(text, { secretKey: IDENTITY, fileType });
}

/** `key = value` lines of an INI text by section (comments and blank lines left out). */
function iniSections(text: string): Record<string, Record<string, string>> {
  const sections: Record<string, Record<string, string>> = {};
  let section = '';
  for (const line of text.split('\n')) {
    const header = /^\[(.+)\]$/.exec(line);
    if (header) sections[(section = header[1]!)] = {};
    const entry = /^([^;#=[][^=]*?)\s*=\s?(.*)$/.exec(line);
    if (entry && section) sections[section]![entry[1]!] = entry[2]!;
  }
  return sections;
}

/**
 * sops-age has no INI reader. sops' tree of an INI file is section → key, as a JSON file's nested
 * map is, so each value's associated data is the same: the sections moved into a JSON sops file
 * (with the [sops] section's flattened metadata put back as sops-age reads it) decrypt there.
 */
async function sopsAgeIni(text: string): Promise<Record<string, unknown>> {
  const { sops: flat, ...data } = iniSections(text);
  const age: Array<Record<string, string>> = [];
  for (const [key, value] of Object.entries(flat!)) {
    const m = /^age__list_(\d+)__map_(recipient|enc)$/.exec(key);
    if (m) (age[Number(m[1])] ??= {})[m[2]!] = value.replaceAll('\\n', '\n');
  }
  const sops = { age, lastmodified: flat!.lastmodified, mac: flat!.mac, unencrypted_suffix: flat!.unencrypted_suffix, version: flat!.version };
  return sopsAge(JSON.stringify({ ...data, sops }), 'json');
}

describe('secrets-cat prints the plaintext', () => {
  it('YAML and JSON: what sops-age decrypts', async () => {
    for (const [name, parse] of [
      ['example.yaml', (t: string): unknown => parseYaml(t)],
      ['example.json', (t: string): unknown => JSON.parse(t)],
    ] as const) {
      const r = await cat([name]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      expect(parse(r.stdout), name).toEqual(await sopsAge(readFileSync(at(name), 'utf8'), name.endsWith('.json') ? 'json' : 'yaml'));
    }
    // As sops prints it: key order, indentation and comments kept.
    const yaml = await cat(['example.yaml']);
    expect(yaml.stdout.startsWith('myapp1: t00m4nys3cr3tzupdated\napp2:\n    db:\n        user: eve\n        password: c4r1b0u\n        # private key for secret operations in app2\n')).toBe(true);
  });

  it('INI: every section and key as sops-age decrypts them', async () => {
    const r = await cat(['example.ini']);
    expect(r.code, r.stderr).toBe(0);
    const oracle = await sopsAgeIni(readFileSync(at('example.ini'), 'utf8'));
    expect(iniSections(r.stdout)).toEqual(oracle);
    expect(oracle.address).toMatchObject({ city: 'New York' });
    expect(r.stdout.startsWith('; An example file for use with sops!\n[name]\n')).toBe(true);
  });

  it('binary: the exact bytes (text from the fixture; random bytes that are not UTF-8 from a file made here)', async () => {
    const text = await cat(['example.txt']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toBe(((await sopsAge(readFileSync(at('example.txt'), 'utf8'), 'json')) as { data: string }).data);

    const blob = randomBytes(4096);
    blob[0] = 0xff; // never valid UTF-8
    await createSecrets(at('blob.bin'), blob, { env: ENV(), groups: [[{ type: 'age', recipient: PUBLIC[0]! } as Recipient]] });
    const run = spawnSync(join(REPO_ROOT, 'packages', 'secrets-cat', 'dist', 'main.js'), [at('blob.bin')], { env: { ...process.env, ...ENV(), SOPS_AGE_KEY: IDENTITY, SOPS_AGE_KEY_FILE: '/nonexistent' } });
    expect(run.status, run.stderr.toString()).toBe(0);
    expect(run.stdout.equals(blob)).toBe(true);
  });

  it('dotenv: what sops-age decrypts', async () => {
    const plain = '# service\nAPI_KEY=abc123\nGREETING=hello world\nPLAIN_unencrypted=in clear\n';
    await createSecrets(at('app.env'), Buffer.from(plain), { env: ENV(), groups: [[{ type: 'age', recipient: PUBLIC[0]! }]] });
    const r = await cat(['app.env']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(plain);
    const lines = r.stdout.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))).toEqual(await sopsAge(readFileSync(at('app.env'), 'utf8'), 'env'));
  });

  it("identities where sops looks by default (~/.config/sops/age/keys.txt, $XDG_CONFIG_HOME); --input-type for a name that does not say the format", async () => {
    mkdirSync(join(home, '.config', 'sops', 'age'), { recursive: true });
    copyFileSync(KEYS, join(home, '.config', 'sops', 'age', 'keys.txt'));
    const expected = (await cat(['example.yaml'])).stdout;
    expect(await cat(['example.yaml'], { SOPS_AGE_KEY_FILE: undefined })).toEqual({ code: 0, stdout: expected, stderr: '' });
    const xdg = join(work, 'xdg');
    mkdirSync(join(xdg, 'sops', 'age'), { recursive: true });
    copyFileSync(KEYS, join(xdg, 'sops', 'age', 'keys.txt'));
    expect(await cat(['example.yaml'], { SOPS_AGE_KEY_FILE: undefined, HOME: join(work, 'nohome'), XDG_CONFIG_HOME: xdg })).toEqual({ code: 0, stdout: expected, stderr: '' });

    copyFileSync(at('example.yaml'), at('prod-secrets'));
    expect(await cat(['--input-type', 'yaml', 'prod-secrets'])).toEqual({ code: 0, stdout: expected, stderr: '' });
    // Without it the name says binary: not a sops binary file (no data key), exit 1.
    expect((await cat(['prod-secrets'])).code).toBe(1);
    expect((await cat(['--input-type', 'toml', 'prod-secrets'])).code).toBe(2);
  });

  it('--extract: a nested value, a list item, a subtree, as sops prints them', async () => {
    const oracle = (await sopsAge(readFileSync(at('example.yaml'), 'utf8'), 'yaml')) as { app2: { db: Record<string, string> }; an_array: string[] };
    expect(await cat(['--extract', '["app2"]["db"]["password"]', 'example.yaml'])).toEqual({ code: 0, stdout: oracle.app2.db.password, stderr: '' });
    expect(await cat(['--extract', "['an_array'][2]", 'example.yaml'])).toEqual({ code: 0, stdout: oracle.an_array[2], stderr: '' });
    const subtree = await cat(['--extract', '["app2"]["db"]', 'example.yaml']);
    expect(subtree.code).toBe(0);
    expect(parseYaml(subtree.stdout)).toEqual(oracle.app2.db);
    const json = (await sopsAge(readFileSync(at('example.json'), 'utf8'), 'json')) as { phoneNumbers: Array<{ number: string }> };
    expect((await cat(['--extract', '["phoneNumbers"][1]["number"]', 'example.json'])).stdout).toBe(json.phoneNumbers[1]!.number);
    // A subtree with --format: that format.
    const asJson = await cat(['--extract', '["app2"]["db"]', '--format', 'json', 'example.yaml']);
    expect(JSON.parse(asJson.stdout)).toEqual(oracle.app2.db);
  });

  it('--format json / yaml / dotenv', async () => {
    const yamlOracle = await sopsAge(readFileSync(at('example.yaml'), 'utf8'), 'yaml');
    const asJson = await cat(['--format', 'json', 'example.yaml']);
    expect(asJson.code, asJson.stderr).toBe(0);
    expect(JSON.parse(asJson.stdout)).toEqual(yamlOracle);
    const asYaml = await cat(['--format', 'yaml', 'example.json']);
    expect(asYaml.code, asYaml.stderr).toBe(0);
    expect(parseYaml(asYaml.stdout)).toEqual(await sopsAge(readFileSync(at('example.json'), 'utf8'), 'json'));

    await createSecrets(at('flat.yaml'), Buffer.from('API_KEY: abc123\nGREETING: hello world\n'), { env: ENV(), groups: [[{ type: 'age', recipient: PUBLIC[1]! }]] });
    expect(await cat(['--format', 'dotenv', 'flat.yaml'])).toEqual({ code: 0, stdout: 'API_KEY=abc123\nGREETING=hello world\n', stderr: '' });

    const nested = await cat(['--format', 'dotenv', 'example.yaml']);
    expect(nested.code).toBe(2);
    expect(nested.stdout).toBe('');
    expect(nested.stderr.trim().split('\n')).toHaveLength(1);
    const unknown = await cat(['--format', 'toml', 'example.yaml']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--format "toml": allowed yaml, json, dotenv/);
  });
});

describe('secrets-cat refuses', () => {
  it('a bad --extract path, a missing key or index: exit 2, one line, nothing on stdout', async () => {
    for (const path of ['app2.db', '["app2"]["nope"]', '["an_array"][9]', '']) {
      const r = await cat(['--extract', path, 'example.yaml']);
      expect(r.code, path).toBe(2);
      expect(r.stdout, path).toBe('');
      expect(r.stderr.trim().split('\n'), path).toHaveLength(1);
      expect(r.stderr, path).toContain('--extract');
    }
  });

  it('a missing file: exit 2 naming it', async () => {
    const r = await cat(['nosuch.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nosuch\.yaml: no such file/);
  });

  it('no identity: exit 1, one line naming the recipients and where it looked, no key material', async () => {
    const r = await cat(['example.yaml'], { SOPS_AGE_KEY_FILE: undefined });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/example\.yaml: cannot get its data key: no age identity found/);
    for (const recipient of PUBLIC) expect(lines[0]).toContain(recipient);
    expect(r.stderr).not.toMatch(/AGE-SECRET-KEY/i);

    // Another identity: told it does not fit, never shown.
    const other = spawnSync('age-keygen', { encoding: 'utf8' });
    expect(other.status).toBe(0);
    const stranger = other.stdout.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
    const wrong = await cat(['example.yaml'], { SOPS_AGE_KEY_FILE: undefined, SOPS_AGE_KEY: stranger });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/none of the 1 identity found fits/);
    expect(wrong.stderr).not.toContain(stranger.slice(15));
  });

  it('a tampered file (one ciphertext character): exit 1 naming it, nothing on stdout', async () => {
    const text = readFileSync(at('example.yaml'), 'utf8');
    const tampered = text.replace(/(myapp1: ENC\[AES256_GCM,data:)(.)/, (_m, head: string, c: string) => head + (c === 'A' ? 'B' : 'A'));
    expect(tampered).not.toBe(text);
    writeFileSync(at('example.yaml'), tampered);
    const r = await cat(['example.yaml']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/example\.yaml/);
  });
});

describe('FILE defaults to SECRETS_FILE', () => {
  it('from DEPLOYMENT_NAME (and ENVIRONMENT) with a checkout, or --setup-env; without either: exit 2', async () => {
    const root = tempDeploymentRoot('demo');
    try {
      const secrets = join(root, 'deployments', 'demo', 'secrets');
      mkdirSync(secrets);
      copyFileSync(join(SOPS, 'example.yaml'), join(secrets, 'sandbox.yaml'));
      await createSecrets(join(secrets, 'prod.yaml'), Buffer.from('environment: prod\n'), { env: ENV(), groups: [[{ type: 'age', recipient: PUBLIC[0]! }]] });

      const sandbox = await cat([], { IMAGEWRIGHT_ROOT: root, DEPLOYMENT_NAME: 'demo' });
      expect(sandbox.code, sandbox.stderr).toBe(0);
      expect(parseYaml(sandbox.stdout)).toEqual(await sopsAge(readFileSync(join(SOPS, 'example.yaml'), 'utf8'), 'yaml'));
      expect(await cat([], { IMAGEWRIGHT_ROOT: root, DEPLOYMENT_NAME: 'demo', ENVIRONMENT: 'prod' })).toEqual({ code: 0, stdout: 'environment: prod\n', stderr: '' });

      const setupEnv = join(root, 'setup-env');
      writeFileSync(setupEnv, 'export DEPLOYMENT_NAME=demo\nexport ENVIRONMENT=prod\n');
      expect(await cat(['--setup-env', setupEnv])).toEqual({ code: 0, stdout: 'environment: prod\n', stderr: '' });

      const none = await cat([]);
      expect(none.code).toBe(2);
      // Outside a checkout: no deployments/ to find (a one-line usage error pointing at setup-env).
      expect(none.stderr).toMatch(/^secrets-cat: .*setup-env[^\n]*\n$/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
