#!/usr/bin/env -S node --
import { command, DERIVED_NAMES, INPUTS, INPUT_NAMES, toExports } from '@imagewright/core/bin';

command({
  name: 'image-env',
  summary: 'Print the resolved configuration: setup-env inputs and the values derived from them.',
  description: `
Human table by default; --json for tools (every name, null when unset); --export for
\`eval "$(image-env --export)"\` (what setup-env does). When the config is invalid, --export
still prints \`unset\` of every derived value, so an eval leaves none from an earlier config.`,
  config: 'lazy',
  json: true,
  conflicts: [['json', 'export']],
  options: { export: { type: 'boolean', description: 'print shell export lines' } },
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  run(ctx) {
    const { values, out } = ctx;
    let config;
    try {
      config = ctx.loaded.config;
    } catch (error) {
      if (values.export) out.line(`unset ${DERIVED_NAMES.join(' ')}`);
      throw error;
    }
    if (values.export) return out.line(toExports(config));
    const names = [...INPUT_NAMES, ...DERIVED_NAMES];
    if (out.json) return out.printJson(Object.fromEntries(names.map((key) => [key, config[key] ?? null])));
    const rows = names.map((key) => [key, config[key] ?? '', key in INPUTS ? INPUTS[key as keyof typeof INPUTS].help : 'derived']);
    out.table(['NAME', 'VALUE', 'MEANING'], rows);
  },
});
