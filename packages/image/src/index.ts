export * from './model';
export * from './reference';
export * from './memory';
export * from './open';
export type { EngineImage } from './source-engine';
