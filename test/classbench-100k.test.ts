// The 100K-rule ClassBench sets (../shared/data/classbench-100k, gzip): every trace line
// through the WASM engine against the rule the trace names (1-based first match), and an
// evenly spaced sample against the reference matcher. These sets compile to partitioned
// classifiers (src/compile/partition.ts), so this is that layout on real data.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { expect, it } from 'vitest';
import { createEngine, parseClassBench, parseClassBenchTrace, referenceClassify } from '../src/index.js';
import { describeWithData } from './data.js';

const SETS = [
  ['acl2_100K', 75_837, 153_674],
  ['fw3_100K', 83_736, 169_472],
  ['ipc2_100K', 100_000, 202_000],
] as const;
/** Trace lines checked against the reference per set (it scans up to 100,000 rules per line). */
const REFERENCE_SAMPLE = 150;

describeWithData('classbench-100k', 'ClassBench 100K traces (0 mismatches)', (dir) => {
  const text = (file: string) => gunzipSync(readFileSync(join(dir, file))).toString('utf8');
  for (const [name, rules, lines] of SETS) {
    it(`${name}: ${lines.toLocaleString('en-US')} trace lines, engine and reference`, async () => {
      const config = parseClassBench(text(`${name}.gz`));
      expect(config.securityGroups[0]!.inbound.length).toBe(rules);
      const { batch, flows, expected } = parseClassBenchTrace(text(`${name}_trace.gz`));
      expect(batch.length).toBe(lines);
      const engine = await createEngine(config);
      engine.classifyBatch(batch);
      const ruleIds = batch.ruleIds; // a copy: read it once
      const wrong: string[] = [];
      for (let i = 0; i < batch.length; i++) {
        if (ruleIds[i]! + 1 !== expected[i] && wrong.length < 5) wrong.push(`line ${i + 1}: engine rule ${ruleIds[i]! + 1}, trace says ${expected[i]}`);
      }
      expect(wrong).toEqual([]);
      const step = Math.floor(batch.length / REFERENCE_SAMPLE);
      const ref: string[] = [];
      for (let i = 0; i < batch.length; i += step) {
        const got = (referenceClassify(config, flows[i]!).ruleIndex ?? -1) + 1;
        if (got !== expected[i] && ref.length < 5) ref.push(`line ${i + 1}: reference rule ${got}, trace says ${expected[i]}`);
      }
      expect(ref).toEqual([]);
      // Every line matches some rule or none; the sets do match (not a vacuous check).
      expect(expected.filter((e) => e > 0).length).toBeGreaterThan(lines / 2);
    }, 300_000);
  }
});
