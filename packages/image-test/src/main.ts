#!/usr/bin/env -S node --
import { command, formatElapsed, usageError } from '@imagewright/core/bin';

command({
  name: 'image-test',
  summary: "Run the image's environment tests (/opt/environments/test) in a fresh container of IMAGE_ID.",
  description: `
For each environment with a tests/ folder: import every module of tests/imports (a line starting
with # is skipped whole), run tests/notebooks and the *.ipynb and *.py files under tests/. One
line per item as it finishes, the last lines of a failing item's output under it, then a summary.
An environment without tests/ is reported as skipped, not failed. IMAGE_RUN_PARS flags apply.
Exit 0 when all passed, 1 when any failed, 2 for usage or config errors (an unknown --env).
--json prints {image, passed, failed, skipped, seconds, results: [{environment, item, kind,
result, seconds}]} at the end instead of the lines.`,
  config: true,
  image: 'option',
  json: true,
  options: {
    env: { type: 'string', multiple: true, value: 'NAME', description: 'test only environment NAME (repeatable)' },
    timeout: { type: 'string', value: 'SECONDS', description: 'fail an item that runs longer than SECONDS' },
  },
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run({ values, out, env, image, loaded: { config } }) {
    // Any transport: archives and OCI layouts are loaded into the Engine first.
    image = await (require('@imagewright/image') as typeof import('@imagewright/image')).engineRef(image, { env });
    const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
    if (timeout !== undefined && !(Number.isInteger(timeout) && timeout > 0)) {
      throw usageError(`--timeout ${JSON.stringify(values.timeout)}: allowed a whole number of seconds > 0`);
    }
    const docker = require('@imagewright/docker') as typeof import('@imagewright/docker');
    const { runImageTests, formatTestResult } = require('@imagewright/environments') as typeof import('@imagewright/environments');
    const engine = await docker.connectEngine(env);
    // On a terminal the running item shows on one status line, replaced by its result.
    const status = out.tty && !out.json && out.stderr.isTTY;
    const clear = () => status && out.stderr.write('\r\x1b[K');
    const report = await runImageTests(engine, image, {
      environments: values.env as string[] | undefined,
      flags: docker.parseRunFlags(config.IMAGE_RUN_PARS, { env }),
      timeout,
      onStart: status ? (environment, item) => out.stderr.write(`\r\x1b[K${out.dim(`[${environment}] ${item} ...`)}`) : undefined,
      onResult: out.json
        ? undefined
        : (result) => {
            clear();
            formatTestResult(result, out).forEach((l) => out.line(l));
          },
      onOther: out.json ? undefined : (line) => out.info(line),
    });
    clear();
    if (out.json) {
      out.printJson({ ...report, results: report.results.map(({ output: _output, ...r }) => r) });
    } else {
      const counts = `${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped in ${formatElapsed(report.seconds)}`;
      out.line(report.failed ? out.red(`image-test: ${counts}`) : `image-test: ${counts}`);
    }
    return report.failed > 0 ? 1 : 0;
  },
});
