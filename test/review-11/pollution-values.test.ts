// Outside review (at11): Object.prototype fields set before parseConfig / compile /
// loadSnapshot / parseClassBench (array indexes included: arrays still read through
// Object.prototype past their length) must not change a verdict.
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, createFlowBatch, parseClassBench, parseConfig, parseFlow, referenceClassify } from '../../src/index.js';
import { mulberry32, randomConfig, randomFlows } from '../random.js';

const KEYS: [string, unknown][] = [
  // ('0', '1', '-1' and 'parts' break things: see pollution-index.test.ts.)
  ['lo', 0], ['hi', 65535], ['v4', [{ lo: 0n, hi: 0xffffffffn }]], ['v6', [{ lo: 0n, hi: (1n << 128n) - 1n }]],
  ['ports', null], ['local', null], ['sourcePorts', null], ['peerSet', 'x'], ['peerGroup', 'sg-0'], ['services', [{ protocol: 'all', ports: null }]],
  ['serviceSet', 'x'], ['template', 'open-all'], ['icmpType', null], ['icmpCode', null], ['semantics', 'classbench'], ['action', 'accept'],
  ['protocol', 'all'], ['addresses', { v4: [{ lo: 0n, hi: 0xffffffffn }], v6: [] }], ['dense', 1], ['words', 1], ['trie4', null], ['direct', true], ['absent', 0], ['kind', 'interval'], ['domain', 5], ['remote', null],
];

afterEach(() => {
  for (const [k] of KEYS) delete (Object.prototype as Record<string, unknown>)[k];
});

describe('review at11: Object.prototype values vs verdicts', () => {
  it('random configs, ClassBench, snapshot round trip: same verdicts as unpolluted', async () => {
    const r = mulberry32(2024);
    const cases: { doc: object; flows: object[]; want: string[] }[] = [];
    for (let i = 0; i < 25; i++) {
      const doc = randomConfig(r, 30);
      const config = parseConfig(doc);
      const flows = randomFlows(r, config, 300);
      cases.push({ doc, flows, want: flows.map((f) => JSON.stringify(referenceClassify(config, parseFlow(f)))) });
    }
    const cbText = '@10.0.0.0/8\t1.2.3.4/32\t0 : 65535\t80 : 80\t0x06/0xFF\n@0.0.0.0/0\t0.0.0.0/0\t0 : 65535\t0 : 65535\t0x11/0xFF\n';
    const cbFlows = [{ direction: 'inbound', protocol: 6, remote: '10.1.1.1', local: '1.2.3.4', port: 80, sourcePort: 1 }, { direction: 'inbound', protocol: 6, remote: '11.1.1.1', local: '1.2.3.4', port: 80, sourcePort: 1 }, { direction: 'inbound', protocol: 1, remote: '10.1.1.1', local: '1.2.3.4', icmpType: 8, icmpCode: 0 }];
    const cbWant = cbFlows.map((f) => JSON.stringify(referenceClassify(parseClassBench(cbText), parseFlow(f as never))));

    for (const [k, v] of KEYS) Object.defineProperty(Object.prototype, k, { value: v, writable: true, configurable: true, enumerable: false });
    const bad: string[] = [];
    for (const { doc, flows, want } of cases) {
      let config;
      try { config = parseConfig(doc); } catch (e) { bad.push(`parseConfig threw ${String(e)}`); continue; }
      const engine = await createEngine(config);
      const loaded = await createEngine({ snapshot: engine.snapshot() });
      for (const e of [engine, loaded]) {
        const batch = createFlowBatch(flows as never);
        e.classifyBatch(batch);
        flows.forEach((f, i) => {
          const got = JSON.stringify(batch.verdict(i));
          if (got !== want[i] && bad.length < 5) bad.push(`${JSON.stringify(f)} want ${want[i]} got ${got}`);
        });
      }
      flows.slice(0, 50).forEach((f, i) => {
        const got = JSON.stringify(referenceClassify(config, parseFlow(f as never)));
        if (got !== want[i] && bad.length < 5) bad.push(`reference: ${JSON.stringify(f)} want ${want[i]} got ${got}`);
      });
    }
    const cb = await createEngine(parseClassBench(cbText));
    cbFlows.forEach((f, i) => {
      const got = JSON.stringify(cb.classify(f as never));
      if (got !== cbWant[i]) bad.push(`classbench ${JSON.stringify(f)} want ${cbWant[i]} got ${got}`);
    });
    expect(bad).toEqual([]);
  }, 120_000);
});
