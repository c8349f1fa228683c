/**
 * lintPolicy and diffPolicies costs (issue 13): wall time and work units (maxWork's
 * unit: one box tested against a box, or one box made) on the cloud policy (5 groups
 * × 100 rules per direction, bench/cloud-policy.ts) and synthetic 1,000- and
 * 5,000-rule groups (bench/policies.ts); the diff removes one rule. The rate (units
 * per second) is what MAX_ANALYSIS_WORK's "seconds, not minutes" rests on.
 *
 *   npm run bench:analysis            SGFILTER_BENCH_QUICK=1 for a short run
 */
import { diffPolicies, lintPolicy, parseConfig, type ConfigInput, type RuleSpec } from '../src/index.js';
import { cloudPolicy } from './cloud-policy.js';
import { syntheticPolicy } from './policies.js';
import { QUICK, textTable, timeRuns } from './lib.js';

const subjects: [string, ConfigInput][] = [
  ['cloud 5 × 100', cloudPolicy().config],
  ['synthetic 1,000', syntheticPolicy(1000).config],
  ...(QUICK ? [] : [['synthetic 5,000', syntheticPolicy(5000).config] as [string, ConfigInput]]),
];
const rows: (string | number)[][] = [];
for (const [name, doc] of subjects) {
  const config = parseConfig(doc);
  const edited = structuredClone(doc);
  (edited.securityGroups![0]!.inbound as RuleSpec[]).splice(3, 1);
  const after = parseConfig(edited);
  const lint = timeRuns(QUICK ? 1 : 3, () => lintPolicy(config));
  const diff = timeRuns(QUICK ? 1 : 3, () => diffPolicies(config, after));
  for (const [what, t, work] of [['lint', lint, lint.last.stats.work], ['diff', diff, diff.last.stats.work]] as const) {
    rows.push([name, what, t.medianMs.toFixed(0), work.toLocaleString('en-US'), ((work / t.medianMs) * 1000 / 1e6).toFixed(1)]);
  }
}
console.log(textTable(['policy', 'call', 'ms (median)', 'work units', 'M units/s'], rows));
