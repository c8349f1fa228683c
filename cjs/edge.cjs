// CommonJS entry of sgfilter/edge in Node (see index.cjs): the edge API with the
// matcher read from disk.
module.exports = require('../dist/src/edge/node.js');
