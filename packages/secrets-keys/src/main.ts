#!/usr/bin/env -S node --
import { command, usageError } from '@imagewright/core/bin';
import { engineVersion, FILE_DEFAULT, INPUT_TYPE_OPTION, inputType, secretsFileArg } from '@imagewright/secrets/command';

command({
  name: 'secrets-keys',
  summary: "List a secrets file's recipients; add or remove one (the data key re-wrapped); rotate the data key.",
  args: '[FILE]',
  positionals: { max: 1 },
  description: `
${FILE_DEFAULT}
Without options: the recipients per key group (age public keys, KMS key ARNs with their role and
context), read from the file's metadata: no key is needed to list them.
--add and --remove RECIPIENT (age1… or arn:aws:kms:…[+arn:aws:iam::…:role/…], repeatable) change who
can open the file: the data key is unwrapped with your identity and wrapped for the new recipients;
values, MAC and ciphertext stay as they are (sops updatekeys). Additions go to key group 1, or --group N.
--rotate makes a new data key and re-encrypts every value for the same recipients (after removing
someone, rotate: they may have kept the old key). A change is committed in the file's repository
unless --no-commit. --json: {file, groups: [[{type, recipient | arn, role, context}]], shamirThreshold}.`,
  config: 'lazy',
  json: true,
  options: {
    add: { type: 'string', multiple: true, value: 'RECIPIENT', description: 'wrap the data key for this recipient too' },
    remove: { type: 'string', multiple: true, value: 'RECIPIENT', description: 'drop this recipient' },
    group: { type: 'string', value: 'N', description: 'the key group --add adds to (default 1)' },
    rotate: { type: 'boolean', description: 'a new data key; every value re-encrypted' },
    'no-commit': { type: 'boolean', description: 'write the file but do not commit it' },
    'input-type': INPUT_TYPE_OPTION,
  },
  engineVersion,
  async run(ctx) {
    const { resolve } = require('node:path') as typeof import('node:path');
    const secrets = require('@imagewright/secrets') as typeof import('@imagewright/secrets');
    const { env, out, values } = ctx;
    const add = ((values.add as string[] | undefined) ?? []).map((r) => secrets.parseRecipient(r, '--add'));
    const remove = ((values.remove as string[] | undefined) ?? []).map((r) => secrets.parseRecipient(r, '--remove'));
    let group: number | undefined;
    if (values.group !== undefined) {
      if (!/^[1-9]\d*$/.test(values.group as string)) throw usageError(`--group ${JSON.stringify(values.group)}: allowed a key group number from 1`);
      if (!add.length) throw usageError('--group: allowed only with --add');
      group = Number(values.group) - 1;
    }
    const target = resolve(secretsFileArg(ctx));
    const format = inputType(ctx) ?? secrets.formatOf(target);
    const changing = add.length || remove.length || values.rotate;
    if (!changing) {
      const { doc } = secrets.readSecrets(target, format);
      const groups = secrets.recipientsOf(doc.metadata);
      if (out.json) {
        out.printJson({ file: target, groups, ...(doc.metadata.shamirThreshold ? { shamirThreshold: doc.metadata.shamirThreshold } : {}) });
        return 0;
      }
      out.table(
        ['GROUP', 'TYPE', 'RECIPIENT', 'ROLE', 'CONTEXT'],
        groups.flatMap((g, i) =>
          g.map((r) => [String(i + 1), r.type, r.type === 'age' ? r.recipient : r.arn, (r.type === 'kms' && r.role) || '-', r.type === 'kms' && r.context ? Object.entries(r.context).map(([k, v]) => `${k}=${v}`).join(',') : '-']),
        ),
      );
      if (doc.metadata.shamirThreshold) out.info(`secrets-keys: ${doc.metadata.shamirThreshold} of ${groups.length} key groups open the file`);
      return 0;
    }
    const file = await secrets.openSecrets(target, { env, format });
    const done: string[] = [];
    if (add.length || remove.length) {
      const { added, removed } = await secrets.changeRecipients(file, { add, remove, group }, env);
      done.push(...added.map((r) => `+${secrets.describeRecipient(r)}`), ...removed.map((r) => `-${secrets.describeRecipient(r)}`));
    }
    if (values.rotate) {
      await secrets.rotateDataKey(file, env);
      done.push('rotated the data key');
    }
    const { shamirThreshold } = file.doc.metadata;
    if (out.json) out.printJson({ file: target, groups: secrets.recipientsOf(file.doc.metadata), ...(shamirThreshold ? { shamirThreshold } : {}), changes: done });
    if (!done.length) {
      out.info(`secrets-keys: ${file.name}: no change (every recipient to add is there already)`);
      return 0;
    }
    out.info(`secrets-keys: ${file.name}: ${done.join(', ')}`);
    if (values['no-commit']) return 0;
    const { commitEdit } = require('@imagewright/secrets/edit') as typeof import('@imagewright/secrets/edit');
    out.info(`secrets-keys: ${await commitEdit(target, (inRepo) => `secrets: keys of ${inRepo}: ${done.join(', ')}`, env)}`);
    return 0;
  },
});
