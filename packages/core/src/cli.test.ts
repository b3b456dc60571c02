import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type CommandContext, type CommandSpec, runCommand } from './cli';
import { ImagewrightError } from './errors';
import { createOutput } from './output';

/** An in-memory stream that keeps what was written. */
class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    callback();
  }
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  calls: CommandContext[];
}

/** Runs `spec` (its run() recorded, then delegated to `body`) with captured streams. */
async function run(spec: Partial<CommandSpec>, argv: string[], body: (ctx: CommandContext) => unknown = () => undefined): Promise<Run> {
  const stdout = new Capture();
  const stderr = new Capture();
  const calls: CommandContext[] = [];
  const full: CommandSpec = {
    name: 'fake',
    summary: 'does fake things',
    ...spec,
    run: (ctx) => {
      calls.push(ctx);
      return body(ctx) as number | void;
    },
  };
  const code = await runCommand(full, argv, { env: { PATH: process.env.PATH }, out: createOutput({ stdout, stderr, env: {} }) });
  return { code, stdout: stdout.text, stderr: stderr.text, calls };
}

const OPTIONS: CommandSpec['options'] = {
  tag: { type: 'string', short: 't', value: 'TAG', description: 'the tag' },
  verbose: { type: 'boolean', short: 'v', description: 'say more' },
};
const spec: Partial<CommandSpec> = { args: '[IMAGE]', positionals: { max: 1 }, options: OPTIONS };

/** stderr must be exactly one line. */
function oneLine(text: string): string {
  expect(text.endsWith('\n')).toBe(true);
  expect(text.slice(0, -1)).not.toContain('\n');
  return text.slice(0, -1);
}

describe('runCommand', () => {
  it('parses options and positionals and passes them to run()', async () => {
    const r = await run(spec, ['-t', 'v1', '--verbose', 'img']);
    expect(r.code).toBe(0);
    expect(r.calls).toHaveLength(1);
    expect(r.calls[0].values).toMatchObject({ tag: 'v1', verbose: true });
    expect(r.calls[0].positionals).toEqual(['img']);
    expect(r.stderr).toBe('');
  });

  it('returns the code run() returns', async () => {
    expect((await run(spec, [], () => 1)).code).toBe(1);
    expect((await run(spec, [], async () => 2)).code).toBe(2);
  });

  for (const flag of ['--help', '-h']) {
    it(`${flag} prints usage and exits 0 without running`, async () => {
      const r = await run({ ...spec, json: true }, ['--tag', 'x', flag]);
      expect(r.code).toBe(0);
      expect(r.calls).toHaveLength(0);
      expect(r.stdout).toMatch(/^Usage: fake \[OPTIONS\] \[IMAGE\]\n/);
      expect(r.stdout).toContain('does fake things');
      expect(r.stdout).toMatch(/-t, --tag TAG +the tag/);
      expect(r.stdout).toMatch(/--json +print data as JSON/);
      expect(r.stdout).toContain('Exit codes: 0 ok, 1');
      expect(r.stderr).toBe('');
    });
  }

  for (const bad of ['--bogus', '-x', '--bogus=1']) {
    it(`refuses unknown option ${bad} with exit 2 and one line listing the allowed ones`, async () => {
      const r = await run(spec, [bad, 'img']);
      expect(r.code).toBe(2);
      expect(r.calls).toHaveLength(0);
      const line = oneLine(r.stderr);
      expect(line).toMatch(/^fake: /);
      expect(line).toContain(bad.split('=')[0]);
      for (const allowed of ['--tag', '--verbose', '--help']) expect(line).toContain(allowed);
      expect(r.stdout).toBe('');
    });
  }

  for (const argv of [['--tag'], ['-t'], ['img', '--tag']]) {
    it(`refuses a missing option value (${argv.join(' ')}) with exit 2`, async () => {
      const r = await run(spec, argv);
      expect(r.code).toBe(2);
      expect(r.calls).toHaveLength(0);
      const line = oneLine(r.stderr);
      expect(line).toContain('--tag');
      expect(line).toContain('TAG');
    });
  }

  it('refuses too many positionals with exit 2 naming the extra one', async () => {
    const r = await run(spec, ['one', 'two']);
    expect(r.code).toBe(2);
    expect(r.calls).toHaveLength(0);
    expect(oneLine(r.stderr)).toContain('"two"');
  });

  it('refuses any positional when none are declared', async () => {
    const r = await run({ options: OPTIONS }, ['stray']);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toContain('"stray"');
  });

  it('refuses missing positionals with exit 2', async () => {
    const r = await run({ args: 'IMAGE', positionals: { min: 1, max: 1 } }, []);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toContain('missing argument');
  });

  describe('passThrough', () => {
    const exec: Partial<CommandSpec> = {
      args: 'CMD [ARG...]',
      passThrough: true,
      options: { user: { type: 'string', short: 'u', value: 'USER', description: 'run as' } },
    };

    for (const [argv, user, positionals] of [
      [['ls', '-la'], undefined, ['ls', '-la']],
      [['-u', 'root', 'ls', '-la', '--help'], 'root', ['ls', '-la', '--help']],
      [['--user=root', 'sh', '-c', 'echo -u'], 'root', ['sh', '-c', 'echo -u']],
      [['-u', 'root', '--', '-weird', '-x'], 'root', ['-weird', '-x']],
    ] as [string[], string | undefined, string[]][]) {
      it(`keeps options after the first positional: ${argv.join(' ')}`, async () => {
        const r = await run(exec, argv);
        expect(r.code).toBe(0);
        expect(r.calls[0].positionals).toEqual(positionals);
        expect(r.calls[0].values.user).toBe(user);
      });
    }

    it('still refuses unknown options before the first positional', async () => {
      const r = await run(exec, ['-la', 'ls']);
      expect(r.code).toBe(2);
      expect(r.calls).toHaveLength(0);
    });
  });

  it('turns an ImagewrightError into its exit code and one "name: message" line', async () => {
    const r = await run(spec, [], () => {
      throw new ImagewrightError('image x not found', 1);
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('fake: image x not found\n');
    const usage = await run(spec, [], async () => {
      throw new ImagewrightError('bad input', 2);
    });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toBe('fake: bad input\n');
  });

  it('turns a plain Error into exit 1 without a stack trace', async () => {
    const r = await run(spec, [], async () => {
      throw new Error('boom');
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('fake: boom\n');
  });
});
