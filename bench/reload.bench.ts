/**
 * Live policy costs (issue #4).
 *
 * 1. Publish latency, edit → visible: from the call of engine.update() / reload()
 *    until the next classify() sees the new verdict (a probe flow whose deciding
 *    rule the edit flips), for 100- and 10K-rule synthetic policies
 *    (bench/policies.ts) and 10K- and 100K-prefix blocklists
 *    (bench/blocklist-policy.ts). Three ways to publish: update() replacing one rule,
 *    reload() of a validated Config, reload() of a config document (parse too).
 *    compilePolicy alone is timed beside them: the rest is the publish itself.
 * 2. classifyBatch throughput while publishes run (alternating: one publish every
 *    K batches of 4,096 flows) against no publishes: classify time only (what a
 *    publish does to the lookups after it: cold caches) and wall time including
 *    the publishes (what a caller that also publishes gets).
 *
 *   npm run bench:reload              SGFILTER_BENCH_QUICK=1 for a short run
 */
import { compilePolicy, createEngine, createFlowBatch, parseConfig, type ConfigInput, type Engine, type FlowInput, type RuleInput } from '../src/index.js';
import { syntheticFlows, syntheticPolicy } from './policies.js';
import { blocklistPolicy, blocklistPrefixes } from './blocklist-policy.js';
import { QUICK, fmtNs, fmtX, median, textTable, writeResults } from './lib.js';

const FLOWS = 4096;

interface Subject {
  name: string;
  rules: number;
  doc: ConfigInput;
  groupId: string;
  runs: number;
}

const subjects: Subject[] = [
  { name: 'synthetic 100', rules: 100, doc: syntheticPolicy(100).config, groupId: 'sg-bench', runs: QUICK ? 5 : 30 },
  { name: 'synthetic 10K', rules: 10_000, doc: syntheticPolicy(10_000).config, groupId: 'sg-bench', runs: QUICK ? 3 : 9 },
  { name: 'blocklist 10K', rules: 10_000, doc: blocklistPolicy(blocklistPrefixes(10_000 - 5)), groupId: 'sg-blocklist', runs: QUICK ? 3 : 9 },
  { name: 'blocklist 100K', rules: 100_000, doc: blocklistPolicy(blocklistPrefixes(100_000 - 5)), groupId: 'sg-blocklist', runs: QUICK ? 1 : 3 },
];

/** The probe: a flow nothing else decides first once rule 0 names it exactly. */
const PROBE: FlowInput = { direction: 'inbound', protocol: 'TCP', port: 7, remote: '192.0.2.1' };
const probeRule = (action: 'accept' | 'drop'): RuleInput => ({ protocol: 'TCP', port: 7, source: '192.0.2.1', action });
/** The subject's document with rule 0 replaced by the probe rule. */
function withProbe(doc: ConfigInput, action: 'accept' | 'drop'): ConfigInput {
  const [g, ...rest] = doc.securityGroups;
  return { ...doc, securityGroups: [{ ...g!, inbound: [probeRule(action), ...g!.inbound!.slice(1)] }, ...rest] };
}

/** ms from `publish()` to the first classify of PROBE that returns `want`. */
async function visible(engine: Engine, want: 'accept' | 'drop', publish: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await publish();
  const v = engine.classify(PROBE);
  const ms = performance.now() - t0;
  if (v.action !== want || v.ruleIndex !== 0) throw new Error(`the edit is not visible: ${JSON.stringify(v)}`);
  return ms;
}

interface Latency {
  policy: string;
  rules: number;
  tableBytes: number;
  compileMs: number;
  updateMs: number;
  reloadConfigMs: number;
  reloadDocMs: number;
  runs: number;
}

const latencies: Latency[] = [];
for (const s of subjects) {
  const docs = { accept: withProbe(s.doc, 'accept'), drop: withProbe(s.doc, 'drop') };
  const configs = { accept: parseConfig(docs.accept), drop: parseConfig(docs.drop) };
  const engine = await createEngine(configs.drop);
  const compile: number[] = [];
  const update: number[] = [];
  const reloadConfig: number[] = [];
  const reloadDoc: number[] = [];
  let flip: 'accept' | 'drop' = 'drop';
  const next = () => (flip = flip === 'accept' ? 'drop' : 'accept');
  // One untimed round of each (warm-up), then the timed runs.
  for (let run = -1; run < s.runs; run++) {
    const t0 = performance.now();
    compilePolicy(configs[flip]);
    if (run >= 0) compile.push(performance.now() - t0);
    const u = await visible(engine, next(), () => engine.update((tx) => tx.replaceRule(s.groupId, 'inbound', 0, probeRule(flip))));
    const c = await visible(engine, next(), () => engine.reload(configs[flip]));
    const d = await visible(engine, next(), () => engine.reload(docs[flip]));
    if (run >= 0) {
      update.push(u);
      reloadConfig.push(c);
      reloadDoc.push(d);
    }
  }
  latencies.push({
    policy: s.name, rules: s.rules, tableBytes: engine.stats.total, runs: s.runs,
    compileMs: median(compile), updateMs: median(update), reloadConfigMs: median(reloadConfig), reloadDocMs: median(reloadDoc),
  });
  console.log(`${s.name}: update ${median(update).toFixed(1)} ms, reload(Config) ${median(reloadConfig).toFixed(1)} ms, reload(doc) ${median(reloadDoc).toFixed(1)} ms, compile ${median(compile).toFixed(1)} ms`);
}

const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
console.log('\npublish latency, edit → visible (median ms; the probe flow is classified right after the publish resolves)');
console.log(textTable(
  ['policy', 'table', 'compilePolicy', 'update() 1 rule', 'reload(Config)', 'reload(doc)', 'update ÷ compile', 'runs'],
  latencies.map((l) => [l.policy, `${(l.tableBytes / 1e6).toFixed(2)} MB`, ms(l.compileMs), ms(l.updateMs), ms(l.reloadConfigMs), ms(l.reloadDocMs), fmtX(l.updateMs / l.compileMs), l.runs]),
));

// ---------------------------------------------------------------- throughput while publishing

interface Throughput {
  policy: string;
  every: number;
  baselineNs: number;
  classifyNs: number;
  firstBatchNs: number;
  wallNs: number;
  publishMs: number;
}

const throughput: Throughput[] = [];
for (const s of subjects.slice(0, 2)) {
  const { prefixes } = syntheticPolicy(s.rules);
  const batch = createFlowBatch(syntheticFlows(prefixes, FLOWS));
  const out = new Uint8Array(FLOWS);
  const configs = { accept: parseConfig(withProbe(s.doc, 'accept')), drop: parseConfig(withProbe(s.doc, 'drop')) };
  const engine = await createEngine(configs.drop);
  for (let i = 0; i < 50; i++) engine.classifyBatch(batch, out);

  // No publishes: median of runs of 50 batches.
  const base: number[] = [];
  for (let run = 0; run < (QUICK ? 5 : 15); run++) {
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) engine.classifyBatch(batch, out);
    base.push(((performance.now() - t0) * 1e6) / (50 * FLOWS));
  }
  const baselineNs = median(base);

  for (const every of [1, 10, 100]) {
    const rounds = QUICK ? 3 : s.rules >= 10_000 ? Math.max(5, Math.round(200 / every)) : Math.max(10, Math.round(2000 / every));
    let classifyMs = 0;
    let publishMs = 0;
    const first: number[] = [];
    let flip: 'accept' | 'drop' = 'drop';
    const w0 = performance.now();
    for (let r = 0; r < rounds; r++) {
      flip = flip === 'accept' ? 'drop' : 'accept';
      const p0 = performance.now();
      // Alternate the two ways of publishing: a one-rule transaction and a whole reload.
      if (r % 2) await engine.update((tx) => tx.replaceRule(s.groupId, 'inbound', 0, probeRule(flip)));
      else await engine.reload(configs[flip]);
      publishMs += performance.now() - p0;
      for (let i = 0; i < every; i++) {
        const t0 = performance.now();
        engine.classifyBatch(batch, out);
        const dt = performance.now() - t0;
        classifyMs += dt;
        if (i === 0) first.push((dt * 1e6) / FLOWS);
      }
    }
    const wallMs = performance.now() - w0;
    const flows = rounds * every * FLOWS;
    throughput.push({
      policy: s.name, every, baselineNs,
      classifyNs: (classifyMs * 1e6) / flows,
      firstBatchNs: median(first),
      wallNs: (wallMs * 1e6) / flows,
      publishMs: publishMs / rounds,
    });
  }
}

console.log(`\nclassifyBatch (${FLOWS} flows per call) while publishing: one publish (update() and reload() alternately) every K batches`);
console.log(textTable(
  ['policy', 'K', 'ns/flow, no publishes', 'ns/flow, classify only', 'ratio', '1st batch after publish', 'ratio', 'ns/flow, wall incl. publishes', 'throughput ratio', 'ms/publish'],
  throughput.map((t) => [
    t.policy, t.every, fmtNs(t.baselineNs), fmtNs(t.classifyNs), fmtX(t.classifyNs / t.baselineNs), fmtNs(t.firstBatchNs), fmtX(t.firstBatchNs / t.baselineNs),
    fmtNs(t.wallNs), fmtX(t.baselineNs / t.wallNs), ms(t.publishMs),
  ]),
));
console.log('ratio: classify time per flow with publishes ÷ without (1.00× = unaffected); throughput ratio: flows/s with publishes ÷ without');

writeResults('reload', { flowsPerBatch: FLOWS, latencies, throughput });
