export * from './registry';
export * from './tags';
export * from './promote';
export * from './delete';
export * from './distribution-api';
