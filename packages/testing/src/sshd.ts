import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export const SSHD = '/usr/sbin/sshd';

export interface Sshd {
  port: number;
  user: string;
  /** For IMAGEWRIGHT_SSH_COMMAND: ssh with this server's key, known host and nothing of ~/.ssh. */
  sshCommand: string;
  /** The same without the known_hosts entry: host key checking must refuse it. */
  sshCommandUnknownHost: string;
  stop(): Promise<void>;
}

const freePort = () =>
  new Promise<number>((done, fail) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => done(port));
    });
    server.on('error', fail);
  });

const answers = (port: number) =>
  new Promise<boolean>((done) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      done(true);
    });
    socket.on('error', () => done(false));
  });

/**
 * A real OpenSSH server on a free loopback port, key-only, for the current user: what
 * DOCKER_HOST=ssh:// reaches (the remote side runs `docker system dial-stdio` on this machine).
 * `remotePath` replaces the sessions' PATH (e.g. one without docker: a host with no docker CLI).
 */
export async function startSshd(options: { remotePath?: string } = {}): Promise<Sshd> {
  const dir = mkdtempSync(join(tmpdir(), 'imagewright-sshd-'));
  const keygen = (file: string) => execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, file)]);
  keygen('host_key');
  keygen('client_key');
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_key.pub')));
  const port = await freePort();
  const user = userInfo().username;
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      'ListenAddress 127.0.0.1',
      `Port ${port}`,
      `HostKey ${join(dir, 'host_key')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      `AllowUsers ${user}`,
      ...(options.remotePath ? [`SetEnv PATH=${options.remotePath}`] : []),
      '',
    ].join('\n'),
  );
  const hostKey = readFileSync(join(dir, 'host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostKey}\n`);
  const clientConfig = (knownHosts: string) =>
    [
      'Host *',
      `  IdentityFile ${join(dir, 'client_key')}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${knownHosts}`,
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      '  LogLevel ERROR',
      '',
    ].join('\n');
  writeFileSync(join(dir, 'ssh_config'), clientConfig(join(dir, 'known_hosts')));
  writeFileSync(join(dir, 'ssh_config_unknown'), clientConfig('/dev/null'));

  mkdirSync('/run/sshd', { recursive: true }); // sshd's privilege-separation folder
  const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d) => (log += d));
  for (let i = 0; i < 100 && !(await answers(port)); i++) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!(await answers(port))) {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`sshd did not start on 127.0.0.1:${port} (tools/bootstrap installs openssh-server): ${log.trim()}`);
  }
  return {
    port,
    user,
    sshCommand: `ssh -F ${join(dir, 'ssh_config')}`,
    sshCommandUnknownHost: `ssh -F ${join(dir, 'ssh_config_unknown')}`,
    stop: async () => {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
