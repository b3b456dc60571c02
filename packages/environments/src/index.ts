export * from './layout';
export * from './conda-yaml';
export * from './chill';
export * from './freeze';
export * from './image';
export * from './freeze-image';
export * from './tests';
