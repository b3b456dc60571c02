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

  describe('image', () => {
    const imageOf = async (spec: Partial<CommandSpec>, argv: string[]) => {
      let seen: string | undefined;
      const r = await run(spec, argv, (ctx) => {
        seen = ctx.image;
      });
      return { ...r, seen };
    };

    it('--image REF names it, for option and positional commands alike', async () => {
      expect((await imageOf({ image: 'option' }, ['--image', 'a:1'])).seen).toBe('a:1');
      expect((await imageOf({ image: 'positional' }, ['--image', 'a:1'])).seen).toBe('a:1');
      expect((await imageOf({ image: 'positional' }, ['b:2'])).seen).toBe('b:2');
    });

    it('the positional IMAGE is not one of the command\'s own positionals', async () => {
      const r = await run({ image: 'positional', args: 'ENV', positionals: { min: 1, max: 1 } }, ['env1', 'img:3']);
      expect(r.code).toBe(0);
      expect(r.calls[0].positionals).toEqual(['env1']);
      expect(r.calls[0].image).toBe('img:3');
    });

    it('refuses the image given twice, an empty --image, and a positional for option-only commands', async () => {
      const twice = await run({ image: 'positional' }, ['--image', 'a', 'b']);
      expect(twice.code).toBe(2);
      expect(oneLine(twice.stderr)).toContain('given twice');
      const empty = await run({ image: 'option' }, ['--image', '']);
      expect(empty.code).toBe(2);
      expect(oneLine(empty.stderr)).toContain('--image is empty');
      expect((await run({ image: 'option' }, ['img'])).code).toBe(2);
    });

    it('usage shows [IMAGE] and --help lists --image REF', async () => {
      const r = await run({ image: 'positional' }, ['--help']);
      expect(r.stdout).toMatch(/^Usage: fake \[OPTIONS\] \[IMAGE\]\n/);
      expect(r.stdout).toMatch(/--image REF +the image to use instead of IMAGE_ID/);
    });
  });

  describe('runFlags (the run family)', () => {
    // A stand-in arity table: the real one is @imagewright/docker's runFlagArity.
    const arity = (word: string): 0 | 1 => {
      if (['-e', '--env', '-v', '--gpus', '-h'].includes(word)) return 1;
      if (['-it', '--rm', '-i', '-t'].includes(word) || word.includes('=')) return 0;
      throw new ImagewrightError(`command line: ${word} is not supported`, 2);
    };
    const exec: Partial<CommandSpec> = { args: 'CMD [ARG...]', passThrough: true, runFlags: arity, image: 'option' };

    it('splits own options, docker-run flags and the command untouched', async () => {
      const r = await run(exec, ['-e', 'FOO=1', '--image', 'img', '-it', '--gpus', 'all', '-h', 'box', 'python3', '-e', 'x', '--image', 'y']);
      expect(r.code).toBe(0);
      expect(r.calls[0].runArgs).toEqual(['-e', 'FOO=1', '-it', '--gpus', 'all', '-h', 'box']);
      expect(r.calls[0].positionals).toEqual(['python3', '-e', 'x', '--image', 'y']);
      expect(r.calls[0].image).toBe('img');
    });

    it('an unsupported flag is the parser\'s one-line exit 2; a flag missing its value too', async () => {
      const bad = await run(exec, ['--bogus', 'ls']);
      expect(bad.code).toBe(2);
      expect(oneLine(bad.stderr)).toBe('fake: command line: --bogus is not supported');
      const short = await run(exec, ['-e']);
      expect(short.code).toBe(2);
      expect(oneLine(short.stderr)).toContain('-e needs a value');
    });

    it('--help stays long only (-h is docker run\'s --hostname) and states docker run\'s exit codes', async () => {
      const r = await run(exec, ['--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: fake \[OPTIONS\] \[DOCKER RUN FLAGS\] CMD \[ARG\.\.\.\]\n/);
      expect(r.stdout).not.toMatch(/-h, --help/);
      expect(r.stdout).toContain('125 the Engine refused the container, 126 the command cannot be invoked, 127 the command was not found');
    });
  });

  it('refuses conflicting options with one line naming both', async () => {
    const r = await run({ ...spec, json: true, conflicts: [['json', 'verbose']] }, ['--json', '-v']);
    expect(r.code).toBe(2);
    expect(r.calls).toHaveLength(0);
    expect(oneLine(r.stderr)).toBe('fake: --json and --verbose conflict: give at most one');
    expect((await run({ ...spec, json: true, conflicts: [['json', 'verbose']] }, ['--json'])).code).toBe(0);
  });

  it('--json is accepted with --version by commands that print no data, and refused alone', async () => {
    const r = await run({ ...spec, engineVersion: async () => '1.41' }, ['--version', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ command: 'fake', engineApi: '1.41' });
    const alone = await run(spec, ['--json']);
    expect(alone.code).toBe(2);
    expect(oneLine(alone.stderr)).toBe('fake: --json goes with --version here: this command prints no data');
  });

  it('--version prints the version without running; --json adds Node and the Engine API', async () => {
    const r = await run(spec, ['--version']);
    expect(r.code).toBe(0);
    expect(r.calls).toHaveLength(0);
    expect(r.stdout).toMatch(/^fake \(imagewright\) \d+\.\d+\.\d+\n$/);
    const json = await run({ ...spec, json: true, engineVersion: async () => '1.99' }, ['--version', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ command: 'fake', node: process.versions.node, engineApi: '1.99' });
    const down = await run({ ...spec, json: true, engineVersion: async () => { throw new Error('no engine'); } }, ['--version', '--json']);
    expect(down.code).toBe(0);
    expect(JSON.parse(down.stdout)).toMatchObject({ engineApi: null, engineError: 'no engine' });
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
