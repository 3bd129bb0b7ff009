export * from './job.js';
export * from './client.js';
