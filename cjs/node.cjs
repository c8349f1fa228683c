// CommonJS entry of sgfilter/node (see index.cjs).
module.exports = require('../dist/src/node/index.js');
