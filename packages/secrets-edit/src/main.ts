#!/usr/bin/env -S node --
import { command, usageError } from '@imagewright/core/bin';
import { engineVersion, FILE_DEFAULT, INPUT_TYPE_OPTION, inputType, secretsFileArg } from '@imagewright/secrets/command';

command({
  name: 'secrets-edit',
  summary: 'Edit a secrets file in your editor: decrypted to a private temp file, re-encrypted and committed when something changed.',
  args: '[FILE]',
  positionals: { max: 1 },
  description: `
${FILE_DEFAULT}
The plaintext goes to a 0600 file in a private (0700) temp directory, opened with $VISUAL, else
$EDITOR, else vi. When the editor exits 0 and something changed, the file is re-encrypted with the
same data key: values you did not touch keep their ciphertext byte for byte (a reviewable diff),
changed ones get new IVs, the MAC is renewed; then git add + commit in the file's repository
("secrets: edit <file>", or -m). Nothing changed: no write, no commit, exit 0. The editor exiting
non-zero or killed changes nothing (exit 1). The plaintext file is removed on exit, on error and on
SIGINT, SIGTERM and SIGHUP.
A FILE that does not exist yet is made from what you write, for the recipients of the .sops.yaml
creation rule that matches it (found from the file's folder upwards, as sops does) or --recipient.`,
  config: 'lazy',
  options: {
    message: { type: 'string', short: 'm', value: 'MESSAGE', description: 'the commit message (default "secrets: edit <file>")' },
    'no-commit': { type: 'boolean', description: 'write the file but do not commit it' },
    recipient: { type: 'string', multiple: true, value: 'RECIPIENT', description: 'a new file: an age public key or KMS key ARN (instead of .sops.yaml)' },
    'input-type': INPUT_TYPE_OPTION,
  },
  engineVersion,
  async run(ctx) {
    const { existsSync, statSync } = require('node:fs') as typeof import('node:fs');
    const { dirname, resolve } = require('node:path') as typeof import('node:path');
    const secrets = require('@imagewright/secrets') as typeof import('@imagewright/secrets');
    const { editInPrivate, commitEdit } = require('@imagewright/secrets/edit') as typeof import('@imagewright/secrets/edit');
    const { env, out } = ctx;
    const message = ctx.values.message as string | undefined;
    if (message !== undefined && !message.trim()) throw usageError('--message is empty: allowed a commit message');
    const target = resolve(secretsFileArg(ctx));
    const format = inputType(ctx) ?? secrets.formatOf(target);
    const recipients = ((ctx.values.recipient as string[] | undefined) ?? []).map((r) => secrets.parseRecipient(r, '--recipient'));
    const exists = existsSync(target);
    if (exists && recipients.length) throw usageError(`--recipient: ${target} exists: allowed for a new file only (secrets-keys --add changes recipients)`);
    const file = exists ? await secrets.openSecrets(target, { env, format }) : undefined;
    if (!file && (!existsSync(dirname(target)) || !statSync(dirname(target)).isDirectory())) {
      throw usageError(`${dirname(target)}: no such folder: allowed a FILE in an existing folder (secrets-clone makes the secrets folder)`);
    }
    // A new file's recipients found and its data key wrapped before the editor opens: what fails
    // for want of keys (no rule, a .sops.yaml that does not match, KMS refusing) fails before anything is typed.
    const fresh = file ? undefined : await secrets.newSecrets(target, { env, format, groups: recipients.length ? [recipients] : undefined });
    const initial = file ? secrets.plainOf(file) : Buffer.alloc(0);
    const edited = await editInPrivate(target, initial, env);
    let name: string;
    if (file) {
      if (!secrets.saveEdited(file, edited).changed) {
        out.info(`secrets-edit: ${file.name}: no changes; nothing re-encrypted or committed`);
        return 0;
      }
      name = file.name;
    } else {
      if (!edited.length) {
        out.info(`secrets-edit: ${fresh!.name}: nothing written; no file made`);
        return 0;
      }
      name = secrets.writeNewSecrets(fresh!, edited).name;
    }
    out.info(`secrets-edit: ${name}: ${file ? 're-encrypted' : 'encrypted (a new file)'}`);
    if (ctx.values['no-commit']) return 0;
    out.info(`secrets-edit: ${await commitEdit(target, message, env)}`);
    return 0;
  },
});
