/**
 * Runs once before the suite: says, in one line, when the data-driven tests will be
 * skipped because SGFILTER_DATA is not set (see test/data.ts).
 */
import { DATA_ENV } from './data.js';

export default function setup(): void {
  if (!process.env[DATA_ENV]) {
    process.stderr.write(
      `sgfilter tests: ${DATA_ENV} is not set, so the ClassBench and Tencent data tests are skipped; ` +
        `set ${DATA_ENV} to the folder holding classbench/, classbench-100k/ and tencent/ to run them\n`,
    );
  }
}
