export * from './client';
export * from './progress';
export * from './build';
export * from './history';
export * from './run-flags';
export * from './run';
export * from './auth';
export * from './ssh';
