export * from '../dist/src/edge/node.js';
