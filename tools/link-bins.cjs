// Links every package's bin into ./bin (what setup-env puts on PATH): only imagewright's
// commands, not the whole of node_modules/.bin.
const { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } = require('node:fs');
const { join, relative } = require('node:path');

const root = join(__dirname, '..');
const binDir = join(root, 'bin');
mkdirSync(binDir, { recursive: true });
for (const name of readdirSync(binDir)) rmSync(join(binDir, name));
for (const pkgName of readdirSync(join(root, 'packages')).sort()) {
  const file = join(root, 'packages', pkgName, 'package.json');
  if (!existsSync(file)) continue;
  const bins = JSON.parse(readFileSync(file, 'utf8')).bin ?? {};
  for (const [name, target] of Object.entries(bins)) {
    symlinkSync(relative(binDir, join(root, 'packages', pkgName, target)), join(binDir, name));
  }
}
