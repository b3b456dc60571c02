import { connectEngine } from '@imagewright/docker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUSYBOX_IMAGE, busyboxImage } from './busybox';
import { runBin } from './bin';
import { ensureEngine } from './engine';
import { startTlsEngine, type TlsEngine } from './tls-engine';

// The client factory over tcp:// with TLS, against the real engine (through a TLS endpoint that
// demands a client certificate, as dockerd --tlsverify does).
let tls: TlsEngine;
beforeAll(async () => {
  await busyboxImage(await ensureEngine());
  tls = await startTlsEngine();
});
afterAll(async () => tls?.stop());

describe('DOCKER_HOST=tcp:// with DOCKER_TLS_VERIFY', () => {
  it('connects with the client certificate from DOCKER_CERT_PATH and talks to the engine', async () => {
    const engine = await connectEngine({ DOCKER_HOST: tls.dockerHost, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: tls.certPath });
    const image = await engine.getImage(BUSYBOX_IMAGE).inspect();
    expect(image.RepoTags).toContain(BUSYBOX_IMAGE);
  });

  it('a command works end to end over it', async () => {
    const env = { DOCKER_HOST: tls.dockerHost, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: tls.certPath };
    const result = await runBin('docker-history', ['--quiet', BUSYBOX_IMAGE], { env });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
  });

  it('a server not signed by the CA in DOCKER_CERT_PATH is refused: exit 2 naming the host', async () => {
    const env = { DOCKER_HOST: tls.dockerHost, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: tls.otherCaPath };
    const result = await runBin('docker-history', [BUSYBOX_IMAGE], { env });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`cannot reach the Docker Engine at ${tls.dockerHost}`);
  });

  it('without TLS the endpoint does not answer as an engine: exit 2', async () => {
    const result = await runBin('docker-history', [BUSYBOX_IMAGE], { env: { DOCKER_HOST: tls.dockerHost } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(tls.dockerHost);
  });
});
