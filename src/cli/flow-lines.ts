/**
 * One JSON-lines flow file, line by line: each line read as JSON the way config
 * JSON is read (duplicate keys refused, nesting bounded, a UTF-8 BOM skipped), then
 * validated as a flow and checked against the config's instances, in batches.
 *
 * Speed. parseJsonText (src/config/text.ts) tokenizes every line with jsonc-parser
 * to find duplicate keys: 8.5 µs a line, most of eval's time at millions of lines.
 * Here a line is read with JSON.parse (1.3 µs), and duplicates are ruled out by
 * counting: the keys written in the text (strings followed by ':') must equal the
 * own keys of the objects JSON.parse built, which keeps one of each duplicate. Only
 * a line that fails JSON.parse or the count (or is nested deeper than MAX_DEPTH)
 * goes through parseJsonText, whose error gives the column and the reason.
 *
 * Validation. A batch of parsed lines is validated in one createFlowBatch call
 * (1.3 µs a flow); only a batch with a bad flow is validated again flow by flow,
 * to say which lines are bad and keep the good ones.
 */
import { quote, quotedList } from '../config/plain.js';
import { createFlowBatch, validateFlow, type FlowBatch } from '../flow.js';
import { SgfilterError, type Issue } from '../errors.js';
import { parseJsonText } from '../config/text.js';
import { MAX_DEPTH } from '../config/plain.js';
import type { Config, ParsedFlow as Flow } from '../types.js';

/** A bad line: its 1-based number, the column (JSON errors) and what is wrong, in words (without the file name). */
export interface LineError {
  line: number;
  column?: number;
  message: string;
}

/** "flows.jsonl line 3, column 8: not valid JSON: ..." */
export function lineErrorText(name: string, e: LineError): string {
  return `${name} line ${e.line}${e.column !== undefined ? `, column ${e.column}` : ''}: ${e.message}`;
}

/** The number of strings followed by ':' in JSON text that JSON.parse accepted: its object keys. */
function keysWritten(text: string): number {
  let n = 0;
  let i = text.indexOf('"');
  while (i !== -1) {
    // The closing quote: the next '"' not escaped by an odd run of backslashes.
    let j = i + 1;
    for (;;) {
      j = text.indexOf('"', j);
      if (j === -1) return -1;
      let b = j - 1;
      while (text.charCodeAt(b) === 92) b--;
      if ((j - 1 - b) % 2 === 0) break;
      j++;
    }
    let k = j + 1;
    let c = text.charCodeAt(k);
    while (c === 32 || c === 9 || c === 10 || c === 13) c = text.charCodeAt(++k);
    if (c === 58) n++;
    // Outside strings valid JSON has no '"': the next one opens the next string.
    i = text.indexOf('"', k);
  }
  return n;
}

/** Own keys of every object in a JSON.parse result, or -1 past MAX_DEPTH. */
function keysBuilt(value: unknown): number {
  let n = 0;
  const stack: unknown[] = [value];
  const depth: number[] = [1];
  while (stack.length > 0) {
    const v = stack.pop();
    const d = depth.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d > MAX_DEPTH) return -1;
    if (Array.isArray(v)) {
      for (const x of v) if (typeof x === 'object' && x !== null) (stack.push(x), depth.push(d + 1));
    } else {
      for (const k of Object.keys(v)) {
        n++;
        const x = (v as Record<string, unknown>)[k];
        if (typeof x === 'object' && x !== null) (stack.push(x), depth.push(d + 1));
      }
    }
  }
  return n;
}

/**
 * The name parseJsonText reports the line under; its messages start with it, and the
 * prefix is cut off (the CLI says the file and line itself). A plain word, so that no
 * message quoting changes how it is written.
 */
const MARK = 'sgfilter-flow-line';

/** parseJsonText's issue as "not valid JSON: property name expected ..." (the column is said apart). */
function jsonIssueText(issue: Issue): string {
  const body = issue.message
    .replace(new RegExp(`^${MARK}: not valid JSON(?: at line \\d+, column \\d+)?: `), '')
    .replace(/\(first at line 1, column (\d+)\)/, '(first at column $1)');
  return `${issue.code === 'PARSE_ERROR' ? 'not valid JSON: ' : ''}${body}`;
}

/**
 * One line of a flow file as JSON, read as config JSON is (see the module comment).
 * Returns the value, or what is wrong ("not valid JSON: ...") and its column.
 */
export function parseFlowJson(text: string): { value: unknown } | { error: string; column?: number } {
  let value: unknown;
  try {
    value = JSON.parse(text);
    if (typeof value !== 'object' || value === null || keysWritten(text) === keysBuilt(value)) return { value };
  } catch {
    // below: the careful reader says where and why
  }
  try {
    return { value: parseJsonText(text, MARK) };
  } catch (e) {
    if (e instanceof SgfilterError && e.issues.length > 0) {
      const first = e.issues[0]!;
      // One line of text: a line break inside it can only be a lone \r or U+2028, never in a flow.
      const column = first.line === 1 ? first.column : undefined;
      return { error: e.issues.map(jsonIssueText).join('; '), ...(column !== undefined ? { column } : {}) };
    }
    return { error: `not valid JSON: ${(e as Error).message}` };
  }
}

/** The flows of one batch that passed, with their line numbers, and the lines that did not. */
export interface CheckedBatch {
  /** The good flows, in input order (null when there are none). */
  batch: FlowBatch | null;
  /** Line number of each flow in `batch`. */
  lines: number[];
  /** Bad lines, in input order. */
  errors: LineError[];
}

/** Validates parsed flow lines against a config's instances, a batch at a time. */
export class FlowChecker {
  readonly #instances: Set<string>;
  readonly #known: string;

  constructor(config: Config) {
    this.#instances = new Set(config.instances.map((i) => i.id));
    this.#known = quotedList(this.#instances);
  }

  #unknownInstance(raw: unknown): string | undefined {
    if (typeof raw !== 'object' || raw === null || !Object.hasOwn(raw, 'instance')) return undefined;
    const id = (raw as { instance: unknown }).instance;
    return typeof id === 'string' && id !== '' && !this.#instances.has(id) ? id : undefined;
  }

  /** One flow's problems in words, or undefined when it is good (then `out` gets the parsed flow). */
  one(raw: unknown, out: Flow[]): string | undefined {
    const issues: Issue[] = [];
    const flow = validateFlow(raw, [], issues);
    if (!flow) return issues.map((i) => i.message).join('; ');
    if (flow.instance !== null && !this.#instances.has(flow.instance)) {
      return `unknown instance ${quote(flow.instance)}; the config has: ${this.#known}`;
    }
    out.push(flow);
    return undefined;
  }

  /**
   * Validates `raws` (parsed lines, numbered by `lines`): the good ones packed into
   * one FlowBatch, the bad ones as LineErrors. Nothing is thrown for bad flows.
   * `stopAtFirst`: at the first bad flow, stop: only the flows before it are packed.
   */
  check(raws: unknown[], lines: number[], stopAtFirst = false): CheckedBatch {
    if (raws.length === 0) return { batch: null, lines: [], errors: [] };
    let clean = true;
    for (const raw of raws) {
      if (this.#unknownInstance(raw) !== undefined) {
        clean = false;
        break;
      }
    }
    if (clean) {
      try {
        return { batch: createFlowBatch(raws as never[]), lines, errors: [] };
      } catch (e) {
        if (!(e instanceof SgfilterError) || e.code !== 'FLOW_INVALID') throw e;
      }
    }
    // Some flow is bad: find which, one by one, and pack the rest.
    const good: Flow[] = [];
    const goodLines: number[] = [];
    const errors: LineError[] = [];
    for (let i = 0; i < raws.length; i++) {
      const bad = this.one(raws[i], good);
      if (bad === undefined) goodLines.push(lines[i]!);
      else {
        errors.push({ line: lines[i]!, message: bad });
        if (stopAtFirst) break;
      }
    }
    return { batch: good.length > 0 ? createFlowBatch(good) : null, lines: goodLines, errors };
  }
}
