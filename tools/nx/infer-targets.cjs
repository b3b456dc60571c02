// Local Nx plugin: every packages/<name>/ gets its targets from the files it has, so a package is
// just package.json + tsconfig.json (one `extends` line) + src/. Shared settings live at the top.
//   build: tsc, when tsconfig.json exists (bins are made executable: they run compiled JS)
//   test:  vitest, when the package has *.test.ts files
const { existsSync, readdirSync, readFileSync } = require('node:fs');
const { dirname, join } = require('node:path');

function hasTests(dir) {
  if (!existsSync(dir)) return false;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory() && entry.name !== 'node_modules' && entry.name !== 'dist') {
      if (hasTests(join(dir, entry.name))) return true;
    } else if (entry.name.endsWith('.test.ts')) return true;
  }
  return false;
}

function targetsFor(root, workspaceRoot) {
  const abs = join(workspaceRoot, root);
  const pkg = JSON.parse(readFileSync(join(abs, 'package.json'), 'utf8'));
  const targets = {};
  if (existsSync(join(abs, 'tsconfig.json'))) {
    const bins = Object.values(typeof pkg.bin === 'string' ? { [pkg.name]: pkg.bin } : pkg.bin ?? {});
    const commands = ['tsc -p tsconfig.json'];
    if (bins.length) commands.push(`chmod +x ${bins.join(' ')}`);
    targets.build = {
      command: commands.join(' && '),
      options: { cwd: root },
      cache: true,
      dependsOn: ['^build'],
      inputs: ['production', '^production'],
      outputs: ['{projectRoot}/dist'],
    };
  }
  if (hasTests(join(abs, 'src'))) {
    targets.test = {
      command: 'vitest run --config ../../vitest.config.ts --root .',
      options: { cwd: root },
      // Tests talk to a live engine and registry: a cached "pass" would hide a broken machine.
      cache: false,
      dependsOn: ['build'],
    };
  }
  return targets;
}

const createNodesV2 = [
  'packages/*/package.json',
  (files, _options, context) =>
    files.map((file) => {
      const root = dirname(file);
      return [file, { projects: { [root]: { targets: targetsFor(root, context.workspaceRoot) } } }];
    }),
];

module.exports = { name: 'imagewright-infer-targets', createNodesV2, createNodes: createNodesV2 };
