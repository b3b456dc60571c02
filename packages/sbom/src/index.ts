export * from './records';
export * from './purl';
export * from './sbom';
export * from './write';
export * from './read';
