export * from './buckets.js';
export * from './env.js';
export * from './functions/index.js';
export * from './queues.js';
export * from './streams.js';
export * from './tables.js';
