// CommonJS entry of sgfilter: the ES module itself, through Node's require(esm)
// (Node >= 20.19), so `require('sgfilter')` and `import 'sgfilter'` share one module
// instance (one SgfilterError class, one engine registry).
module.exports = require('../dist/src/index.js');
