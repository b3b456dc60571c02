#!/usr/bin/env -S node --
import { command, usageError } from '@imagewright/core/bin';

command({
  name: 'image-delete',
  summary: 'Delete images from the registry by tag or digest (IMAGE_REPO); --untagged: every untagged manifest.',
  args: '[TAG|DIGEST...]',
  positionals: { max: Infinity },
  description: `
It first prints exactly what goes: each manifest with every tag that goes with it. Nothing is
deleted unless every TAG and DIGEST exists. ECR deletes by tag (untags; a manifest goes with its
last tag) or by digest. Other registries speak the distribution API, which cannot remove a tag
alone: a tag's manifest and all its tags go. A manifest that a tag not named still points to
(directly or through a tagged manifest list) is refused unless --force.
--untagged needs a registry that lists untagged manifests (ECR); it keeps those that a tagged
manifest list still needs.`,
  config: true,
  json: true,
  options: {
    untagged: { type: 'boolean', description: 'also delete every untagged manifest of the repository (ECR)' },
    'dry-run': { type: 'boolean', description: 'print what would be deleted; delete nothing' },
    force: { type: 'boolean', description: 'delete manifests that tags not named still point to' },
  },
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run({ positionals, values, loaded, env, out }) {
    // The original printed its usage and exited 0 here.
    if (!positionals.length && !values.untagged) throw usageError('nothing to delete: name TAG or DIGEST arguments, or --untagged: usage: image-delete [OPTIONS] [TAG|DIGEST...]');
    // Loaded here, not at the top: --help and usage errors never pay for the registry clients.
    const registries = require('@imagewright/registry') as typeof import('@imagewright/registry');
    const targets = registries.checkTargets(positionals);
    const { config } = loaded;
    const registry = registries.openRegistry(config, env);
    const plan = await registries.planDelete(registry, config.IMAGE_REPO, targets, { untagged: Boolean(values.untagged), force: Boolean(values.force) });
    const dryRun = Boolean(values['dry-run']);
    // What goes is shown before anything goes (on stderr with --json, which prints at the end).
    const show = out.json ? out.info : out.line;
    for (const line of registries.planLines(plan)) show(line);
    for (const line of registries.keptLines(plan)) out.info(line);
    const count = plan.manifests.length + plan.tags.length;
    if (!dryRun && count) await registries.executeDelete(registry, plan);
    if (out.json) {
      const { registry: host, repository, manifests, tags, kept } = plan;
      return out.printJson({ registry: host, repository, dryRun, manifests: manifests.map(({ digest, tags: t }) => ({ digest, tags: t })), tags: tags.map(({ tag, digest }) => ({ tag, digest })), kept });
    }
    const counted = (n: number, noun: string) => (n ? [`${n} ${noun}${n === 1 ? '' : 's'}`] : []);
    const what = [...counted(plan.manifests.length, 'manifest'), ...counted(plan.tags.length, 'tag')].join(' and ');
    if (!count) out.info(`nothing to delete in ${plan.registry}/${plan.repository}`);
    else out.info(dryRun ? `dry run: would delete ${what}; nothing deleted` : `deleted ${what}`);
  },
});
