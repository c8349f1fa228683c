// Types of the CommonJS entry: the same as the ES module's.
export * from '../dist/src/index.js';
