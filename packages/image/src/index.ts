export * from './model';
export * from './reference';
