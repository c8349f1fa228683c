/**
 * A 100,000-prefix blocklist (80% IPv4 /16-/32, 20% IPv6 /32-/128; one drop rule
 * per prefix after a few port rules, then accept-all: bench/blocklist-policy.ts)
 * against Node's net.BlockList and npm CIDR matchers, all on the same addresses.
 *
 * Baselines (membership of one address string per call, as their APIs take it):
 *   - node:net BlockList (addSubnet per prefix; check(addr, family)): a linear scan,
 *     timed on a 40-address slice;
 *   - cidr-matcher 2.1.1 (the most used "fast CIDR matcher" on npm; a linear scan over
 *     ranges, IPv6 through ip6addr objects), timed on a 20-address slice;
 *   - arkime-iptrie 0.0.9 (a C binary trie, longest-prefix match, as a Node addon;
 *     the fastest npm matcher we found), on all addresses.
 * Slices keep the mix (see blocklistAddresses). sgfilter is timed twice: classifyBatch
 * on a packed batch, and createFlowBatch + classifyBatch from the address strings
 * (what the baselines are given). Flows are inbound TCP to port 443, which no port
 * rule names, so "drop" means "the address is listed"; every answer is checked
 * against arkime-iptrie (all) and BlockList / cidr-matcher (their slices) first.
 * Also: parse and compile time and table bytes at 100K rules (target compile ≤ 1 s).
 *
 *   npm run bench:blocklist          SGFILTER_BLOCKLIST_N=100000, SGFILTER_BENCH_QUICK=1
 */
import { BlockList } from 'node:net';
import { compilePolicy, createEngine, createFlowBatch, parseConfig, type CompileOptions, type FlowInput, type SgfilterError } from '../src/index.js';
import { blocklistAddresses, blocklistPolicy, blocklistPrefixes } from './blocklist-policy.js';
import { QUICK, fmtBytes, fmtNs, fmtX, suite, textTable, timeRuns, timeRunsWithin, writeResults, type Case } from './lib.js';

const N = Number(process.env.SGFILTER_BLOCKLIST_N ?? 100_000);
const ADDRS = 4096;
const BLOCKLIST_SLICE = 40;
const CIDR_MATCHER_SLICE = 20;
const VERIFY_SLICE = 200;

const prefixes = blocklistPrefixes(N);
const doc = blocklistPolicy(prefixes);
const ruleCount = doc.securityGroups[0]!.inbound!.length;
const { addrs } = blocklistAddresses(prefixes, ADDRS);
const family = addrs.map((a) => (a.includes(':') ? 'ipv6' : 'ipv4'));

// sgfilter: parse, compile (timed apart), engine.
const parse = timeRuns(QUICK ? 1 : 3, () => parseConfig(doc));
const config = parse.last;
// The default table limit (maxTableBytes, 512 MiB) may refuse this policy: record
// that, then measure lookups with the limit raised (SGFILTER_BLOCKLIST_MAX_TABLE_BYTES).
let compileError: { code: string; message: string; ms: number } | null = null;
let options: CompileOptions = {};
const t1 = performance.now();
try {
  compilePolicy(config); // also the warm-up of the timed runs below
} catch (e) {
  if ((e as SgfilterError).code !== 'TABLE_TOO_LARGE') throw e;
  compileError = { code: 'TABLE_TOO_LARGE', message: (e as Error).message, ms: performance.now() - t1 };
  options = { maxTableBytes: Number(process.env.SGFILTER_BLOCKLIST_MAX_TABLE_BYTES ?? 2 ** 32) };
  console.log(`!! default compile refused after ${compileError.ms.toFixed(0)} ms: ${compileError.message}\n   retrying with maxTableBytes ${options.maxTableBytes}`);
}
const firstMs = performance.now() - t1;
// A compile slower than 5 s is timed once (the warm-up counts); faster ones up to 3 times.
const compile = !compileError && firstMs > 5000 ? { medianMs: firstMs, runsMs: [firstMs] } : timeRunsWithin(QUICK ? 1 : 3, 5000, () => compilePolicy(config, options));
const t0 = performance.now();
const engine = await createEngine(config, options);
const engineMs = performance.now() - t0;
const inputs: FlowInput[] = addrs.map((remote) => ({ direction: 'inbound', protocol: 'TCP', port: 443, remote }));
const batch = createFlowBatch(inputs);
const out = new Uint8Array(ADDRS);
engine.classifyBatch(batch, out);
const listed = Array.from(out, (a) => a === 0);

// Baselines, with their build times.
const build: Record<string, number> = {};
let t = performance.now();
const blockList = new BlockList();
for (const p of prefixes) blockList.addSubnet(p.addr, p.len, p.v6 ? 'ipv6' : 'ipv4');
build['net.BlockList'] = performance.now() - t;

let cidrMatcher: { contains(a: string): boolean } | null = null;
try {
  const CidrMatcher = (await import('cidr-matcher')).default;
  t = performance.now();
  cidrMatcher = new CidrMatcher(prefixes.map((p) => `${p.addr}/${p.len}`));
  build['cidr-matcher'] = performance.now() - t;
} catch (e) {
  console.log(`cidr-matcher not available (${(e as Error).message}); npm install runs it`);
}
let ipTrie: { find(a: string): unknown } | null = null;
try {
  const { IPTrie } = (await import('arkime-iptrie')).default;
  t = performance.now();
  const trie = new IPTrie();
  for (const p of prefixes) trie.add(p.addr, p.len, 1);
  build['arkime-iptrie'] = performance.now() - t;
  ipTrie = trie;
} catch (e) {
  console.log(`arkime-iptrie not available (${(e as Error).message}); it is a native addon, not a dependency: npm install --no-save arkime-iptrie to include it`);
}

// Same answers on the same addresses, before timing.
const mismatches: Record<string, number> = {};
mismatches['net.BlockList'] = addrs.slice(0, VERIFY_SLICE).filter((a, i) => blockList.check(a, family[i]) !== listed[i]).length;
if (cidrMatcher) mismatches['cidr-matcher'] = addrs.slice(0, VERIFY_SLICE / 4).filter((a, i) => cidrMatcher!.contains(a) !== listed[i]).length;
if (ipTrie) mismatches['arkime-iptrie'] = addrs.filter((a, i) => (ipTrie!.find(a) !== undefined) !== listed[i]).length;
for (const [k, v] of Object.entries(mismatches)) if (v) console.log(`!! ${k}: ${v} answers differ from sgfilter`);
const hitRate = listed.filter(Boolean).length / ADDRS;

let sink = 0;
const blSlice = addrs.slice(0, BLOCKLIST_SLICE);
const cmSlice = addrs.slice(0, CIDR_MATCHER_SLICE);
const cases: Case[] = [
  { name: `sgfilter classifyBatch, packed batch (${ADDRS}/call)`, perCall: ADDRS, fn: () => void engine.classifyBatch(batch, out) },
  {
    name: `sgfilter createFlowBatch + classifyBatch, from strings (${ADDRS}/call)`,
    perCall: ADDRS,
    fn: () => void engine.classifyBatch(createFlowBatch(inputs), out),
  },
  {
    name: `node:net BlockList.check (${BLOCKLIST_SLICE}/call)`,
    perCall: BLOCKLIST_SLICE,
    fn: () => {
      for (let i = 0; i < blSlice.length; i++) sink += blockList.check(blSlice[i]!, family[i]) ? 1 : 0;
    },
  },
];
if (cidrMatcher) {
  const m = cidrMatcher;
  cases.push({
    name: `cidr-matcher contains (${CIDR_MATCHER_SLICE}/call)`,
    perCall: CIDR_MATCHER_SLICE,
    fn: () => {
      for (let i = 0; i < cmSlice.length; i++) sink += m.contains(cmSlice[i]!) ? 1 : 0;
    },
  });
}
if (ipTrie) {
  const tr = ipTrie;
  cases.push({
    name: `arkime-iptrie find (${ADDRS}/call)`,
    perCall: ADDRS,
    fn: () => {
      for (let i = 0; i < addrs.length; i++) sink += tr.find(addrs[i]!) !== undefined ? 1 : 0;
    },
  });
}
const results = await suite(`blocklist of ${N} prefixes`, 'blocklist', cases, { minSamples: 10 });
if (sink === 0.5) console.log(sink);

const sg = results[0]!.nsPerItem;
const sgStrings = results[1]!.nsPerItem;
console.log(`\nBlocklist: ${N} prefixes (${prefixes.filter((p) => !p.v6).length} IPv4, ${prefixes.filter((p) => p.v6).length} IPv6), ${ruleCount} rules; ${ADDRS} addresses, ${(hitRate * 100).toFixed(1)}% listed`);
console.log(
  textTable(
    ['matcher', 'ns/lookup', '÷ sgfilter packed', '÷ sgfilter from strings', 'build ms'],
    results.map((r, i) => [
      r.name,
      fmtNs(r.nsPerItem),
      i === 0 ? '1×' : fmtX(r.nsPerItem / sg),
      i === 1 ? '1×' : fmtX(r.nsPerItem / sgStrings),
      i === 0 ? (parse.medianMs + compile.medianMs).toFixed(0) : i === 1 ? '' : (build[r.name.split(' ')[0]!.replace('node:net', 'net.BlockList')] ?? NaN).toFixed(0),
    ]),
  ),
);
console.log(`sgfilter: parse ${parse.medianMs.toFixed(0)} ms, compile ${compile.medianMs.toFixed(0)} ms (median; target ≤ 1000 ms), createEngine ${engineMs.toFixed(0)} ms, table ${fmtBytes(engine.stats.total)}`);
console.log(`  by structure: ${JSON.stringify(engine.stats)}`);

writeResults('blocklist', {
  quick: QUICK,
  prefixes: N,
  v4: prefixes.filter((p) => !p.v6).length,
  v6: prefixes.filter((p) => p.v6).length,
  rules: ruleCount,
  addresses: ADDRS,
  hitRate,
  parseMs: parse.medianMs,
  compileMs: compile.medianMs,
  compileRunsMs: compile.runsMs,
  compileError,
  compileOptions: options,
  createEngineMs: engineMs,
  stats: { ...engine.stats },
  buildMs: build,
  mismatches,
  cases: results,
});
