export * from './frame';
export * from './metadata';
export * from './ledger';
export * from './history';
export * from './scripts';
