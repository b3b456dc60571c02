export * from './registry';
export * from './distribution-api';
