export * from '../dist/src/http/index.js';
