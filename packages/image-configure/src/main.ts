#!/usr/bin/env -S node --
import { command, shownPath } from '@imagewright/core/bin';

command({
  name: 'image-configure',
  summary: 'Write ./setup-env for a deployment from tools/setup-env.template (as CI does), then print it.',
  args: 'DEPLOYMENT',
  positionals: { min: 1, max: 1 },
  description:
    'PERSONAL_IMAGE defaults to 1 (un-prefixed image IDs, as the original forced for CI). An existing\n' +
    'file with other content is kept as <file>.bak. Flags set the matching setup-env inputs.',
  options: {
    'use-frozen': { type: 'string', value: 'N', description: 'USE_FROZEN: 0 floating, 1 frozen, 2 chilled (default 1)' },
    environment: { type: 'string', value: 'ENV', description: 'ENVIRONMENT: sandbox, dev, test or prod' },
    'image-tag': { type: 'string', value: 'TAG', description: 'IMAGE_TAG' },
    registry: { type: 'string', value: 'HOST', description: 'REGISTRY (a non-ECR registry host)' },
    personal: { type: 'string', value: '0|1', description: 'PERSONAL_IMAGE (default 1)' },
    output: { type: 'string', short: 'o', value: 'FILE', description: 'where to write (default ./setup-env)' },
  },
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  run({ values, positionals, out, env }) {
    const { configureSetupEnv } = require('@imagewright/core') as typeof import('@imagewright/core');
    const flag = (name: string) => values[name] as string | undefined;
    const result = configureSetupEnv({
      deployment: positionals[0],
      inputs: {
        USE_FROZEN: flag('use-frozen'),
        ENVIRONMENT: flag('environment'),
        IMAGE_TAG: flag('image-tag'),
        REGISTRY: flag('registry'),
        PERSONAL_IMAGE: flag('personal') ?? '1',
      },
      output: flag('output') ?? 'setup-env',
      env,
    });
    out.status('written', shownPath(result.path), result.backup && `previous kept as ${shownPath(result.backup)}`);
    out.line(result.content.trimEnd());
  },
});
