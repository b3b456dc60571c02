#!/usr/bin/env -S node --
import { command, usageError } from '@imagewright/core/bin';

command({
  name: 'crosslink',
  summary: 'Find files with the same content under directories and, with --link, make the copies hard links to one file.',
  args: 'DIR...',
  positionals: { min: 1, max: Infinity },
  description: `
For use inside a container or on an unpacked root filesystem (the original ran it on /opt/conda
before a squash). Regular files only: symlinks are not followed, and a directory on another
filesystem than its DIR (a mount point) is not entered. Files are keyed by sha256 and size; only
files whose size another file shares are read. Paths that already share an inode count once.

The survey prints, as the original did, the bytes the files take now (unsquashed: every distinct
inode) and with every copy linked (squashed: every distinct content); --json gives exact bytes.

--link: for each content, the first path in sorted walk order is the master; every path of
every other inode becomes a hard link to it, made under a temporary name in the same directory
and renamed over the path (a path is never missing). Left alone, and counted:
  not linked: metadata differs   mode, owner or group differ from the master's (the original
                                 gave them the master's silently);
  not linked: other filesystem   a hard link cannot cross filesystems;
  not linked: changed            the file changed since the survey.
Linked copies take the master's mtime. Empty files are never linked (nothing to save). Bytes
saved counts inodes none of whose links is left. A link that fails is named on stderr (the copy
stays as it was) and the exit code is 1.`,
  json: true,
  options: {
    link: { type: 'boolean', description: 'replace copies with hard links to the first one' },
    'show-links': { type: 'boolean', description: 'with --link: print "Re-linking PATH --> MASTER" for each link' },
  },
  engineVersion: (env) => (require('@imagewright/docker') as typeof import('@imagewright/docker')).engineApiVersion(env),
  async run({ values, positionals, out }) {
    // Loaded here, not at the top: --help and usage errors stay cheap.
    const { crosslink, crosslinkSize, pyCenter, surveyDirs } = require('@imagewright/image') as typeof import('@imagewright/image');
    if (values['show-links'] && !values.link) throw usageError('--show-links goes with --link');
    const survey = await surveyDirs(positionals);
    for (const path of survey.otherFilesystems) out.info(`not entered (another filesystem): ${path}`);
    for (const line of survey.unreadable) out.info(`unreadable: ${line}`);
    const copies = survey.groups.reduce((sum, g) => sum + g.inodes.length - 1, 0);
    const surveyJson = {
      dirs: survey.dirs,
      files: survey.files,
      inodes: survey.inodes,
      unsquashed: survey.unsquashed,
      squashed: survey.squashed,
      duplicates: { contents: survey.groups.length, copies, bytes: survey.unsquashed - survey.squashed },
      otherFilesystems: survey.otherFilesystems,
      unreadable: survey.unreadable,
    };
    if (!out.json) {
      out.line(`Analyzing: ${survey.dirs.join(' ')}`);
      out.line(pyCenter('before squashing', 30, '-'));
      out.line('-'.repeat(60));
      out.line(`Unsquashed total: ${crosslinkSize(survey.unsquashed)}   Squashed total: ${crosslinkSize(survey.squashed)}`);
    }
    if (!values.link) {
      if (out.json) out.printJson(surveyJson);
      return;
    }
    if (!out.json) out.line(pyCenter('Cross-linking', 30, '-'));
    const links: { path: string; master: string }[] = [];
    const report = await crosslink(survey, {
      onLink: (path, master) => {
        if (!values['show-links']) return;
        if (out.json) links.push({ path, master });
        else out.line(`Re-linking ${path} --> ${master}`);
      },
    });
    for (const { path, error } of report.failed) out.info(`link failed: ${path}: ${error}`);
    const { metadata, otherFilesystem, changed } = report.notLinked;
    if (out.json) {
      out.printJson({
        ...surveyJson,
        link: {
          linked: report.linked,
          inodesFreed: report.inodesFreed,
          saved: report.saved,
          notLinked: { metadata, otherFilesystem, changed },
          failed: report.failed,
          ...(values['show-links'] ? { links } : {}),
        },
      });
    } else {
      out.line(`Bytes saved ${crosslinkSize(report.saved)}`);
      out.line(`linked: ${report.linked} files; freed: ${report.inodesFreed} inodes, ${report.saved} bytes`);
      out.line(`not linked: metadata differs: ${metadata.length} files`);
      if (otherFilesystem.length) out.line(`not linked: other filesystem: ${otherFilesystem.length} files`);
      if (changed.length) out.line(`not linked: changed: ${changed.length} files`);
      if (report.failed.length) out.line(`link failed: ${report.failed.length} files`);
    }
    return report.failed.length ? 1 : 0;
  },
});
