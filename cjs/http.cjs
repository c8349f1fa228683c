// CommonJS entry of sgfilter/http (see index.cjs).
module.exports = require('../dist/src/http/index.js');
