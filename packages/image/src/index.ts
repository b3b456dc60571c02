export * from './model';
export * from './reference';
export * from './memory';
