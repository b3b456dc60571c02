export * from './client';
export * from './progress';
