#!/usr/bin/env node
/**
 * The `sgfilter` command.
 *
 *   sgfilter check CONFIG                    validate a config, print a summary
 *   sgfilter eval CONFIG FLOWS [--summary]   classify JSON-lines flows (FLOWS may be -)
 *   sgfilter explain CONFIG --flow JSON      walk the rules for one flow, in plain words
 *   sgfilter demo [CONFIG] [FLOWS]           the seed scenarios: a verdict table and rule hits
 *   sgfilter classbench FILTERS TRACE [--out FILE]
 *                                            check and time the engine on a ClassBench set and trace
 *   sgfilter proxy --config FILE --listen HOST:PORT --upstream HOST:PORT [--instance ID]
 *                                            filtering TCP proxy; the config is hot-reloaded
 *   sgfilter watch CONFIG [--flows FILE]     publish each valid save of CONFIG; report refused ones
 *   sgfilter compile CONFIG -o FILE          compile once, write the policy snapshot (edge workers load it)
 *
 * Exit codes: 0 ok; 1 invalid input (config, flows, unknown instance) or ClassBench
 * mismatches; 2 usage error.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { createEngine, parseClassBench, parseClassBenchTrace, SNAPSHOT_FORMAT } from './index.js';
import { nodeWasmBytes } from './wasm/node.js';
import { createFlowBatch, validateFlow } from './flow.js';
import { safeLoadConfigFile } from './node/config-file.js';
import { watchConfig } from './node/watch.js';
import { referenceExplain } from './reference.js';
import { SgfilterError, formatPath, type Issue } from './errors.js';
import { parseHostPort, startProxy, type HostPort } from './node/proxy.js';
import { PRESETS, protocolLabel } from './config/presets.js';
import { formatPorts } from './config/ports.js';
import type { Config, Flow, Rule, Verdict } from './types.js';

/** Exit codes (documented in --help). */
const EXIT_OK = 0;
const EXIT_INVALID = 1;
const EXIT_USAGE = 2;

/** At most this many bad flow lines are listed (the count of the rest is given). */
const MAX_LINE_ERRORS = 20;

/** classbench: at most this many mismatching trace lines are listed. */
const MAX_MISMATCHES_SHOWN = 10;
/** classbench: untimed warm-up runs, then timed runs (the median is reported). */
const BENCH_WARMUP_RUNS = 3;
const BENCH_TIMED_RUNS = 9;
/** classbench: a timed run repeats a short trace until it covers at least this many lookups. */
const BENCH_MIN_LOOKUPS_PER_RUN = 100_000;

/** An error the CLI reports as is (message to stderr) with its exit code. */
class CliError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT_INVALID) {
    super(message);
  }
}

// ---------------------------------------------------------------- small helpers

const plural = (n: number, word: string, many = `${word}s`): string => `${n} ${n === 1 ? word : many}`;

/** 12345 → "12,345" (fixed locale, so output does not depend on the machine). */
const grouped = (n: number): string => n.toLocaleString('en-US');
/** plural() with the count grouped: "9,380 trace lines". */
const count = (n: number, word: string, many = `${word}s`): string => `${grouped(n)} ${n === 1 ? word : many}`;

/** The package root (where package.json is), from dist/src/cli.js or src/cli.ts alike. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'examples'))) return dir;
    const up = dirname(dir);
    if (up === dir) return dirname(dirname(fileURLToPath(import.meta.url)));
    dir = up;
  }
}

/** A path relative to the working directory when it is below it, else as given. */
function displayPath(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : p;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Writes text to stdout in chunks (so a million verdicts do not build one giant string). */
function writeLines(lines: string[], chunk = 8192): void {
  for (let i = 0; i < lines.length; i += chunk) process.stdout.write(lines.slice(i, i + chunk).join('\n') + '\n');
}

function formatIssue(issue: Issue): string {
  return `  ${issue.code} at ${formatPath(issue.path)}: ${issue.message}`;
}

// ---------------------------------------------------------------- config

/** Reads and validates a config file; unreadable or unparsable files become a CliError. */
async function readConfig(path: string): Promise<{ success: true; config: Config } | { success: false; issues: Issue[] }> {
  try {
    return await safeLoadConfigFile(path);
  } catch (e) {
    if (e instanceof SgfilterError) throw new CliError(`error: ${e.message}`);
    throw e;
  }
}

function invalidConfigMessage(path: string, issues: Issue[]): string {
  return [`error: invalid config ${path}: ${plural(issues.length, 'issue')}`, ...issues.map(formatIssue)].join('\n');
}

/** Loads a config that must be valid (eval, explain, demo). */
async function loadConfig(path: string): Promise<Config> {
  const r = await readConfig(path);
  if (!r.success) throw new CliError(invalidConfigMessage(path, r.issues));
  return r.config;
}

// ---------------------------------------------------------------- rules and verdicts in words

/** A rule as the user wrote it: "TCP port 22 from 0.0.0.0/0", "linux-login (TCP 22) from ...". */
function ruleText(rule: Rule): string {
  const proto = rule.text.protocol;
  let what: string;
  if (proto in PRESETS && proto !== 'custom') {
    const label = rule.protocol === 'ping' ? 'ICMP/ICMPv6' : protocolLabel(rule.protocol);
    what = `${proto} (${label}${rule.ports ? ` ${formatPorts(rule.ports)}` : ''})`;
  } else {
    what = proto === 'undefined' ? protocolLabel(rule.protocol) : proto;
    if (rule.ports) what += ` port ${rule.text.port}`;
  }
  let text = `${what} ${rule.direction === 'inbound' ? 'from' : 'to'} ${rule.text.peer}`;
  if (rule.local) text += ', localCidr set';
  if (rule.sourcePorts) text += ` source port ${formatPorts(rule.sourcePorts)}`;
  if (rule.icmpType !== null) text += ` icmpType ${rule.icmpType}`;
  if (rule.icmpCode !== null) text += ` icmpCode ${rule.icmpCode}`;
  return text;
}

function ruleLabel(rule: Rule): string {
  const from = rule.template ? `, from template ${rule.template}` : '';
  const desc = rule.description ? ` "${rule.description}"` : '';
  return `group ${rule.groupId} ${rule.direction} rule ${rule.ruleIndex} (${ruleText(rule)}${from})${desc}`;
}

/** "sg-web inbound #0" or "default drop". */
function decidedBy(v: Verdict, direction: string): string {
  return v.groupId === null ? 'default drop' : `${v.groupId} ${direction} #${v.ruleIndex}`;
}

function verdictJson(v: Verdict): string {
  return JSON.stringify({ action: v.action, groupId: v.groupId, ruleIndex: v.ruleIndex });
}

const sameVerdict = (a: Verdict, b: Verdict): boolean =>
  a.action === b.action && a.groupId === b.groupId && a.ruleIndex === b.ruleIndex;

// ---------------------------------------------------------------- flows

interface FlowLine {
  /** 1-based line number in the input. */
  line: number;
  raw: Record<string, unknown>;
  flow: Flow;
}

async function readFlowText(path: string): Promise<string> {
  if (path === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new CliError(`error: cannot read flows file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * Parses every non-blank line of a JSON-lines flow file and checks each flow's instance
 * against the config. All bad lines are reported together (line numbers are 1-based).
 */
function parseFlowLines(text: string, name: string, config: Config): FlowLine[] {
  const out: FlowLine[] = [];
  const errors: string[] = [];
  const instances = new Set(config.instances.map((i) => i.id));
  const lines = text.split(/\r?\n/);
  lines.forEach((content, i) => {
    if (content.trim() === '') return;
    const line = i + 1;
    let raw: unknown;
    try {
      raw = JSON.parse(content);
    } catch (e) {
      errors.push(`${name} line ${line}: not valid JSON: ${(e as Error).message}`);
      return;
    }
    const issues: Issue[] = [];
    const flow = validateFlow(raw, [], issues);
    if (!flow) {
      for (const issue of issues) errors.push(`${name} line ${line}: ${issue.message}`);
      return;
    }
    if (flow.instance !== null && !instances.has(flow.instance)) {
      errors.push(`${name} line ${line}: unknown instance "${flow.instance}"; the config has: ${[...instances].join(', ')}`);
      return;
    }
    out.push({ line, raw: raw as Record<string, unknown>, flow });
  });
  if (errors.length) {
    const shown = errors.slice(0, MAX_LINE_ERRORS);
    if (errors.length > shown.length) shown.push(`... and ${errors.length - shown.length} more`);
    throw new CliError(`error: ${plural(errors.length, 'invalid flow line')} in ${name}; nothing was classified\n${shown.map((e) => `  ${e}`).join('\n')}`);
  }
  return out;
}

async function readFlows(path: string, config: Config): Promise<FlowLine[]> {
  return parseFlowLines(await readFlowText(path), path === '-' ? 'stdin' : path, config);
}

/** Classifies all flows with one batch; returns their verdicts in input order. */
async function classifyAll(config: Config, flows: FlowLine[]): Promise<Verdict[]> {
  const engine = await createEngine(config);
  const batch = createFlowBatch(flows.map((f) => f.flow));
  engine.classifyBatch(batch);
  return flows.map((_, i) => batch.verdict(i));
}

/** "ins-1 inbound TCP 22 from 198.51.100.7", from the flow as written. */
function flowText(raw: Record<string, unknown>, config: Config): string {
  const instance = typeof raw.instance === 'string' ? raw.instance : `${config.instances[0]?.id ?? 'default'}`;
  const dir = String(raw.direction).toLowerCase();
  let text = `${instance} ${dir} ${String(raw.protocol)}`;
  if (raw.port !== undefined) text += ` ${String(raw.port)}`;
  if (raw.icmpType !== undefined) text += ` type ${String(raw.icmpType)}`;
  text += ` ${dir === 'inbound' ? 'from' : 'to'} ${String(raw.remote)}`;
  return text;
}

// ---------------------------------------------------------------- commands

async function checkCommand(path: string): Promise<void> {
  const r = await readConfig(path);
  if (!r.success) throw new CliError(invalidConfigMessage(path, r.issues));
  const { config } = r;
  const out: string[] = [`${path}: valid`, '', `${plural(config.securityGroups.length, 'security group')}:`];
  for (const g of config.securityGroups) {
    const count = (rules: Rule[]) => {
      const fromTemplate = rules.filter((x) => x.template).length;
      return `${plural(rules.length, 'rule')}${fromTemplate ? ` (${fromTemplate} from template ${g.template})` : ''}`;
    };
    const name = g.name ? ` "${g.name}"` : '';
    const template = g.template !== 'custom' ? ` [template ${g.template}]` : '';
    out.push(`  ${g.id}${name}${template}: inbound ${count(g.inbound)}, outbound ${count(g.outbound)}`);
  }
  out.push('');
  if (config.implicitInstance) {
    out.push(`1 instance (implicit): default, bound to all groups in file order: ${config.instances[0]!.securityGroups.join(' > ') || '(none)'}`);
  } else {
    out.push(`${plural(config.instances.length, 'instance')} (groups in priority order, highest first):`);
    for (const inst of config.instances) out.push(`  ${inst.id}: ${inst.securityGroups.join(' > ') || '(no groups: everything is dropped)'}`);
  }
  out.push('');
  if (config.warnings.length === 0) out.push('no warnings');
  else {
    out.push(`${plural(config.warnings.length, 'warning')}:`);
    for (const w of config.warnings) out.push(`  ${formatPath(w.path)}: ${w.message}`);
  }
  writeLines(out);
}

async function evalCommand(configPath: string, flowsPath: string, opts: { summary?: boolean }): Promise<void> {
  const config = await loadConfig(configPath);
  const flows = await readFlows(flowsPath, config);
  const verdicts = await classifyAll(config, flows);
  writeLines(verdicts.map(verdictJson));
  if (opts.summary) {
    const accepted = verdicts.filter((v) => v.action === 'accept').length;
    const byDefault = verdicts.filter((v) => v.groupId === null).length;
    process.stderr.write(`${plural(verdicts.length, 'flow')}: ${accepted} accepted, ${verdicts.length - accepted} dropped (${byDefault} by the default drop)\n`);
  }
}

async function explainCommand(configPath: string, opts: { flow: string }): Promise<void> {
  const config = await loadConfig(configPath);
  let raw: unknown;
  try {
    raw = JSON.parse(opts.flow);
  } catch (e) {
    throw new CliError(`error: --flow is not valid JSON: ${(e as Error).message}\n  example: --flow '{"direction":"inbound","protocol":"TCP","port":22,"remote":"198.51.100.7"}'`);
  }
  const issues: Issue[] = [];
  const flow = validateFlow(raw, [], issues);
  if (!flow) throw new CliError(`error: --flow is not a valid flow:\n${issues.map((i) => `  ${i.message}`).join('\n')}`);
  const instanceId = flow.instance ?? config.instances[0]!.id;
  const instance = config.instances.find((i) => i.id === instanceId);
  if (!instance) {
    throw new CliError(`error: unknown instance "${instanceId}"; the config has: ${config.instances.map((i) => i.id).join(', ')}`);
  }

  const { verdict, steps } = referenceExplain(config, flow);
  const out: string[] = [
    `flow: ${flowText(raw as Record<string, unknown>, config)}`,
    `instance ${instance.id}${flow.instance === null ? ' (the default instance)' : ''}: groups ${instance.securityGroups.join(' > ') || '(none)'} (highest priority first); ${flow.direction} rules considered`,
    '',
  ];
  for (const { rule, reason } of steps) {
    out.push(reason === null ? `${ruleLabel(rule)}: MATCH → ${rule.action}` : `${ruleLabel(rule)}: no match — ${reason}`);
  }
  if (steps.length === 0) out.push(`(no ${flow.direction} rules in any of the instance's groups)`);
  out.push('');
  if (verdict.groupId === null) {
    const closed = flow.direction === 'inbound' ? 'inbound is closed by default' : 'outbound is closed unless a rule opens it';
    out.push(`verdict: drop — no rule matched, the default applies (${closed})`);
  } else {
    out.push(`verdict: ${verdict.action} — decided by group ${verdict.groupId} ${flow.direction} rule ${verdict.ruleIndex}`);
  }
  writeLines(out);

  const engine = await createEngine(config);
  const fast = engine.classify(flow);
  if (!sameVerdict(fast, verdict)) {
    throw new CliError(
      `WARNING: ENGINE AND REFERENCE DISAGREE: the WASM engine says ${verdictJson(fast)}, the reference matcher says ${verdictJson(verdict)}. This is a bug in sgfilter; please report it with this config and flow.`,
    );
  }
}

/** Pads the columns of a table to their widest cell. */
function table(rows: string[][], rightAlign: Set<number> = new Set()): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (rightAlign.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd());
}

async function demoCommand(configArg: string | undefined, flowsArg: string | undefined): Promise<void> {
  const root = packageRoot();
  const configPath = configArg ?? join(root, 'examples', 'seed-scenarios.yaml');
  const flowsPath = flowsArg ?? join(root, 'examples', 'flows.jsonl');
  const config = await loadConfig(configPath);
  const flows = await readFlows(flowsPath, config);
  const verdicts = await classifyAll(config, flows);

  const out: string[] = [
    `sgfilter demo: ${plural(config.securityGroups.length, 'security group')}, ${plural(config.instances.length, 'instance')}, ${plural(flows.length, 'flow')}`,
    `  config: ${displayPath(configPath)}`,
    `  flows:  ${displayPath(flowsPath)}`,
    '',
  ];
  const rows = [['line', 'flow', 'verdict', 'decided by'], ...flows.map((f, i) => [
    String(f.line),
    flowText(f.raw, config),
    verdicts[i]!.action,
    decidedBy(verdicts[i]!, f.flow.direction),
  ])];
  const lines = table(rows, new Set([0]));
  out.push(lines[0]!, '-'.repeat(lines[0]!.length), ...lines.slice(1), '');

  // Hits per rule: every rule of every group, so unused rules show up as 0.
  const hits = new Map<string, number>();
  let defaultDrops = 0;
  flows.forEach((f, i) => {
    const v = verdicts[i]!;
    if (v.groupId === null) defaultDrops++;
    else {
      const key = `${v.groupId}\u0000${f.flow.direction}\u0000${v.ruleIndex}`;
      hits.set(key, (hits.get(key) ?? 0) + 1);
    }
  });
  const hitRows = [['group', 'direction', 'rule', 'action', 'description', 'hits']];
  for (const g of config.securityGroups) {
    for (const rule of [...g.inbound, ...g.outbound]) {
      const desc = rule.description ?? ruleText(rule);
      hitRows.push([g.id, rule.direction, String(rule.ruleIndex), rule.action, desc, String(hits.get(`${g.id}\u0000${rule.direction}\u0000${rule.ruleIndex}`) ?? 0)]);
    }
  }
  hitRows.push(['(none)', '', '', 'drop', 'default drop: no rule matched', String(defaultDrops)]);
  const hitLines = table(hitRows, new Set([2, 5]));
  out.push('rule hits:', hitLines[0]!, '-'.repeat(hitLines[0]!.length), ...hitLines.slice(1), '');

  const accepted = verdicts.filter((v) => v.action === 'accept').length;
  out.push(`totals: ${plural(flows.length, 'flow')}, ${accepted} accepted, ${flows.length - accepted} dropped (${defaultDrops} by the default drop)`);
  writeLines(out);
}

// ---------------------------------------------------------------- classbench

async function readTextFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new CliError(`error: cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * For each trace entry (the parser skips blank lines the same way): its 1-based line
 * number in the file, and whether it has the 6th column (the expected rule).
 */
function traceLines(text: string): { lineNo: number[]; hasExpected: boolean[] } {
  const lineNo: number[] = [];
  const hasExpected: boolean[] = [];
  text.split('\n').forEach((line, i) => {
    const t = line.trim();
    if (t === '') return;
    lineNo.push(i + 1);
    hasExpected.push(t.split(/\s+/).length === 6);
  });
  return { lineNo, hasExpected };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Runs a ClassBench filter set against its header trace: the rule the engine chooses
 * for each trace line (1-based, 0 for none) against the trace's 6th column, and the
 * median lookup time over several runs of the whole trace. A line without a 6th
 * column expects nothing and is not counted as a mismatch, whatever rule matches.
 */
async function classbenchCommand(filtersPath: string, tracePath: string, opts: { out?: string }): Promise<void> {
  const [filterText, traceText] = await Promise.all([readTextFile(filtersPath, 'filter set'), readTextFile(tracePath, 'trace')]);
  // Parse both files first, so a bad filter set and a bad trace are reported together.
  const errors: string[] = [];
  const parse = <T>(fn: () => T, path: string): T | undefined => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof SgfilterError && (e.code === 'CONFIG_INVALID' || e.code === 'FLOW_INVALID')) {
        errors.push(`error: ${path}: ${e.message}`);
        return undefined;
      }
      throw e;
    }
  };
  const config = parse(() => parseClassBench(filterText), filtersPath);
  const trace = parse(() => parseClassBenchTrace(traceText), tracePath);
  if (!config || !trace) throw new CliError(errors.join('\n'));
  const { batch, expected } = trace;
  const n = batch.length;
  const { lineNo, hasExpected } = traceLines(traceText);
  const rules = config.securityGroups[0]!.inbound.length;

  // Compile (the WASM module is compiled beforehand, so this is the policy's compile and load).
  const wasm = await WebAssembly.compile(await nodeWasmBytes());
  const t0 = process.hrtime.bigint();
  const engine = await createEngine(config, { wasm });
  const compileMs = Number(process.hrtime.bigint() - t0) / 1e6;

  // Lookup time: warm up, then time whole-trace runs (a short trace is repeated within a run).
  const actions = new Uint8Array(n);
  const reps = n === 0 ? 1 : Math.max(1, Math.ceil(BENCH_MIN_LOOKUPS_PER_RUN / n));
  for (let i = 0; i < BENCH_WARMUP_RUNS; i++) engine.classifyBatch(batch, actions);
  const samples: number[] = [];
  for (let r = 0; r < BENCH_TIMED_RUNS; r++) {
    const start = process.hrtime.bigint();
    for (let k = 0; k < reps; k++) engine.classifyBatch(batch, actions);
    samples.push(Number(process.hrtime.bigint() - start) / (reps * Math.max(1, n)));
  }
  const nsPerLookup = median(samples);

  // Compare: rule ids are global ids, and the set is one group with inbound rules only,
  // so id + 1 is the 1-based rule number; -1 (no rule) becomes 0.
  const chosen = new Int32Array(n);
  const mismatches: string[] = [];
  let mismatchCount = 0;
  let unchecked = 0;
  for (let i = 0; i < n; i++) {
    chosen[i] = batch.ruleIds[i]! + 1;
    if (!hasExpected[i]) {
      unchecked++;
      continue;
    }
    if (chosen[i] !== expected[i]) {
      mismatchCount++;
      if (mismatches.length < MAX_MISMATCHES_SHOWN) mismatches.push(`  line ${lineNo[i]}: chosen rule ${chosen[i]}, trace expects ${expected[i]}`);
    }
  }

  if (opts.out !== undefined) {
    try {
      await writeFile(opts.out, n === 0 ? '' : `${Array.from(chosen).join('\n')}\n`);
    } catch (e) {
      throw new CliError(`error: cannot write --out file ${opts.out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }

  const stats = engine.stats;
  const checked = n - unchecked;
  const out: string[] = [
    `sgfilter classbench: ${basename(filtersPath)} (${count(rules, 'rule')}), ${basename(tracePath)} (${count(n, 'trace line')})`,
    `  filters: ${displayPath(filtersPath)}`,
    `  trace:   ${displayPath(tracePath)}`,
    `  compile: ${compileMs.toFixed(1)} ms, table ${grouped(stats.total)} bytes (bitmaps ${grouped(stats.bitmaps)}, tries ${grouped(stats.tries)}, intervals ${grouped(stats.intervals)})`,
    `  lookup:  ${n === 0 ? 'n/a (empty trace)' : `${nsPerLookup.toFixed(1)} ns/lookup (median of ${BENCH_TIMED_RUNS} timed runs of ${reps === 1 ? 'the trace' : `the trace ×${reps}`}, after ${BENCH_WARMUP_RUNS} warm-up runs)`}`,
    `  result:  ${count(mismatchCount, 'mismatch', 'mismatches')} in ${count(checked, 'checked line')}${unchecked ? ` (${grouped(unchecked)} without an expected rule, not checked)` : ''}`,
    ...mismatches,
  ];
  if (mismatchCount > mismatches.length) out.push(`  ... and ${grouped(mismatchCount - mismatches.length)} more`);
  if (opts.out !== undefined) out.push(`  chosen rules written to ${displayPath(opts.out)} (one line per trace line, 0 = no rule)`);
  writeLines(out);
  if (mismatchCount > 0) {
    throw new CliError(`error: ${count(mismatchCount, 'mismatch', 'mismatches')} between the engine and ${basename(tracePath)}`);
  }
}

// ---------------------------------------------------------------- watch

/**
 * Loads CONFIG, then publishes every valid save of it until SIGINT/SIGTERM: one line
 * per publish (with --flows, the flows' verdict counts and how many changed), and
 * for a refused save every issue with its path (stderr); the running policy stays.
 */
async function compileCommand(configPath: string, opts: { out: string }): Promise<void> {
  const config = await loadConfig(configPath);
  const t0 = performance.now();
  const engine = await createEngine(config, { wasm: await nodeWasmBytes() });
  const ms = performance.now() - t0;
  const bytes = engine.snapshot();
  try {
    await writeFile(opts.out, bytes);
  } catch (e) {
    throw new CliError(`error: cannot write ${opts.out}: ${(e as Error).message}`);
  }
  const s = engine.stats;
  writeLines([
    `${displayPath(opts.out)}: ${grouped(bytes.length)} bytes (snapshot format ${SNAPSHOT_FORMAT}, table ${grouped(s.total)} bytes), ` +
      `${plural(config.securityGroups.length, 'security group')}, ${plural(config.instances.length, 'instance')}, compiled in ${ms.toFixed(1)} ms`,
  ]);
}

async function watchCommand(configPath: string, opts: { flows?: string; debounce?: string }): Promise<void> {
  const debounceMs = opts.debounce === undefined ? 200 : Number(opts.debounce);
  if (!Number.isFinite(debounceMs) || debounceMs < 0) throw new CliError(`error: --debounce must be milliseconds >= 0, got "${opts.debounce}"`, EXIT_USAGE);
  const config = await loadConfig(configPath);
  const flows = opts.flows === undefined ? undefined : await readFlows(opts.flows, config);
  const engine = await createEngine(config);
  const time = () => new Date().toTimeString().slice(0, 8);
  const shape = (c: Config) => `${plural(c.securityGroups.length, 'security group')}, ${plural(c.instances.length, 'instance')}`;
  const batch = flows && createFlowBatch(flows.map((f) => f.flow));
  let last: string[] | undefined;
  const flowSummary = (): string => {
    if (!batch) return '';
    try {
      const actions = engine.classifyBatch(batch);
      const accepted = actions.reduce((n, a) => n + a, 0);
      const now = Array.from({ length: batch.length }, (_, i) => verdictJson(batch.verdict(i)));
      const delta = last ? `, ${plural(now.filter((v, i) => v !== last![i]).length, 'verdict')} changed` : '';
      last = now;
      return `; ${plural(batch.length, 'flow')}: ${accepted} accepted, ${batch.length - accepted} dropped${delta}`;
    } catch (e) {
      last = undefined;
      return `; flows not classified: ${(e as Error).message}`;
    }
  };
  process.stdout.write(`${time()} watching ${configPath}: version ${engine.version} (${shape(engine.config)})${flowSummary()}\n`);
  const watcher = watchConfig(configPath, engine, {
    debounceMs,
    onReload: ({ version }) => {
      process.stdout.write(`${time()} version ${version} published (${shape(engine.config)})${flowSummary()}\n`);
    },
    onError: (e) => {
      const issues = e instanceof SgfilterError ? e.issues : [];
      const head = `${time()} edit refused, version ${engine.version} stays`;
      if (e instanceof SgfilterError && e.code === 'CONFIG_INVALID') {
        process.stderr.write([`${head}: ${plural(issues.length, 'issue')}`, ...issues.map(formatIssue)].join('\n') + '\n');
      } else {
        process.stderr.write(`${head}: ${e.message}\n`);
      }
    },
  });
  await new Promise<void>((resolveStop) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      watcher.close();
      process.stdout.write(`${time()} stopped at version ${engine.version}\n`);
      resolveStop();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

// ---------------------------------------------------------------- proxy

function hostPortOption(text: string, option: string): HostPort {
  try {
    return parseHostPort(text, option);
  } catch (e) {
    throw new CliError(`error: ${(e as Error).message}`, EXIT_USAGE);
  }
}

/**
 * Runs the filtering proxy until SIGINT or SIGTERM, then prints the counters. Log
 * lines (drops with their deciding rule, reloads, refused config changes) go to
 * stderr; the listening line and the closing summary to stdout.
 */
async function proxyCommand(opts: { config: string; listen: string; upstream: string; instance?: string }): Promise<void> {
  const listen = hostPortOption(opts.listen, '--listen');
  const upstream = hostPortOption(opts.upstream, '--upstream');
  const config = await loadConfig(opts.config);
  if (opts.instance !== undefined && !config.instances.some((i) => i.id === opts.instance)) {
    throw new CliError(`error: unknown instance "${opts.instance}"; the config has: ${config.instances.map((i) => i.id).join(', ')}`);
  }
  const engine = await createEngine(config);
  const log = (line: string) => process.stderr.write(`sgfilter proxy: ${line}\n`);
  let proxy;
  try {
    proxy = await startProxy({ engine, configPath: opts.config, listen, upstream, log, ...(opts.instance !== undefined ? { instance: opts.instance } : {}) });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new CliError(`error: cannot listen on ${opts.listen}: ${err.code ?? err.message}`);
  }
  const a = proxy.address();
  const where = a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  process.stdout.write(
    `sgfilter proxy: listening on ${where}, upstream ${opts.upstream}, instance ${opts.instance ?? config.instances[0]!.id}, config ${opts.config} (policy version ${engine.version}, watched)\n`,
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const on = (s: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(s);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
  await proxy.close();
  writeLines([`sgfilter proxy: ${signal}, closed; policy version ${engine.version}`, ...proxy.summary()]);
}

// ---------------------------------------------------------------- program

function buildProgram(): Command {
  const program = new Command();
  program
    .name('sgfilter')
    .description('Cloud security-group semantics (inbound/outbound, first match, group priority) as a WebAssembly packet filter.')
    .version(packageVersion())
    .exitOverride()
    .showHelpAfterError('(run sgfilter --help for usage)')
    .addHelpText('after', '\nExit codes: 0 ok, 1 invalid input (config, flows, unknown instance) or ClassBench mismatches, 2 usage error.');

  program
    .command('check')
    .description('validate a config file (JSON or YAML; Tencent Cloud API JSON too) and print a summary')
    .argument('<config>', 'config file (.json, .yaml, .yml)')
    .action(checkCommand);

  program
    .command('eval')
    .description('classify flows (JSON lines, one SPEC §1 flow per line); prints one verdict JSON line per flow')
    .argument('<config>', 'config file (.json, .yaml, .yml)')
    .argument('<flows>', 'JSON-lines flow file, or - for stdin')
    .option('--summary', 'print accepted/dropped counts to stderr')
    .action(evalCommand);

  program
    .command('explain')
    .description('explain the verdict for one flow: each rule tried, why it did not match, and the one that decided')
    .argument('<config>', 'config file (.json, .yaml, .yml)')
    .requiredOption('--flow <json>', 'the flow as JSON, e.g. \'{"direction":"inbound","protocol":"TCP","port":22,"remote":"198.51.100.7"}\'')
    .action(explainCommand);

  program
    .command('demo')
    .description('classify example flows and print a verdict table and per-rule hit counts (what `npm start` runs)')
    .argument('[config]', 'config file (default: examples/seed-scenarios.yaml)')
    .argument('[flows]', 'JSON-lines flow file (default: examples/flows.jsonl)')
    .action(demoCommand);

  program
    .command('classbench')
    .description(
      'classify a ClassBench header trace against its filter set: compare each line\'s chosen rule with the trace\'s ' +
        'expected rule (6th column; lines without one are not checked) and report compile time, table bytes and ns/lookup',
    )
    .argument('<filters>', 'ClassBench filter set (one "@src dst sp : sp dp : dp 0xPP/0xMM" rule per line)')
    .argument('<trace>', 'ClassBench header trace ("src dst sport dport proto [rule]" per line)')
    .option('--out <file>', 'write the 1-based rule chosen for each trace line (0 = none), one per line')
    .action(classbenchCommand);

  program
    .command('proxy')
    .description(
      'filtering TCP proxy: classifies each client connection as inbound and the connection to the upstream as outbound, ' +
        'logs every drop with its deciding rule, hot-reloads the config file when it changes (an invalid file keeps the ' +
        'old policy), and prints the counters on SIGINT/SIGTERM',
    )
    .requiredOption('--config <file>', 'config file (.json, .yaml, .yml), watched for changes')
    .requiredOption('--listen <host:port>', 'address to accept clients on, e.g. 127.0.0.1:8080 or [::1]:8080 (port 0: any free port)')
    .requiredOption('--upstream <host:port>', 'where accepted connections are forwarded, e.g. 127.0.0.1:3000')
    .option('--instance <id>', 'instance whose policy applies (default: the config\'s first)')
    .action(proxyCommand);

  program
    .command('watch')
    .description(
      'load a config, then publish each valid save of it (one line per publish); a save with issues is refused with ' +
        'every issue and its path, and the running policy stays. Runs until Ctrl-C',
    )
    .argument('<config>', 'config file (.json, .yaml, .yml)')
    .option('--flows <file>', 'JSON-lines flows to classify after each publish (verdict counts and how many changed)')
    .option('--debounce <ms>', 'quiet time after the last file event before the file is read (default 200)')
    .action(watchCommand);

  program
    .command('compile')
    .description(
      'validate and compile a config once and write the compiled-policy snapshot (engine.snapshot()): ' +
        'createEngine({ snapshot }) or engine.loadSnapshot() load it without compiling (edge workers, see README)',
    )
    .argument('<config>', 'config file (.json, .yaml, .yml)')
    .requiredOption('-o, --out <file>', 'where to write the snapshot, e.g. policy.bin')
    .action(compileCommand);

  return program;
}

/** Runs the CLI with `argv` (as process.argv) and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return EXIT_OK;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    if (e instanceof CliError) {
      process.stderr.write(`${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof SgfilterError) {
      process.stderr.write(`error: ${e.message}\n`);
      return EXIT_INVALID;
    }
    process.stderr.write(`sgfilter: unexpected error: ${(e as Error)?.stack ?? String(e)}\n`);
    return EXIT_INVALID;
  }
}

/** True when this file is the program being run (also through npm's bin symlink), not imported. */
function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  // `sgfilter eval ... | head` closes the pipe early: stop quietly, as Unix tools do.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(EXIT_OK);
    throw e;
  });
  main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
