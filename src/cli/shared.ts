/**
 * What every `sgfilter` command shares: exit codes, the CLI's error, number and
 * path formatting, config loading, and rules and verdicts in words.
 */
import { readFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_CONFIG_FILE_BYTES, safeLoadConfigFile } from '../node/config-file.js';
import { readRegularFile } from '../node/read-file.js';
import { SgfilterError, formatPath, issueCount, type Issue } from '../errors.js';
import { PRESETS, protocolLabel } from '../config/presets.js';
import { formatPorts } from '../config/ports.js';
import type { Config, Rule, Verdict } from '../types.js';

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
  return `  ${issue.code} at ${formatPath(issue.path)}: ${issue.message}`;
}

// ---------------------------------------------------------------- config

/** Reads and validates a config file; unreadable or unparsable files become a CliError. */
export async function readConfig(path: string): Promise<{ success: true; config: Config } | { success: false; issues: Issue[] }> {
  try {
    return await safeLoadConfigFile(path);
  } catch (e) {
    if (e instanceof SgfilterError) throw new CliError(`error: ${e.message}`);
    throw e;
  }
}

export function invalidConfigMessage(path: string, issues: Issue[]): string {
  return [`error: invalid config ${path}: ${plural(issueCount(issues), 'issue')}`, ...issues.map(formatIssue)].join('\n');
}

/** Loads a config that must be valid (eval, explain, demo). */
export async function loadConfig(path: string): Promise<Config> {
  const r = await readConfig(path);
  if (!r.success) throw new CliError(invalidConfigMessage(path, r.issues));
  return r.config;
}

// ---------------------------------------------------------------- rules and verdicts in words

/** A rule as the user wrote it: "TCP port 22 from 0.0.0.0/0", "linux-login (TCP 22) from ...". */
export function ruleText(rule: Rule): string {
  const proto = rule.text.protocol;
  let what: string;
  if (PRESETS.has(proto) && proto !== 'custom') {
    const label = rule.protocol === 'ping' ? 'ICMP/ICMPv6' : protocolLabel(rule.protocol);
    what = `${proto} (${label}${rule.ports ? ` ${formatPorts(rule.ports)}` : ''})`;
  } else {
    what = proto === 'undefined' ? protocolLabel(rule.protocol) : proto;
    if (rule.ports) what += ` port ${rule.text.port}`;
  }
  let text = `${terminalText(what)} ${rule.direction === 'inbound' ? 'from' : 'to'} ${terminalText(rule.text.peer)}`;
  if (rule.local) text += ', localCidr set';
  if (rule.sourcePorts) text += ` source port ${formatPorts(rule.sourcePorts)}`;
  if (rule.icmpType !== null) text += ` icmpType ${rule.icmpType}`;
  if (rule.icmpCode !== null) text += ` icmpCode ${rule.icmpCode}`;
  return text;
}

export function ruleLabel(rule: Rule): string {
  const from = rule.template ? `, from template ${rule.template}` : '';
  const desc = rule.description ? ` "${terminalText(rule.description)}"` : '';
  return `group ${terminalText(rule.groupId)} ${rule.direction} rule ${rule.ruleIndex} (${ruleText(rule)}${from})${desc}`;
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
 * The text of the file at `path`. `regular`: it must be a regular file (a policy, as
 * configs are: src/node/read-file.ts), never waited on; otherwise (a trace, a flow
 * file) a FIFO or /dev/stdin is read as a stream, on purpose.
 */
export async function readTextFile(path: string, what: string, regular = false): Promise<string> {
  try {
    return regular ? (await readRegularFile(path, MAX_CONFIG_FILE_BYTES)).toString('utf8') : await readFile(path, 'utf8');
  } catch (e) {
    throw new CliError(`error: cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
