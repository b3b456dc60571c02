export * from './files';
export * from './findings';
export * from './tools';
