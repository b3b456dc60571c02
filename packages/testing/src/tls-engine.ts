import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:tls';

export interface TlsEngine {
  /** tcp://127.0.0.1:PORT */
  dockerHost: string;
  /** ca.pem, cert.pem, key.pem for the client, as DOCKER_CERT_PATH expects. */
  certPath: string;
  /** A CA that did not sign the server: a client trusting only it must be refused. */
  otherCaPath: string;
  /** Bytes authenticated clients sent through it so far: proof a request came this way (kept-alive sockets make connections no proof). */
  readonly received: number;
  stop(): Promise<void>;
}

function openssl(dir: string, ...args: string[]) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, then a key and a certificate signed by it (server: SAN 127.0.0.1; client: clientAuth). */
function makeCerts(dir: string) {
  openssl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=imagewright test CA', '-keyout', 'ca-key.pem', '-out', 'ca.pem');
  for (const [name, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'],
    ['client', 'extendedKeyUsage=clientAuth\n'],
  ]) {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`);
    openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
  }
}

/**
 * The real engine behind a TLS endpoint on loopback that requires a client certificate, as a
 * `dockerd --tlsverify -H tcp://…` would: bytes are passed through to the engine's unix socket.
 */
export async function startTlsEngine(socketPath = '/var/run/docker.sock'): Promise<TlsEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'imagewright-tls-'));
  makeCerts(dir);
  const certPath = join(dir, 'client-certs');
  const otherCaPath = join(dir, 'other-certs');
  execFileSync('mkdir', [certPath, otherCaPath]);
  writeFileSync(join(certPath, 'ca.pem'), readFileSync(join(dir, 'ca.pem')));
  writeFileSync(join(certPath, 'cert.pem'), readFileSync(join(dir, 'client.pem')));
  writeFileSync(join(certPath, 'key.pem'), readFileSync(join(dir, 'client-key.pem')));
  openssl(otherCaPath, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=other CA', '-keyout', 'ca-key.pem', '-out', 'ca.pem');
  writeFileSync(join(otherCaPath, 'cert.pem'), readFileSync(join(dir, 'client.pem')));
  writeFileSync(join(otherCaPath, 'key.pem'), readFileSync(join(dir, 'client-key.pem')));

  let received = 0;
  const server = createServer(
    {
      key: readFileSync(join(dir, 'server-key.pem')),
      cert: readFileSync(join(dir, 'server.pem')),
      ca: readFileSync(join(dir, 'ca.pem')),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (client) => {
      const engine = connect(socketPath);
      client.on('data', (chunk: Buffer) => (received += chunk.length));
      client.pipe(engine).pipe(client);
      const close = () => {
        client.destroy();
        engine.destroy();
      };
      client.on('error', close);
      engine.on('error', close);
    },
  );
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const { port } = server.address() as AddressInfo;
  return {
    dockerHost: `tcp://127.0.0.1:${port}`,
    certPath,
    otherCaPath,
    get received() {
      return received;
    },
    stop: () =>
      new Promise((done) => {
        server.close(() => done());
        rmSync(dir, { recursive: true, force: true });
      }),
  };
}
