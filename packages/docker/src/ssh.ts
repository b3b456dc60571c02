import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { Agent } from 'node:http';
import { Duplex } from 'node:stream';

export interface SshTarget {
  host: string;
  port?: string;
  user?: string;
}

/**
 * The argv of the connection, as the docker CLI builds it for ssh://: the system ssh (so
 * ~/.ssh/config, known_hosts and the agent apply), no TTY, no password prompt, and the remote
 * docker CLI bridging stdio to its engine. IMAGEWRIGHT_SSH_COMMAND replaces `ssh` (like
 * GIT_SSH_COMMAND), e.g. `ssh -F ./ssh_config`.
 */
export function sshArgv(target: SshTarget, env: NodeJS.ProcessEnv = process.env): string[] {
  const command = env.IMAGEWRIGHT_SSH_COMMAND?.trim();
  const ssh = command ? ['sh', '-c', `${command} "$@"`, 'ssh'] : ['ssh'];
  return [
    ...ssh,
    '-T',
    '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=30',
    ...(target.user ? ['-l', target.user] : []),
    ...(target.port ? ['-p', target.port] : []),
    '--',
    target.host,
    'docker', 'system', 'dial-stdio',
  ];
}

/** A socket made of a child's stdin/stdout (the docker CLI's "commandconn"). */
class CommandConnection extends Duplex {
  private stderr = '';
  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    super();
    child.stdout.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) child.stdout.pause();
    });
    child.stdout.on('end', () => this.push(null));
    child.stderr.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-2000)));
    child.on('error', (error) => this.destroy(error));
    child.on('exit', (code) => {
      if (code) this.destroy(new Error(`ssh exited ${code}: ${this.stderr.trim().split('\n').pop() ?? ''}`));
    });
  }
  _read() {
    this.child.stdout.resume();
  }
  _write(chunk: Buffer, encoding: BufferEncoding, done: (error?: Error | null) => void) {
    this.child.stdin.write(chunk, encoding, done);
  }
  _final(done: () => void) {
    this.child.stdin.end(done);
  }
  _destroy(error: Error | null, done: (error: Error | null) => void) {
    this.child.kill();
    done(error);
  }
  // What http and hijacked attaches ask of a net.Socket; there is nothing to tune on a pipe.
  setNoDelay() {
    return this;
  }
  setKeepAlive() {
    return this;
  }
  setTimeout() {
    return this;
  }
  ref() {
    return this;
  }
  unref() {
    return this;
  }
}

/** An HTTP agent whose every connection is a new `ssh … docker system dial-stdio`. */
export function sshAgent(target: SshTarget, env: NodeJS.ProcessEnv = process.env): Agent {
  const agent = new Agent({ keepAlive: false });
  const [command, ...args] = sshArgv(target, env);
  (agent as unknown as { createConnection: () => Duplex }).createConnection = () =>
    new CommandConnection(spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] }));
  return agent;
}
