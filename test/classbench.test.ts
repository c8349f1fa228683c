// Every trace line of every shared ClassBench set through the WASM engine, compared
// with the rule the trace names (1-based), and a sample against the reference matcher.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { createEngine, parseClassBench, parseClassBenchTrace, referenceClassify } from '../src/index.js';
import { describeWithData } from './data.js';

describeWithData('classbench', 'ClassBench traces (0 mismatches)', (dir) => {
  const DIR = join(dir, '/');
  const sets = readdirSync(DIR).filter((f) => /^[a-z]+\d_\d+K?$/.test(f)).sort();
  it('finds the shared data', () => {
    expect(sets.length).toBe(12);
  });
  let lines = 0;
  for (const name of sets) {
    it(name, async () => {
      const config = parseClassBench(readFileSync(DIR + name, 'utf8'));
      const { batch, flows, expected } = parseClassBenchTrace(readFileSync(`${DIR}${name}_trace`, 'utf8'));
      const engine = await createEngine(config);
      engine.classifyBatch(batch);
      const wrong: string[] = [];
      const ruleIds = batch.ruleIds; // a copy: read it once
      for (let i = 0; i < batch.length; i++) {
        if (ruleIds[i]! + 1 !== expected[i] && wrong.length < 5) wrong.push(`line ${i + 1}: engine rule ${ruleIds[i]! + 1}, trace says ${expected[i]}`);
      }
      expect(wrong).toEqual([]);
      // The reference agrees too (a sample: it is a linear scan).
      for (let i = 0; i < batch.length; i += 97) {
        expect(referenceClassify(config, flows[i]!).ruleIndex! + 1).toBe(expected[i]);
      }
      lines += batch.length;
    });
  }
  it('covered all 447,700 trace lines', () => {
    expect(lines).toBe(447_700);
  });
});
