export * from './versions';
export * from './osv';
export * from './severity';
export * from './identity';
export * from './database';
export * from './ignore';
