/**
 * Flow files read whole, for the commands that keep every flow (demo prints a table
 * of them, watch classifies them again after each publish). eval streams instead
 * (eval-stream.ts); both read lines the same way (flow-lines.ts), so a line is
 * accepted or refused, with the same words, by every command.
 */
import { createEngine } from '../index.js';
import { createFlowBatch, parseFlow } from '../flow.js';
import { formatWords } from '../config/address.js';
import type { Config, FlowAddress, ParsedFlow as Flow, Verdict } from '../types.js';
import { CliError, MAX_LINE_ERRORS, count, grouped } from './shared.js';
import { FlowChecker, lineErrorText, parseFlowJson, type LineError } from './flow-lines.js';
import { openFlowSource } from './flow-input.js';

export interface FlowLine {
  /** 1-based line number in the input. */
  line: number;
  raw: Record<string, unknown>;
  flow: Flow;
}

/** The first MAX_LINE_ERRORS bad lines as "  NAME line N: why", then "... and N more". */
export function badLinesText(name: string, errors: LineError[]): string {
  const shown = errors.slice(0, MAX_LINE_ERRORS).map((e) => `  ${lineErrorText(name, e)}`);
  if (errors.length > MAX_LINE_ERRORS) shown.push(`  ... and ${grouped(errors.length - MAX_LINE_ERRORS)} more`);
  return shown.join('\n');
}

/**
 * Parses every non-blank line of a JSON-lines flow text and checks each flow's
 * instance against the config. All bad lines are reported together (line numbers
 * are 1-based; JSON errors give the column too) in a CliError.
 */
export function parseFlowLines(text: string, name: string, config: Config): FlowLine[] {
  const checker = new FlowChecker(config);
  const out: FlowLine[] = [];
  const errors: LineError[] = [];
  const one: Flow[] = [];
  text.split('\n').forEach((content, i) => {
    const line = i + 1;
    let body = content.endsWith('\r') ? content.slice(0, -1) : content;
    if (line === 1 && body.charCodeAt(0) === 0xfeff) body = body.slice(1);
    if (body.trim() === '') return;
    const r = parseFlowJson(body);
    if ('error' in r) {
      errors.push({ line, message: r.error, ...(r.column !== undefined ? { column: r.column } : {}) });
      return;
    }
    one.length = 0;
    const bad = checker.one(r.value, one);
    if (bad !== undefined) errors.push({ line, message: bad });
    else out.push({ line, raw: r.value as Record<string, unknown>, flow: one[0]! });
  });
  if (errors.length) {
    throw new CliError(`error: ${count(errors.length, 'invalid flow line')} in ${name}; nothing was classified\n${badLinesText(name, errors)}`);
  }
  return out;
}

/** Reads a whole flow file ("-": stdin) and parses it (parseFlowLines). */
export async function readFlows(path: string, config: Config): Promise<FlowLine[]> {
  const source = await openFlowSource(path);
  const chunks: Buffer[] = [];
  for await (const chunk of source.open()) chunks.push(chunk);
  return parseFlowLines(Buffer.concat(chunks).toString('utf8'), source.name, config);
}

/** Classifies all flows with one batch; returns their verdicts in input order. */
export async function classifyAll(config: Config, flows: FlowLine[]): Promise<Verdict[]> {
  const engine = await createEngine(config);
  const batch = createFlowBatch(flows.map((f) => f.flow));
  // One verdict line per flow line, always: a batch that lost a flow would shift every later answer.
  if (batch.length !== flows.length) throw new CliError(`error: internal: ${flows.length} flows made a batch of ${batch.length}; nothing was printed`);
  engine.classifyBatch(batch);
  return flows.map((_, i) => batch.verdict(i));
}

const addressText = (a: FlowAddress): string => formatWords(a.v6, ...a.words);

/** "ins-1 inbound TCP 22 from 198.51.100.7", from the flow as written. */
export function flowText(raw: Record<string, unknown>, config: Config): string {
  const instance = typeof raw.instance === 'string' ? raw.instance : `${config.instances[0]?.id ?? 'default'}`;
  const dir = String(raw.direction).toLowerCase();
  let text = `${instance} ${dir} ${String(raw.protocol)}`;
  if (raw.port !== undefined) text += ` ${String(raw.port)}`;
  if (raw.icmpType !== undefined) text += ` type ${String(raw.icmpType)}`;
  // A remote given as a parsed flow's address object ({v6, words}) is shown as text.
  const remote = typeof raw.remote === 'string' ? raw.remote : addressText(parseFlow(raw).remote);
  text += ` ${dir === 'inbound' ? 'from' : 'to'} ${remote}`;
  return text;
}
