/** Flow files (JSON lines) for eval, demo and watch: read, validate, classify. */
import { readFile } from 'node:fs/promises';
import { createEngine } from '../index.js';
import { createFlowBatch, parseFlow, validateFlow } from '../flow.js';
import { formatWords } from '../config/address.js';
import type { FlowAddress } from '../types.js';
import { SgfilterError, type Issue } from '../errors.js';
import { parseJsonText } from '../config/text.js';
import type { Config, Flow, Verdict } from '../types.js';
import { CliError, MAX_LINE_ERRORS, plural } from './shared.js';
import { quote, quotedList } from '../config/plain.js';

// ---------------------------------------------------------------- flows

export interface FlowLine {
  /** 1-based line number in the input. */
  line: number;
  raw: Record<string, unknown>;
  flow: Flow;
}

export async function readFlowText(path: string): Promise<string> {
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
export function parseFlowLines(text: string, name: string, config: Config): FlowLine[] {
  const out: FlowLine[] = [];
  const errors: string[] = [];
  const instances = new Set(config.instances.map((i) => i.id));
  const lines = text.split(/\r?\n/);
  lines.forEach((content, i) => {
    if (content.trim() === '') return;
    const line = i + 1;
    let raw: unknown;
    try {
      // As config JSON is read: a duplicate key is refused, not last-wins.
      raw = parseJsonText(content, `${name} line ${line}`);
    } catch (e) {
      errors.push(...(e instanceof SgfilterError ? e.issues.map((i) => i.message) : [`${name} line ${line}: not valid JSON: ${(e as Error).message}`]));
      return;
    }
    const issues: Issue[] = [];
    const flow = validateFlow(raw, [], issues);
    if (!flow) {
      for (const issue of issues) errors.push(`${name} line ${line}: ${issue.message}`);
      return;
    }
    if (flow.instance !== null && !instances.has(flow.instance)) {
      errors.push(`${name} line ${line}: unknown instance ${quote(flow.instance)}; the config has: ${quotedList(instances)}`);
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

export async function readFlows(path: string, config: Config): Promise<FlowLine[]> {
  return parseFlowLines(await readFlowText(path), path === '-' ? 'stdin' : path, config);
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
