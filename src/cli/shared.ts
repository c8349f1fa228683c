/**
 * What every `sgfilter` command shares: exit codes, the CLI's error, number and
 * path formatting, config loading, and rules and verdicts in words.
 */
import { readFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, Option } from 'commander';
import { configTextOf, notTextFile, parseConfigFileText, readConfigBytes, type ConfigFormat } from '../node/config-bytes.js';
import { fileErrorText } from '../node/fs-errors.js';
import { FileRefusal, MAX_CONFIG_FILE_BYTES, readRegularFile } from '../node/read-file.js';
import { safeParseConfigDocuments } from '../config/parse.js';
import { SgfilterError, formatPath, issueCount, type Issue } from '../errors.js';
import { PRESETS, protocolLabel } from '../config/presets.js';
import { formatPorts } from '../config/ports.js';
import { addressSetText } from '../config/address.js';
import type { Config, Rule, Verdict } from '../types.js';
import type { Progress } from './progress.js';

/** Exit codes (documented in --help). */
export const EXIT_OK = 0;
export const EXIT_INVALID = 1;
export const EXIT_USAGE = 2;

/** At most this many bad flow lines are listed (the count of the rest is given). */
export const MAX_LINE_ERRORS = 20;

/** An error the CLI reports as is (message to stderr) with its exit code. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT_INVALID) {
    super(message);
  }
}

// ---------------------------------------------------------------- small helpers

export const plural = (n: number, word: string, many = `${word}s`): string => `${n} ${n === 1 ? word : many}`;

/** 12345 → "12,345" (fixed locale, so output does not depend on the machine). */
export const grouped = (n: number): string => n.toLocaleString('en-US');
/** plural() with the count grouped: "9,380 trace lines". */
export const count = (n: number, word: string, many = `${word}s`): string => `${grouped(n)} ${n === 1 ? word : many}`;

/** The package root (where package.json is), from dist/src/cli.js or src/cli.ts alike. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'examples'))) return dir;
    const up = dirname(dir);
    if (up === dir) return dirname(dirname(fileURLToPath(import.meta.url)));
    dir = up;
  }
}

/** A path relative to the working directory when it is below it, else as given. */
export function displayPath(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : p;
}

export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

// ---------------------------------------------------------------- terminal safety

/**
 * What a terminal obeys instead of showing: the C0 controls (ESC starts cursor moves,
 * colours, title changes; CR rewrites the line), DEL, the C1 controls (CSI, OSC...), and
 * the line separators and bidirectional marks and overrides that reorder what is shown.
 */
const TERMINAL_CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * User text (an id, a name, a description, a path) as the CLI prints it: every
 * control character escaped the way JSON writes it (`\u001b`), so a config file can
 * never move the cursor, recolour or retitle the terminal, or overwrite a line.
 * `keepLines`: the text is the CLI's own multi-line output, whose newlines are ours
 * (user text in it is escaped already, or by this call, line by line).
 */
export function terminalText(s: string, keepLines = false): string {
  return s.replace(TERMINAL_CONTROLS, (c) => (keepLines && c === '\n' ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

/** Writes a message to stderr, terminal-safe (terminalText, lines kept). */
export function writeError(message: string): void {
  process.stderr.write(`${terminalText(message, true)}\n`);
}

/** Writes text to stdout in chunks (so a million verdicts do not build one giant string), terminal-safe. */
export function writeLines(lines: string[], chunk = 8192): void {
  for (let i = 0; i < lines.length; i += chunk) process.stdout.write(terminalText(lines.slice(i, i + chunk).join('\n'), true) + '\n');
}

export function formatIssue(issue: Issue): string {
  return `  ${issue.code} at ${issue.file === undefined ? '' : `${issue.file}: `}${formatPath(issue.path)}: ${issue.message}`;
}

// ---------------------------------------------------------------- config

export type { ConfigFormat };

/** `--format json|yaml`, for every command that reads a config. */
export function formatOption(flags = '--format <format>'): Option {
  // yml (as the file extension is spelt) is YAML too; any case.
  return new Option(flags, 'read the config as json or yaml (or yml) whatever its name (default: .yaml/.yml is YAML, anything else JSON)').argParser((v: string): ConfigFormat => {
    const f = v.toLowerCase();
    if (f === 'json') return 'json';
    if (f === 'yaml' || f === 'yml') return 'yaml';
    throw new InvalidArgumentError('allowed: json, yaml (or yml).');
  });
}

/**
 * Reads and validates a config file (as JSON or YAML by its name, or `format`);
 * unreadable files, files that are not config text and unparsable ones become a
 * CliError whose message says what the file is and what to do.
 */
export async function readConfig(path: string | readonly string[], format?: ConfigFormat, progress?: Progress): Promise<{ success: true; config: Config } | { success: false; issues: Issue[] }> {
  // Several files make one policy (SPEC §9): issues then name their file.
  const paths = typeof path === 'string' ? [path] : path;
  try {
    const documents = [];
    for (const p of paths) {
      progress?.phase(0, 'reading');
      const bytes = await readConfigBytes(p);
      progress?.phase(0, 'parsing');
      const document = parseConfigFileText(configTextOf(bytes, p), p, format, (f) => `pass --format ${f}`);
      documents.push(paths.length > 1 ? { document, file: p } : { document });
    }
    progress?.phase(0, 'validating');
    return safeParseConfigDocuments(documents);
  } catch (e) {
    if (e instanceof SgfilterError) throw new CliError(`error: ${e.message}`);
    throw e;
  }
}

export function invalidConfigMessage(path: string | readonly string[], issues: Issue[]): string {
  return [`error: invalid config ${configName(path)}: ${plural(issueCount(issues), 'issue')}`, ...issues.map(formatIssue)].join('\n');
}

/** How messages name a config given as one file or several ("a.json + b.json"). */
export function configName(path: string | readonly string[]): string {
  return typeof path === 'string' ? path : path.join(' + ');
}

/** The argument every command that reads a config takes: one file, or several that together make one policy. */
export const CONFIG_ARGUMENT = 'config file(s) (.json, .yaml, .yml); several files make one policy (policies beside their Tencent template outputs, instances, sets)';

/**
 * For commands taking CONFIG... FLOWS: the config files and the flow file (the last
 * argument). A usage error when fewer than two are given.
 */
export function configsAndFlows(files: readonly string[], command: string): { configs: string[]; flows: string } {
  if (files.length < 2) throw new CliError(`error: ${command} needs CONFIG... FLOWS: the config file(s), then the flow file (or - for stdin)`, EXIT_USAGE);
  return { configs: files.slice(0, -1), flows: files.at(-1)! };
}

/** Loads a config that must be valid (eval, explain, demo). */
export async function loadConfig(path: string | readonly string[], format?: ConfigFormat, progress?: Progress): Promise<Config> {
  const r = await readConfig(path, format, progress);
  if (!r.success) throw new CliError(invalidConfigMessage(path, r.issues));
  return r.config;
}

// ---------------------------------------------------------------- rules and verdicts in words

/** A rule as the user wrote it: "TCP port 22 from 0.0.0.0/0", "linux-login (TCP 22) from ...". */
export function ruleText(rule: Rule): string {
  const proto = rule.text.protocol;
  let what: string;
  if (rule.services) {
    what = `service set ${rule.serviceSet ?? proto} (${rule.services.map((x) => x.text).join(' | ') || 'empty'})`;
  } else if (PRESETS.has(proto) && proto !== 'custom') {
    const label = rule.protocol === 'ping' ? 'ICMP/ICMPv6' : protocolLabel(rule.protocol);
    what = `${proto} (${label}${rule.ports ? ` ${formatPorts(rule.ports)}` : ''})`;
  } else {
    what = proto === 'undefined' ? protocolLabel(rule.protocol) : proto;
    if (rule.ports) what += ` port ${rule.text.port}`;
  }
  const peer = rule.peerSet !== undefined ? `address set ${rule.text.peer}` : rule.peerGroup !== undefined ? `group ${rule.text.peer} (its instances' addresses)` : rule.text.peer;
  let text = `${terminalText(what)} ${rule.direction === 'inbound' ? 'from' : 'to'} ${terminalText(peer)}`;
  if (rule.local) text += `, localCidr ${terminalText(addressSetText(rule.local))}`;
  if (rule.sourcePorts) text += ` source port ${formatPorts(rule.sourcePorts)}`;
  if (rule.icmpType !== null) text += ` icmpType ${rule.icmpType}`;
  if (rule.icmpCode !== null) text += ` icmpCode ${rule.icmpCode}`;
  return text;
}

export function ruleLabel(rule: Rule): string {
  const from = rule.template ? `, from template ${rule.template}` : '';
  const desc = rule.description ? ` "${terminalText(rule.description)}"` : '';
  const index = rule.policyIndex === undefined ? '' : `, PolicyIndex ${rule.policyIndex}`;
  return `group ${terminalText(rule.groupId)} ${rule.direction} rule ${rule.ruleIndex}${index} (${ruleText(rule)}${from})${desc}`;
}

/** "sg-web inbound #0" or "default drop". */
export function decidedBy(v: Verdict, direction: string): string {
  return v.groupId === null ? 'default drop' : `${terminalText(v.groupId)} ${direction} #${v.ruleIndex}`;
}

export function verdictJson(v: Verdict): string {
  return JSON.stringify({ action: v.action, groupId: v.groupId, ruleIndex: v.ruleIndex });
}

export const sameVerdict = (a: Verdict, b: Verdict): boolean =>
  a.action === b.action && a.groupId === b.groupId && a.ruleIndex === b.ruleIndex;

/** Pads the columns of a table to their widest cell. */
export function table(rows: string[][], rightAlign: Set<number> = new Set()): string[] {
  const widths = rows[0]!.map((_, c) => rows.reduce((w, r) => Math.max(w, r[c]!.length), 0));
  return rows.map((r) => r.map((cell, c) => (rightAlign.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd());
}

/**
 * The text of a file the user named as `what` ("filter set"); errors in words
 * ("error: filter set: x does not exist"), and a file that is clearly not text (a
 * gzip, a capture, a snapshot) is named as what it is. `regular`: it must be a
 * regular file (a policy, as configs are: src/node/read-file.ts), never waited on;
 * otherwise (a trace, a flow file) a FIFO or /dev/stdin is read as a stream, on purpose.
 */
export async function readTextFile(path: string, what: string, regular = false): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = regular ? await readRegularFile(path, MAX_CONFIG_FILE_BYTES) : await readFile(path);
  } catch (e) {
    // Not a regular file, or too large: FileRefusal says which ("it is a FIFO ...").
    if (e instanceof FileRefusal && (e.reason === 'NOT_A_FILE' || e.reason === 'TOO_LARGE')) throw new CliError(`error: ${what}: ${path} ${e.message.replace(/^it /, '')}`);
    throw new CliError(`error: ${what}: ${fileErrorText(e instanceof FileRefusal ? Object.assign(new Error(e.reason), { code: e.reason }) : e, path, 'read')}`);
  }
  const kind = notTextFile(bytes, `a ${what}`, false);
  if (kind !== undefined) throw new CliError(`error: ${what}: ${path} is ${kind}`);
  return bytes.toString('utf8');
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
