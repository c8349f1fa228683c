export * from '../dist/src/node/index.js';
