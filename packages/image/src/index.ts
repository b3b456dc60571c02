export * from './model';
export * from './reference';
export * from './memory';
export * from './open';
export type { EngineImage } from './source-engine';
export * from './changes';
export * from './dedupe';
export * from './analysis';
