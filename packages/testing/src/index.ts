export * from './engine';
export * from './busybox';
export * from './bin';
export * from './registry';
export * from './tls-engine';
export * from './sshd';
export * from './environments';
export * from './docker-cli';
