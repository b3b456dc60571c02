#!/usr/bin/env -S node --
import { command } from '@imagewright/core/bin';
import { PATCH_DESCRIPTION, PATCH_SPEC } from '@imagewright/patch/command';

command({
  name: 'patch-ssl',
  summary: "Install a CA bundle into an image's trust store without a rebuild.",
  args: 'CERT_FILE|auto',
  positionals: { min: 1, max: 1 },
  description: `CERT_FILE is a PEM file of CA certificates; auto takes this host's bundle
(/etc/ssl/certs/ca-certificates.crt and the usual other places). Its certificates go to
/usr/local/share/ca-certificates/imagewright/ (one per file, replacing an earlier patch-ssl's) and
the whole bundle to /etc/ssl/certs/imagewright-ca-bundle.pem; then the image's certificate hook
/opt/common-scripts/fix-certs runs when present, update-ca-certificates otherwise (an image with
neither fails). --description defaults to "SSL cert update.".
${PATCH_DESCRIPTION}`,
  ...PATCH_SPEC,
  async run(ctx) {
    const patch = require('@imagewright/patch') as typeof import('@imagewright/patch');
    const { runPatch } = require('@imagewright/patch/command') as typeof import('@imagewright/patch/command');
    const bundle = patch.readCaBundle(ctx.positionals[0]);
    ctx.out.info(`CA bundle ${bundle.file}: ${bundle.certificates} certificate(s)`);
    await runPatch(ctx, {
      command: 'patch-ssl',
      script: patch.caBundleInstall(),
      files: [{ name: patch.CA_BUNDLE, body: bundle.body }],
      description: 'SSL cert update.',
    });
  },
});
