import { startTrackerServer, type TrackerServer } from '@imagewright/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from './finding';
import { chooseRelease, debianStatus, ReleaseStatusLookup, RELEASES, releaseStatuses } from './release-status';

const ubuntuUri = (cve: string) => `http://people.ubuntu.com/~ubuntu-security/cve/${cve}`;
const finding = (id: string, pkg: string, uri?: string, extra: Partial<Finding> = {}): Finding => ({
  id,
  aliases: [],
  severity: 'MEDIUM',
  package: { name: pkg, version: '1', type: 'deb', class: 'os' },
  ...(uri ? { uri } : {}),
  ...extra,
});

describe('chooseRelease', () => {
  it('by a substring of the release name or codename (case-insensitive, as IMAGE_UBUNTU_NAME), else by the image’s distro', () => {
    const name = (r: ReturnType<typeof chooseRelease>) => r?.name;
    expect(name(chooseRelease('ubuntu', { release: '20.04' }))).toBe('Ubuntu 20.04 LTS (Focal Fossa)');
    expect(name(chooseRelease('ubuntu', { release: 'fOcAl fossa' }))).toBe('Ubuntu 20.04 LTS (Focal Fossa)');
    expect(name(chooseRelease('ubuntu', { release: 'jammy' }))).toBe('Ubuntu 22.04 LTS (Jammy Jellyfish)');
    // Several match: the newest, as the tracker page's first row was.
    expect(name(chooseRelease('ubuntu', { release: 'LTS' }))).toBe('Ubuntu 24.04 LTS (Noble Numbat)');
    expect(name(chooseRelease('ubuntu', { release: 'nothing-like-it', distro: 'ubuntu 22.04' }))).toBe('Ubuntu 22.04 LTS (Jammy Jellyfish)');
    expect(name(chooseRelease('ubuntu', { distro: 'ubuntu 20.04.6' }))).toBe('Ubuntu 20.04 LTS (Focal Fossa)');
    expect(name(chooseRelease('debian', { release: '20.04', distro: 'debian 12.5' }))).toBe('Debian 12 (bookworm)');
    expect(name(chooseRelease('debian', { release: 'bullseye' }))).toBe('Debian 11 (bullseye)');
    expect(chooseRelease('debian', { distro: 'ubuntu 22.04' })).toBeUndefined();
    expect(chooseRelease('ubuntu', {})).toBeUndefined();
    expect(new Set(RELEASES.map((r) => `${r.tracker} ${r.codename}`)).size).toBe(RELEASES.length);
  });
});

describe('ReleaseStatusLookup against the loopback trackers', () => {
  let tracker: TrackerServer;
  const bases = () => ({ ubuntuTracker: tracker.url, debianTracker: tracker.url });

  beforeAll(async () => {
    tracker = await startTrackerServer({ latencyMs: 20 });
    tracker.setUbuntu('CVE-2016-1585', [
      { package: 'apparmor', release: 'upstream', status: 'needs-triage' },
      { package: 'apparmor', release: 'jammy', status: 'deferred', description: '2023-01-04' },
      { package: 'apparmor', release: 'focal', status: 'deferred' },
    ]);
    tracker.setUbuntu('CVE-2021-3711', [
      { package: 'openssl', release: 'focal', status: 'released', description: '1.1.1f-1ubuntu2.8' },
      { package: 'edk2', release: 'focal', status: 'needed' },
    ]);
    tracker.setUbuntu('CVE-2020-0001', [{ package: 'zlib', release: 'jammy', status: 'not-affected' }]);
  });

  afterAll(() => tracker?.stop());

  it('Ubuntu: `<release> -- <status>` per finding, the finding’s own package when the CVE names several', async () => {
    const findings = [
      finding('CVE-2016-1585', 'apparmor', ubuntuUri('CVE-2016-1585')),
      finding('CVE-2021-3711', 'openssl', ubuntuUri('CVE-2021-3711')),
      finding('CVE-2021-3711', 'edk2', ubuntuUri('CVE-2021-3711')),
      finding('CVE-2020-0001', 'zlib', ubuntuUri('CVE-2020-0001')),
    ];
    const statuses = await releaseStatuses(findings, { ...bases(), release: '20.04' });
    expect(findings.map((f) => statuses.get(f))).toEqual([
      'Ubuntu 20.04 LTS (Focal Fossa) -- deferred',
      'Ubuntu 20.04 LTS (Focal Fossa) -- released (1.1.1f-1ubuntu2.8)',
      'Ubuntu 20.04 LTS (Focal Fossa) -- needed',
      'unknown', // the CVE has no row for focal
    ]);
    const jammy = await releaseStatuses(findings.slice(0, 1), { ...bases(), distro: 'ubuntu 22.04' });
    expect(jammy.get(findings[0])).toBe('Ubuntu 22.04 LTS (Jammy Jellyfish) -- deferred (2023-01-04)');
  });

  it('Debian: the source package’s row for the release, its fixed version from the second table', async () => {
    tracker.setDebian('CVE-2023-5678', [
      { package: 'openssl', release: 'bullseye', version: '1.1.1w-0+deb11u1', status: 'vulnerable' },
      { package: 'openssl', release: 'bookworm', version: '3.0.11-1~deb12u2', status: 'fixed', fixed: '3.0.11-1~deb12u2' },
      { package: 'openssl', release: 'sid', version: '3.1.4-2', status: 'fixed', fixed: '3.1.4-1' },
      { package: 'openssl1.0', release: 'bookworm', version: '1.0.2u-1', status: 'vulnerable' },
    ]);
    tracker.setDebian('CVE-2023-0002', [
      { package: 'curl', release: 'bookworm', version: '7.88.1-10', status: 'vulnerable' },
      { package: 'curl', release: 'bookworm (security)', version: '7.88.1-10+deb12u5', status: 'fixed' },
    ]);
    const debianUri = (cve: string) => `https://security-tracker.debian.org/tracker/${cve}`;
    const findings = [
      finding('CVE-2023-5678', 'openssl', debianUri('CVE-2023-5678')),
      finding('CVE-2023-5678', 'openssl1.0', debianUri('CVE-2023-5678')),
      finding('CVE-2023-0002', 'curl', undefined), // no URI: the image's distro says Debian
    ];
    const statuses = await releaseStatuses(findings, { ...bases(), distro: 'debian 12.5' });
    expect(findings.map((f) => statuses.get(f))).toEqual([
      'Debian 12 (bookworm) -- fixed (3.0.11-1~deb12u2)',
      'Debian 12 (bookworm) -- vulnerable',
      'Debian 12 (bookworm) -- vulnerable',
    ]);
    const bullseye = await releaseStatuses(findings.slice(0, 1), { ...bases(), release: 'bullseye' });
    expect(bullseye.get(findings[0])).toBe('Debian 11 (bullseye) -- vulnerable');
  });

  it('one request per CVE (cached for the run), and none for findings no tracker or release can answer', async () => {
    const cves = Array.from({ length: 10 }, (_, i) => `CVE-2024-${2000 + i}`);
    for (const cve of cves) tracker.setUbuntu(cve, [{ package: 'p', release: 'focal', status: 'needed' }]);
    // Each CVE in three packages, plus ids trackers do not know and findings with no tracker.
    const findings = [
      ...cves.flatMap((cve) => ['p', 'q', 'r'].map((pkg) => finding(cve, pkg, ubuntuUri(cve)))),
      finding('GHSA-aaaa-bbbb-cccc', 'requests', 'https://github.com/advisories/GHSA-aaaa-bbbb-cccc'),
      finding('PYSEC-2023-1', 'requests', 'https://osv.dev/PYSEC-2023-1', { aliases: ['CVE-2024-2000'] }),
      finding('CVE-2024-2001', 'apk-thing', 'https://security.alpinelinux.org/vuln/CVE-2024-2001'),
    ];
    tracker.resetCounts();
    const lookup = new ReleaseStatusLookup({ ...bases(), release: 'focal' });
    const statuses = await lookup.statuses(findings);
    expect(lookup.requests).toBe(10);
    expect(tracker.requests).toBe(10);
    expect([...tracker.byPath.values()].every((n) => n === 1)).toBe(true);
    expect(statuses.get(findings[0])).toBe('Ubuntu 20.04 LTS (Focal Fossa) -- needed');
    expect(statuses.get(findings[1])).toBe('Ubuntu 20.04 LTS (Focal Fossa) -- needed'); // q: not listed, the CVE's first package
    expect(findings.slice(30).map((f) => statuses.get(f))).toEqual(['unknown', 'unknown', 'unknown']);
    await lookup.statuses(findings);
    expect(tracker.requests).toBe(10);
    lookup.close();

    // No release chosen: nothing asked.
    tracker.resetCounts();
    const none = await releaseStatuses(findings.slice(0, 3), bases());
    expect([...none.values()]).toEqual(['unknown', 'unknown', 'unknown']);
    expect(tracker.requests).toBe(0);
  });

  it('at most `concurrency` lookups in flight (peak seen by the server), and the limit is used', async () => {
    const findings = Array.from({ length: 60 }, (_, i) => finding(`CVE-2025-${3000 + i}`, 'p', ubuntuUri(`CVE-2025-${3000 + i}`)));
    for (const f of findings) tracker.setUbuntu(f.id, [{ package: 'p', release: 'focal', status: 'needed' }]);
    tracker.resetCounts();
    await releaseStatuses(findings, { ...bases(), release: 'focal', concurrency: 6 });
    expect(tracker.requests).toBe(60);
    expect(tracker.peakInFlight).toBeLessThanOrEqual(6);
    expect(tracker.peakInFlight).toBeGreaterThanOrEqual(4);
    tracker.resetCounts();
    await releaseStatuses(findings.map((f) => ({ ...f, id: f.id.replace('2025', '2026') })), { ...bases(), release: 'focal', concurrency: 1 });
    expect(tracker.peakInFlight).toBe(1);
  });

  it('every failed lookup is `unknown`: HTTP 500, a reset connection, no answer within the timeout, a body that is not the tracker’s, 404, nothing listening', async () => {
    const failing = { 'CVE-2019-0500': 'status500', 'CVE-2019-0501': 'reset', 'CVE-2019-0502': 'hang', 'CVE-2019-0503': 'garbage' } as const;
    for (const [cve, how] of Object.entries(failing)) {
      tracker.setUbuntu(cve, [{ package: 'p', release: 'focal', status: 'needed' }]);
      tracker.setDebian(cve, [{ package: 'p', release: 'bookworm', version: '1', status: 'vulnerable' }]);
      tracker.fail(cve, how);
    }
    const ids = [...Object.keys(failing), 'CVE-2019-0404'];
    const findings = [...ids.map((id) => finding(id, 'p', ubuntuUri(id))), ...ids.map((id) => finding(id, 'p', `https://security-tracker.debian.org/tracker/${id}`))];
    const started = Date.now();
    const statuses = await releaseStatuses(findings, { ...bases(), release: 'focal', distro: 'debian 12', timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(findings.map((f) => statuses.get(f))).toEqual(findings.map(() => 'unknown'));

    const closed = await releaseStatuses(findings.slice(0, 1), { ubuntuTracker: 'http://127.0.0.1:1', release: 'focal' });
    expect(closed.get(findings[0])).toBe('unknown');
  });

  it('base URLs from IMAGEWRIGHT_UBUNTU_TRACKER / IMAGEWRIGHT_DEBIAN_TRACKER; options win; the public trackers otherwise', () => {
    expect(new ReleaseStatusLookup({ env: {} }).bases).toEqual({ ubuntu: 'https://ubuntu.com', debian: 'https://security-tracker.debian.org' });
    expect(new ReleaseStatusLookup({ env: { IMAGEWRIGHT_UBUNTU_TRACKER: 'http://u.test/', IMAGEWRIGHT_DEBIAN_TRACKER: 'http://d.test' } }).bases).toEqual({ ubuntu: 'http://u.test', debian: 'http://d.test' });
    expect(new ReleaseStatusLookup({ env: { IMAGEWRIGHT_UBUNTU_TRACKER: 'http://u.test' }, ubuntuTracker: 'http://o.test' }).bases.ubuntu).toBe('http://o.test');
  });
});

describe('debianStatus (the tracker page as HTML)', () => {
  const bookworm = RELEASES.find((r) => r.codename === 'bookworm')!;
  it('reads tables with optional closing tags and entities; a page without the table or the release gives nothing', () => {
    const page = `<table><tr><th>Source Package<th>Release<th>Version<th>Status
<tr><td><a href="/x">glib2.0</a> <a href="https://tracker.debian.org/pkg/glib2.0">(PTS)</a><td>bookworm<td>2.74.6-2<td><span class="red">vulnerable</span>
</table>`;
    expect(debianStatus(page, bookworm, 'glib2.0')).toBe('Debian 12 (bookworm) -- vulnerable');
    expect(debianStatus('<html><p>no such CVE</p></html>', bookworm, 'glib2.0')).toBeUndefined();
    expect(debianStatus(page, RELEASES.find((r) => r.codename === 'trixie')!, 'glib2.0')).toBeUndefined();
  });
});
