export * from './errors';
export * from './output';
export * from './config';
export * from './deployment';
export * from './cli';
export { loadConfig, readEnvFile, type Loaded, type LoadOptions } from './load';
export * from './files';
export * from './setup-env';
export * from './format';
