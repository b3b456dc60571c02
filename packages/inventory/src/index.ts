export * from './parsers';
export * from './inventory';
