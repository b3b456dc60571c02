export * from './dockerfile';
export * from './root';
export * from './chain';
