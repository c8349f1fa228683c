#!/usr/bin/env node
/**
 * The `sgfilter` command.
 *
 *   sgfilter check CONFIG                    validate a config, print a summary
 *   sgfilter eval CONFIG FLOWS [--summary]   classify JSON-lines flows (FLOWS may be -)
 *   sgfilter explain CONFIG --flow JSON      walk the rules for one flow, in plain words
 *   sgfilter demo [CONFIG] [FLOWS]           the seed scenarios: a verdict table and rule hits
 *
 * Exit codes: 0 ok; 1 invalid input (config, flows, unknown instance); 2 usage error.
 */
import { readFile } from 'node:fs/promises';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { createEngine } from './index.js';
import { createFlowBatch, validateFlow } from './flow.js';
import { safeLoadConfigFile } from './node/config-file.js';
import { referenceExplain } from './reference.js';
import { SgfilterError, formatPath, type Issue } from './errors.js';
import { PRESETS, protocolLabel } from './config/presets.js';
import type { Config, Flow, Interval, Rule, Verdict } from './types.js';

/** Exit codes (documented in --help). */
const EXIT_OK = 0;
const EXIT_INVALID = 1;
const EXIT_USAGE = 2;

/** At most this many bad flow lines are listed (the count of the rest is given). */
const MAX_LINE_ERRORS = 20;

/** An error the CLI reports as is (message to stderr) with its exit code. */
class CliError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT_INVALID) {
    super(message);
  }
}

// ---------------------------------------------------------------- small helpers

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

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

function findGroup(config: Config, id: string) {
  return config.securityGroups.find((g) => g.id === id);
}

// ---------------------------------------------------------------- rules and verdicts in words

function portsText(ports: Interval[]): string {
  return ports.map((p) => (p.lo === p.hi ? String(p.lo) : `${p.lo}-${p.hi}`)).join(',');
}

/** A rule as the user wrote it: "TCP port 22 from 0.0.0.0/0", "linux-login (TCP 22) from ...". */
function ruleText(rule: Rule): string {
  const proto = rule.text.protocol;
  let what: string;
  if (proto in PRESETS && proto !== 'custom') {
    const label = rule.protocol === 'ping' ? 'ICMP/ICMPv6' : protocolLabel(rule.protocol);
    what = `${proto} (${label}${rule.ports ? ` ${portsText(rule.ports)}` : ''})`;
  } else {
    what = proto === 'undefined' ? protocolLabel(rule.protocol) : proto;
    if (rule.ports) what += ` port ${rule.text.port}`;
  }
  let text = `${what} ${rule.direction === 'inbound' ? 'from' : 'to'} ${rule.text.peer}`;
  if (rule.local) text += ', localCidr set';
  if (rule.sourcePorts) text += ` source port ${portsText(rule.sourcePorts)}`;
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

// ---------------------------------------------------------------- program

function buildProgram(): Command {
  const program = new Command();
  program
    .name('sgfilter')
    .description('Cloud security-group semantics (inbound/outbound, first match, group priority) as a WebAssembly packet filter.')
    .version(packageVersion())
    .exitOverride()
    .showHelpAfterError('(run sgfilter --help for usage)')
    .addHelpText('after', '\nExit codes: 0 ok, 1 invalid input (config, flows, unknown instance), 2 usage error.');

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
