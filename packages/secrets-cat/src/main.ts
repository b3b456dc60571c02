#!/usr/bin/env -S node --
import { command, usageError } from '@imagewright/core/bin';
import { engineVersion, FILE_DEFAULT, INPUT_TYPE_OPTION, inputType, secretsFileArg } from '@imagewright/secrets/command';

const OUTPUT = ['yaml', 'json', 'dotenv'] as const;

command({
  name: 'secrets-cat',
  summary: 'Decrypt a secrets file to stdout, for pipes (secrets-cat | helm upgrade … -f -).',
  args: '[FILE]',
  positionals: { max: 1 },
  description: `
${FILE_DEFAULT} The plaintext goes to stdout only, never to a file.
The MAC is checked: a value changed without the data key, or a key added or dropped, is exit 1
naming the file. Identities as sops finds them: SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, SOPS_AGE_KEY_CMD,
then ~/.config/sops/age/keys.txt ($XDG_CONFIG_HOME); KMS keys through the AWS SDK's credentials.
--extract PATH prints one value or subtree, in sops' syntax: '["stringData"]["token"]' or '["users"][0]'.
--format yaml|json|dotenv prints the plaintext in that format (dotenv: a flat map only).`,
  config: 'lazy',
  options: {
    extract: { type: 'string', value: 'PATH', description: `one value or subtree, e.g. '["proxy"]["secretToken"]'` },
    format: { type: 'string', value: 'FORMAT', description: `print as ${OUTPUT.join(', ')} (default the file's own format)` },
    'input-type': INPUT_TYPE_OPTION,
  },
  engineVersion,
  async run(ctx) {
    const secrets = require('@imagewright/secrets') as typeof import('@imagewright/secrets');
    const to = ctx.values.format as string | undefined;
    if (to !== undefined && !(OUTPUT as readonly string[]).includes(to)) throw usageError(`--format ${JSON.stringify(to)}: allowed ${OUTPUT.join(', ')}`);
    const extractPath = ctx.values.extract as string | undefined;
    const path = extractPath === undefined ? undefined : secrets.parseExtractPath(extractPath);
    const file = await secrets.openSecrets(secretsFileArg(ctx), { env: ctx.env, format: inputType(ctx) });
    let text: string | Buffer;
    if (path) text = secrets.writeExtracted(secrets.extract(file.plain, path), (to as typeof OUTPUT[number] | undefined) ?? file.format);
    else if (to && to !== file.format) text = secrets.convertPlain(file.plain, to as typeof OUTPUT[number]);
    else text = secrets.plainOf(file);
    ctx.out.stdout.write(text);
    return 0;
  },
});
