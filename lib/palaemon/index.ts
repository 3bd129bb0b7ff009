export * from './address.js';
export * from './session.js';
export * from './replies.js';
export * from './client.js';
export * from './ensure.js';
