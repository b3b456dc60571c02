import { connectEngine } from '@imagewright/docker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envFor, runBin, tempDeploymentRoot } from './bin';
import { BUSYBOX_IMAGE, busyboxImage } from './busybox';
import { ensureEngine } from './engine';
import { startSshd, type Sshd } from './sshd';

// DOCKER_HOST=ssh:// through the system ssh to a real sshd, whose remote side is this machine's
// docker CLI bridging to the real engine (`docker system dial-stdio`), as on a remote build host.
let sshd: Sshd;
beforeAll(async () => {
  await busyboxImage(await ensureEngine());
  sshd = await startSshd();
});
afterAll(async () => sshd?.stop());

const sshEnv = (command = sshd.sshCommand) => ({
  DOCKER_HOST: `ssh://${sshd.user}@127.0.0.1:${sshd.port}`,
  IMAGEWRIGHT_SSH_COMMAND: command,
});

describe('DOCKER_HOST=ssh://', () => {
  it('reaches the engine through ssh and docker system dial-stdio', async () => {
    const engine = await connectEngine(sshEnv());
    expect((await engine.getImage(BUSYBOX_IMAGE).inspect()).RepoTags).toContain(BUSYBOX_IMAGE);
  });

  it('runs a container with piped stdin over it (hijacked attach through the ssh pipe)', async () => {
    const root = tempDeploymentRoot('ssh');
    const env = { ...envFor(root, 'ssh', BUSYBOX_IMAGE), ...sshEnv() };
    const result = await runBin('image-sh', [], { env, input: 'echo "over ssh: $((6 * 7))"\nexit 5\n' });
    expect(result.stdout).toBe('over ssh: 42\n');
    expect(result.code).toBe(5);
  });

  it('an unknown host key is refused (no silent trust): exit 2 naming the DOCKER_HOST', async () => {
    const root = tempDeploymentRoot('ssh');
    const env = { ...envFor(root, 'ssh', BUSYBOX_IMAGE), ...sshEnv(sshd.sshCommandUnknownHost) };
    const result = await runBin('image-exec', ['true'], { env });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`cannot reach the Docker Engine at ssh://${sshd.user}@127.0.0.1:${sshd.port}`);
  });
});
