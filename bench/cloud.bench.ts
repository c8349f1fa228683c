/**
 * The cloud-realistic policy of issue #3 (bench/cloud-policy.ts): 5 groups × 100
 * rules per direction, IPv4 + IPv6, lists and ranges, one instance bound to the 5
 * groups; a flow mix in both directions. Target: classifyBatch ≤ 25 ns per flow.
 *
 * Verifies every flow against the reference matcher, then times side by side:
 * classifyBatch on 4,096 flows per call, and the reference on a slice.
 *
 *   npm run bench:cloud              SGFILTER_BENCH_QUICK=1 for a short run
 */
import { compilePolicy, createEngine, createFlowBatch, parseConfig, parseFlow, referenceClassify } from '../src/index.js';
import { cloudFlows, cloudPolicy, CLOUD_GROUPS, CLOUD_RULES_PER_DIRECTION } from './cloud-policy.js';
import { QUICK, fmtBytes, fmtNs, fmtX, suite, textTable, timeRuns, writeResults } from './lib.js';

const FLOWS = 4096;
const REF_FLOWS = 256;
const TARGET_NS = 25;

const { config: doc, aims } = cloudPolicy();
const parse = timeRuns(QUICK ? 2 : 5, () => parseConfig(doc));
const config = parse.last;
const compile = timeRuns(QUICK ? 2 : 9, () => compilePolicy(config));
const engine = await createEngine(config);
const inputs = cloudFlows(aims, FLOWS);
const flows = inputs.map(parseFlow);
const batch = createFlowBatch(flows);
const out = new Uint8Array(FLOWS);

// Correctness first: every flow against the reference.
engine.classifyBatch(batch, out);
let mismatches = 0;
const decided = { accept: 0, drop: 0, defaultDrop: 0 };
for (let i = 0; i < FLOWS; i++) {
  const want = referenceClassify(config, flows[i]!);
  const got = batch.verdict(i);
  if (want.action !== got.action || want.groupId !== got.groupId || want.ruleIndex !== got.ruleIndex) mismatches++;
  if (got.ruleIndex === null) decided.defaultDrop++;
  else decided[got.action]++;
}
if (mismatches) console.log(`!! cloud policy: ${mismatches} of ${FLOWS} flows differ from the reference`);
const mix = {
  inbound: flows.filter((f) => f.direction === 'inbound').length,
  v6: flows.filter((f) => f.remote.v6).length,
  ...decided,
};

const refFlows = flows.slice(0, REF_FLOWS);
let sink = 0;
const [s, r] = await suite(`cloud policy: ${CLOUD_GROUPS} groups × ${CLOUD_RULES_PER_DIRECTION} rules per direction`, 'cloud', [
  { name: `sgfilter classifyBatch (${FLOWS} flows/call)`, perCall: FLOWS, fn: () => void engine.classifyBatch(batch, out) },
  {
    name: `reference matcher (${REF_FLOWS} flows/call)`,
    perCall: REF_FLOWS,
    fn: () => {
      for (const f of refFlows) sink += referenceClassify(config, f).action === 'accept' ? 1 : 0;
    },
  },
]);
if (sink === 0.5) console.log(sink);

const rules = config.securityGroups.reduce((n, g) => n + g.inbound.length + g.outbound.length, 0);
console.log(`\nCloud-realistic policy: ${rules} rules (${CLOUD_GROUPS} groups × ${CLOUD_RULES_PER_DIRECTION} per direction), ${engine.stats.boxes} boxes, ${engine.stats.classifiers} classifiers`);
console.log(`flows: ${FLOWS} (${mix.inbound} inbound, ${mix.v6} IPv6; ${mix.accept} accepted, ${mix.drop} dropped by a rule, ${mix.defaultDrop} by default), mismatches vs reference: ${mismatches}`);
console.log(
  textTable(
    ['case', 'ns/flow', 'ratio', 'target'],
    [
      ['sgfilter classifyBatch', fmtNs(s!.nsPerItem), '1×', `≤ ${TARGET_NS} ns: ${s!.nsPerItem <= TARGET_NS ? 'met' : 'not met'}`],
      ['reference matcher', fmtNs(r!.nsPerItem), fmtX(r!.nsPerItem / s!.nsPerItem), ''],
    ],
  ),
);
console.log(`parse ${parse.medianMs.toFixed(1)} ms, compile ${compile.medianMs.toFixed(1)} ms (median), table ${fmtBytes(engine.stats.total)}: ${JSON.stringify(engine.stats)}`);

writeResults('cloud', {
  quick: QUICK,
  groups: CLOUD_GROUPS,
  rulesPerDirection: CLOUD_RULES_PER_DIRECTION,
  rules,
  flows: FLOWS,
  mix,
  mismatches,
  parseMs: parse.medianMs,
  compileMs: compile.medianMs,
  compileRunsMs: compile.runsMs,
  stats: { ...engine.stats },
  sgfilterNs: s!.nsPerItem,
  referenceNs: r!.nsPerItem,
  referenceSample: REF_FLOWS,
  targetNs: TARGET_NS,
  rme: { sgfilter: s!.rme, reference: r!.rme },
});
