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

/** ssh's failure in its own words: the last line it wrote (`Host key verification failed.`). */
export function sshFailure(code: number, stderr: string): string {
  const last = stderr.split(/\r?\n/).map((line) => line.trim()).filter(Boolean).pop();
  return `ssh exited ${code}${last ? `: ${last}` : ''}`;
}

/** A socket made of a child's stdin/stdout (the docker CLI's "commandconn"). */
class CommandConnection extends Duplex {
  private stderr = '';
  private received = false;
  private ended = false;
  /** Settles once ssh has exited and its output is read: why it failed, if it did. */
  private readonly exited: Promise<Error | undefined>;
  constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    command: string,
  ) {
    super();
    child.stdout.on('data', (chunk: Buffer) => {
      this.received = true;
      if (!this.push(chunk)) child.stdout.pause();
    });
    // A failed ssh closes its stdout before it exits: passing that EOF on at once would reach http
    // as a bare ECONNRESET, so until the first byte EOF waits for the exit status. After it, the
    // session works and EOF passes at once (a hijacked attach needs it while ssh still runs).
    child.stdout.on('end', () => {
      if (this.received) this.eof();
    });
    child.stderr.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-2000)));
    // Write errors (EPIPE) are reported through _write's callback, as ssh's reason.
    child.stdin.on('error', () => undefined);
    this.exited = new Promise((settle) => {
      child.on('error', (error) => settle(new Error(`cannot run ${command}: ${error.message}`)));
      // 'close', not 'exit': stderr is fully read by then.
      child.on('close', (code) => settle(code ? new Error(sshFailure(code, this.stderr)) : undefined));
    });
    void this.exited.then((failure) => {
      if (!failure) this.eof();
      else if (!this.ended && !this.destroyed) this.destroy(failure);
    });
  }
  private eof() {
    if (this.ended || this.destroyed) return;
    this.ended = true;
    this.push(null);
  }
  _read() {
    this.child.stdout.resume();
  }
  _write(chunk: Buffer, encoding: BufferEncoding, done: (error?: Error | null) => void) {
    this.child.stdin.write(chunk, encoding, (error) => {
      if (!error) return done();
      // Writing to an ssh that has given up: report why it did, not EPIPE.
      void this.exited.then((failure) => done(failure ?? error));
    });
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
    new CommandConnection(spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] }), command);
  return agent;
}
