/** Thin fetch-based OpenStack Swift client: see client.ts for the behaviour every call shares. */
export * from './auth.js';
export * from './client.js';
export * from './errors.js';
export * from './names.js';
export * from './tempurl.js';
export * from './types.js';
