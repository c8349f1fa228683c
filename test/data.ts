/**
 * Where the data-driven tests find their data: the folder named by the SGFILTER_DATA
 * environment variable, holding `classbench/`, `classbench-100k/` and `tencent/` (the
 * project's CI sets it to `../shared/data`). The main suite needs no outside data:
 * without SGFILTER_DATA these tests are skipped, and the skipped test's name says what
 * is missing and how to point at it. With SGFILTER_DATA set, missing files fail.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'vitest';

export const DATA_ENV = 'SGFILTER_DATA';

/** Data sets the tests use, with what each holds (for the skip message). */
const SETS = {
  classbench: 'the ClassBench filter sets and traces (acl1_100 ... ipc1_10K)',
  'classbench-100k': 'the 100K-rule ClassBench sets (acl2_100K.gz ...)',
  tencent: 'the Tencent Cloud API examples (DescribeSecurityGroupPolicies ...)',
} as const;
export type DataSet = keyof typeof SETS;

/**
 * The folder of data set `name`, or null when SGFILTER_DATA is not set. Throws when
 * SGFILTER_DATA is set but the folder is not there: a CI run must not skip.
 */
export function dataDir(name: DataSet): string | null {
  const root = process.env[DATA_ENV];
  if (root === undefined || root === '') return null;
  const dir = resolve(root, name);
  if (!existsSync(dir)) throw new Error(`${DATA_ENV}=${root}, but ${dir} (${SETS[name]}) does not exist`);
  return dir;
}

/** `join(dataDir(name), file)`, or null when the data is not configured. */
export function dataFile(name: DataSet, file: string): string | null {
  const dir = dataDir(name);
  return dir === null ? null : join(dir, file);
}

/**
 * `describe(title, body)` when data set `name` is configured; otherwise one skipped
 * test whose name says what is missing and how to point at it.
 */
export function describeWithData(name: DataSet, title: string, body: (dir: string) => void): void {
  const dir = dataDir(name);
  if (dir !== null) {
    describe(title, () => body(dir));
    return;
  }
  describe(title, () => {
    it.skip(`skipped: ${SETS[name]} not available; set ${DATA_ENV} to the folder holding ${name}/ (the project's CI uses ../shared/data)`, () => {});
  });
}
