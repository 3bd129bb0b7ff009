#!/usr/bin/env node
// Thin shim: load the TypeScript CLI through tsx.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('./radiomics-cli.js');
process.exitCode = await main(process.argv.slice(2));
