// Node module hook (node --import tsx --import <this>): every import of enclave/radiomics/kmeans resolves to the
// reference k-means instead. Registered after tsx, so it runs first and sees tsx's resolution.
import { register } from 'node:module';

register(new URL('./reference-kmeans-hook.mjs', import.meta.url));
