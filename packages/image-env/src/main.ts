#!/usr/bin/env node
import { command, DERIVED_NAMES, INPUTS, INPUT_NAMES, toExports } from '@imagewright/core';

command({
  name: 'image-env',
  summary: 'Print the resolved configuration: setup-env inputs and the values derived from them.',
  description: 'Human table by default; --json for tools; --export for `eval "$(image-env --export)"`.',
  config: true,
  json: true,
  options: { export: { type: 'boolean', description: 'print shell export lines' } },
  run({ values, out, loaded: { config } }) {
    if (values.export) return out.line(toExports(config));
    if (out.json) return out.printJson(config);
    const rows = [...INPUT_NAMES, ...DERIVED_NAMES].map((key) => [
      key,
      config[key] ?? '',
      key in INPUTS ? INPUTS[key as keyof typeof INPUTS].help : 'derived',
    ]);
    out.table(['NAME', 'VALUE', 'MEANING'], rows);
  },
});
