import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_ROOT, DeploymentTree, parseDeploymentSpec } from './deployment';
import { thrown } from './test-support';

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** A checkout made of the given folders and files (paths relative to the root). */
function checkout(dirs: string[], files: Record<string, string> = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'imagewright-tree-'));
  temps.push(root);
  for (const dir of dirs) mkdirSync(join(root, dir), { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}


describe('DeploymentTree', () => {
  const root = checkout(
    [
      'deployments/common/image/common-scripts',
      'deployments/roman/image/environments/roman-cal',
      'deployments/roman/image/environments/tess',
      'deployments/roman/image/environments/frozen',
      'deployments/roman/image/environments/env-frozen',
      'deployments/roman/image/environments/env-chilly',
      'deployments/jwebbinar/image',
      'deployments/docs-only', // no image/: not a deployment
    ],
    {
      'deployments/roman/image/Dockerfile.custom': 'FROM common\n',
      'deployments/roman/image/environments/README.md': 'not a folder\n',
      'deployments/stray-file': '',
      'deployments/tike/deployment.yaml': 'root:\n  image: x/tike:root\n  pull: true\n',
      'deployments/tike/image/environments/base/base.yml': '',
    },
  );
  const tree = new DeploymentTree(root);

  it('lists deployments with an image/ folder, common excluded, sorted', () => {
    expect(tree.names()).toEqual(['jwebbinar', 'roman', 'tike']);
  });

  it('lists environment folders, frozen specs and files excluded', () => {
    expect(tree.deployment('roman').environments).toEqual(['roman-cal', 'tess']);
    expect(tree.deployment('jwebbinar').environments).toEqual([]);
  });

  it('describes a deployment without deployment.yaml with the default root', () => {
    const d = tree.deployment('roman');
    expect(d.dir).toBe(join(root, 'deployments', 'roman'));
    expect(d.imageDir).toBe(join(root, 'deployments', 'roman', 'image'));
    expect(d.dockerfile).toBe(join(d.imageDir, 'Dockerfile'));
    expect(d.dockerfileCustom).toBe(join(d.imageDir, 'Dockerfile.custom'));
    expect(d.environmentsDir).toBe(join(d.imageDir, 'environments'));
    expect(d.spec).toEqual({ root: DEFAULT_ROOT });
    expect(d.specFile).toBeUndefined();
    expect(tree.deployment('jwebbinar').dockerfileCustom).toBeUndefined();
  });

  it('reads deployment.yaml when present', () => {
    const d = tree.deployment('tike');
    expect(d.specFile).toBe(join(root, 'deployments', 'tike', 'deployment.yaml'));
    expect(d.spec).toEqual({ root: { image: 'x/tike:root', source: { kind: 'pull' } } });
  });

  it('refuses an unknown deployment, listing the known ones', () => {
    for (const name of ['nope', 'common', 'docs-only']) {
      const e = thrown(() => tree.deployment(name));
      expect(e.exitCode).toBe(2);
      expect(e.message).toContain(JSON.stringify(name));
      expect(e.message).toContain('jwebbinar, roman, tike');
    }
  });

  it('finds the common image', () => {
    const c = tree.common();
    expect(c.dir).toBe(join(root, 'deployments', 'common', 'image'));
    expect(c.dockerfile).toBe(join(c.dir, 'Dockerfile'));
    expect(c.trailer).toBe(join(c.dir, 'Dockerfile.trailer'));
    expect(c.scriptsDir).toBe(join(c.dir, 'common-scripts'));
  });

  it('handles a checkout without deployments', () => {
    const empty = new DeploymentTree(checkout(['deployments']));
    expect(empty.names()).toEqual([]);
    expect(thrown(() => empty.common()).exitCode).toBe(2);
    expect(thrown(() => empty.deployment('x')).message).toContain('(none)');
  });
});

describe('parseDeploymentSpec', () => {
  const parse = (text: string) => parseDeploymentSpec(text, 'dep.yaml');
  const refused = (text: string) => {
    const e = thrown(() => parse(text));
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain('dep.yaml');
    return e.message;
  };

  it('defaults to the debootstrap root for an empty file or no root', () => {
    expect(parse('')).toEqual({ root: DEFAULT_ROOT });
    expect(parse('# nothing\n')).toEqual({ root: DEFAULT_ROOT });
    expect(parse('{}\n')).toEqual({ root: DEFAULT_ROOT });
  });

  it('fills debootstrap defaults when only the image is given', () => {
    expect(parse('root:\n  image: me/root:1\n')).toEqual({ root: { image: 'me/root:1', source: DEFAULT_ROOT.source } });
  });

  it('reads debootstrap fields', () => {
    const spec = parse(
      [
        'root:',
        '  image: me/root:trixie',
        '  debootstrap:',
        '    suite: trixie',
        '    variant: buildd',
        '    mirror: http://mirror.example/debian',
        '    include: [ca-certificates, libstdc++6, g++-12]',
      ].join('\n'),
    );
    expect(spec.root).toEqual({
      image: 'me/root:trixie',
      source: { kind: 'debootstrap', suite: 'trixie', variant: 'buildd', mirror: 'http://mirror.example/debian', include: ['ca-certificates', 'libstdc++6', 'g++-12'] },
    });
  });

  it('reads pull: true', () => {
    expect(parse('root:\n  image: ubuntu:24.04\n  pull: true\n')).toEqual({ root: { image: 'ubuntu:24.04', source: { kind: 'pull' } } });
  });

  it('refuses unknown keys, naming them', () => {
    expect(refused('roots:\n  image: x\n')).toContain('(top).roots');
    expect(refused('root:\n  image: x\n  tag: y\n')).toContain('root.tag');
    expect(refused('root:\n  image: x\n  debootstrap:\n    suites: trixie\n')).toContain('root.debootstrap.suites');
  });

  it('refuses both pull and debootstrap', () => {
    expect(refused('root:\n  image: x\n  pull: true\n  debootstrap:\n    suite: trixie\n')).toMatch(/root is invalid.*either debootstrap or pull/);
  });

  it('refuses pull other than true', () => {
    expect(refused('root:\n  image: x\n  pull: false\n')).toContain('root.pull');
  });

  it('refuses bad include entries', () => {
    for (const include of ['[Bad_Name]', '[ok, 3]', '["rm -rf /"]', 'ca-certificates', '[""]']) {
      expect(refused(`root:\n  image: x\n  debootstrap:\n    include: ${include}\n`)).toContain('root.debootstrap.include');
    }
  });

  it('refuses a missing image, a bad variant, a non-mapping and invalid YAML', () => {
    expect(refused('root:\n  pull: true\n')).toContain('root.image');
    expect(refused('root:\n  image: x\n  debootstrap:\n    variant: huge\n')).toContain('root.debootstrap.variant');
    expect(refused('- a\n- b\n')).toContain('(top)');
    expect(refused('root:\n')).toContain('root is invalid'); // an empty root: is a mistake, not "default"

    expect(refused('root: [unclosed\n')).toContain('not valid YAML');
  });

  it('reads the squash step: onto, keep-base, crosslink', () => {
    expect(parse('squash:\n  onto: common\n').squash).toEqual({ onto: 'common', crosslink: true });
    expect(parse('squash: true\n').squash).toEqual({ crosslink: true });
    expect(parse('squash:\n  keep-base: 2\n  crosslink: [/opt/conda]\n').squash).toEqual({ keepBase: 2, crosslink: ['/opt/conda'] });
    expect(parse('squash:\n  crosslink: false\n').squash).toEqual({ crosslink: false });
    expect(parse('root:\n  image: x\n  pull: true\n')).not.toHaveProperty('squash');
  });

  it('refuses bad squash settings, naming the key', () => {
    expect(refused('squash:\n  onto: a\n  keep-base: 1\n')).toContain('either onto or keep-base');
    expect(refused('squash:\n  keep-base: -1\n')).toContain('squash.keep-base');
    expect(refused('squash:\n  crosslink: [relative]\n')).toContain('squash.crosslink');
    expect(refused('squash:\n  level: 3\n')).toContain('squash.level');
    expect(refused('squash: yes please\n')).toContain('squash is invalid');
  });

  it("reads image-scan's defaults: backend, advisories, fail-on, ignore", () => {
    expect(parse('scan:\n  backend: osv\n  advisories: advisories\n  fail-on: HIGH\n  ignore: scan.ignore\n').scan).toEqual({
      backend: 'osv',
      advisories: 'advisories',
      failOn: 'HIGH',
      ignore: 'scan.ignore',
    });
    expect(parse('scan:\n  fail-on: none\n').scan).toEqual({ failOn: 'none' });
    expect(refused('scan:\n  backend: grype\n')).toContain('scan.backend is invalid: allowed ecr, trivy or osv');
    expect(refused('scan:\n  fail-on: CRITCAL\n')).toContain('scan.fail-on');
    expect(refused('scan:\n  level: 3\n')).toContain('scan.level');
  });
});
