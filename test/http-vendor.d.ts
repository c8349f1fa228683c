// express 4 installed under an npm alias (express4@npm:express@4) to test both majors;
// its API as far as the tests use it is express 5's (@types/express).
declare module 'express4' {
  import express from 'express';
  export default express;
}
