/**
 * `sgfilter eval` at any size: flows are read, checked and classified a batch at a
 * time, and verdicts written as they come, in constant memory (one batch of flows
 * and one batch of verdict text at a time, whatever the input's length).
 *
 * Bad lines (what the user sees is documented in README "CLI"):
 *  - default, a file: two passes. The first checks every line and prints nothing;
 *    if any line is bad, every bad line is counted (the first MAX_LINE_ERRORS
 *    shown) and the exit is 1 with nothing on stdout. Otherwise the second pass
 *    classifies and prints. A line that turns bad between the passes (the file was
 *    changed meanwhile) stops the run with exit 1, saying how many verdicts were
 *    printed.
 *  - default, stdin or a pipe: it cannot be read twice and may never end, so it is
 *    classified as it comes; the first bad line stops the run with exit 1, after the
 *    verdicts of every line before it, and the message says how many were printed.
 *  - --skip-invalid (any input): one pass; each bad line is reported on stderr with
 *    its line number as it is found, the good ones are classified, exit 0.
 *    --line-numbers adds "line": N (the 1-based input line) to each verdict, so a
 *    consumer can join verdicts to input lines whatever was skipped.
 *
 * On stdin a partial batch is classified whenever the input pauses (IDLE_MS), so
 * a slow or interactive producer gets each answer without waiting for a full batch.
 */
import { createEngine } from '../index.js';
import type { Engine } from '../engine.js';
import type { FlowBatch } from '../flow.js';
import type { Config } from '../types.js';
import { IDLE, readLines } from './line-reader.js';
import { FlowChecker, lineErrorText, parseFlowJson, type LineError } from './flow-lines.js';
import type { FlowSource } from './flow-input.js';
import { writeOut } from './output.js';
import { badLinesText } from './flows.js';
import { Progress, rateText } from './progress.js';
import { CliError, MAX_LINE_ERRORS, count, grouped, plural } from './shared.js';

/** Flows classified per batch: large enough that per-batch costs vanish, small enough to bound memory (~20 MB). */
export const EVAL_BATCH_FLOWS = 1 << 16;
/** A longer line is refused unread (a flow line is a JSON object of a few hundred characters). */
export const MAX_FLOW_LINE_CHARS = 1 << 20;
/** On stdin, a quiet input for this long gets the flows read so far classified. */
const IDLE_MS = 50;

export interface EvalStreamOptions {
  skipInvalid: boolean;
  lineNumbers: boolean;
  summary: boolean;
  progress: Progress;
}

/** Counts of a run (numbers only: nothing per flow is kept). */
interface Counts {
  flows: number;
  accepted: number;
  byDefault: number;
  bad: number;
}

/** What one pass does with each checked batch. */
type BatchSink = (batch: FlowBatch | null, lines: number[], errors: LineError[]) => Promise<void>;

/**
 * Reads every line of `source`, parses and checks it, and hands each batch to
 * `sink` (good flows packed, bad lines in order). `stopAtBad` (stdin in the default
 * mode): a batch is handed over at its first bad line, with only the flows before it.
 */
async function scan(source: FlowSource, checker: FlowChecker, sink: BatchSink, o: { stopAtBad: boolean; progress: Progress; counts: Counts }): Promise<void> {
  const started = performance.now();
  let raws: unknown[] = [];
  let nums: number[] = [];
  let parseErrors: LineError[] = [];
  const flush = async () => {
    const checked = checker.check(raws, nums, o.stopAtBad);
    let errors = checked.errors;
    if (parseErrors.length > 0) errors = [...parseErrors, ...errors].sort((a, b) => a.line - b.line);
    // New arrays: the checked batch keeps `nums` as its line numbers.
    raws = [];
    nums = [];
    parseErrors = [];
    await sink(checked.batch, checked.lines, errors);
  };
  const readOpts = { maxLineChars: MAX_FLOW_LINE_CHARS, ...(source.rereadable ? {} : { idleMs: IDLE_MS }) };
  for await (const chunk of readLines(source.open(), readOpts)) {
    if (chunk === IDLE) {
      if (raws.length > 0 || parseErrors.length > 0) await flush();
      continue;
    }
    const { lines, first, tooLong } = chunk;
    let t = 0;
    for (let i = 0; i < lines.length; i++) {
      const line = first + i;
      let bad: string | undefined;
      let column: number | undefined;
      if (tooLong !== null && tooLong[t] === i) {
        t++;
        bad = `longer than ${grouped(MAX_FLOW_LINE_CHARS)} characters (a flow line is one JSON object of a few hundred); not read`;
      } else {
        let text = lines[i]!;
        // A byte order mark at the start of the input is skipped here, as for configs (one at
        // the start of a later line, from concatenated files, is skipped by parseJsonText).
        if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        if (text.charCodeAt(0) !== 123 /* { */ && text.trim() === '') continue; // blank lines are skipped
        const r = parseFlowJson(text);
        if ('value' in r) {
          raws.push(r.value);
          nums.push(line);
        } else {
          bad = r.error;
          column = r.column;
        }
      }
      if (bad !== undefined) {
        parseErrors.push({ line, message: bad, ...(column !== undefined ? { column } : {}) });
        if (o.stopAtBad) await flush();
      }
      // Bad lines count too: a file of nothing but bad lines is still handled a batch at a time.
      if (raws.length + parseErrors.length >= EVAL_BATCH_FLOWS) await flush();
    }
    o.progress.update(chunk.bytes, { detail: rateText(o.counts.flows, 'flows', started) });
  }
  await flush();
}

/** Verdict JSON lines by deciding rule id: one engine, so a rule id always means the same verdict. */
class VerdictText {
  readonly #byRule = new Map<number, { json: string; open: string; accept: boolean; byDefault: boolean }>();

  get(batch: FlowBatch, i: number, ruleId: number) {
    let v = this.#byRule.get(ruleId);
    if (v === undefined) {
      const verdict = batch.verdict(i);
      const json = JSON.stringify({ action: verdict.action, groupId: verdict.groupId, ruleIndex: verdict.ruleIndex });
      v = { json, open: json.slice(0, -1), accept: verdict.action === 'accept', byDefault: verdict.groupId === null };
      this.#byRule.set(ruleId, v);
    }
    return v;
  }
}

/** Classifies `batch` and writes its verdict lines (`lines`: input line numbers, for --line-numbers). */
async function classifyAndWrite(engine: Engine, batch: FlowBatch, lines: number[], verdicts: VerdictText, lineNumbers: boolean, counts: Counts, actions: Uint8Array): Promise<void> {
  engine.classifyBatch(batch, actions);
  const ids = batch.ruleIds;
  const n = batch.length;
  if (n !== lines.length) throw new CliError(`error: internal: ${n} flows in a batch of ${lines.length} lines`);
  let out = '';
  for (let i = 0; i < n; i++) {
    const v = verdicts.get(batch, i, ids[i]!);
    out += lineNumbers ? `${v.open},"line":${lines[i]}}\n` : `${v.json}\n`;
    if (v.accept) counts.accepted++;
    if (v.byDefault) counts.byDefault++;
  }
  counts.flows += n;
  await writeOut(out);
}

/** "  flows.jsonl line 3: column 8: not valid JSON: ..." for the first few, then "... and N more". */
function errorList(name: string, shown: LineError[], total: number): string {
  const text = badLinesText(name, shown);
  return total > shown.length ? `${text}\n  ... and ${grouped(total - shown.length)} more` : text;
}

/**
 * Runs eval over `source` with `config` as the module comment says. Resolves when
 * every verdict is written; throws CliError (exit 1) for refused input.
 */
export async function evalStream(config: Config, source: FlowSource, opts: EvalStreamOptions): Promise<void> {
  const checker = new FlowChecker(config);
  const engine = await createEngine(config);
  const verdicts = new VerdictText();
  const actions = new Uint8Array(EVAL_BATCH_FLOWS);
  const progress = opts.progress;
  const counts: Counts = { flows: 0, accepted: 0, byDefault: 0, bad: 0 };
  const name = source.name;
  const twoPass = !opts.skipInvalid && source.rereadable;

  try {
    if (twoPass) {
      // Pass 1: check every line, print nothing.
      const firstErrors: LineError[] = [];
      const checked: Counts = { flows: 0, accepted: 0, byDefault: 0, bad: 0 };
      progress.start(source.size, { phase: 'checking flows', detail: '' });
      await scan(source, checker, async (batch, _lines, errors) => {
        checked.flows += batch?.length ?? 0;
        checked.bad += errors.length;
        for (const e of errors) if (firstErrors.length < MAX_LINE_ERRORS) firstErrors.push(e);
      }, { stopAtBad: false, progress, counts: checked });
      if (checked.bad > 0) {
        progress.stop();
        throw new CliError(
          `error: ${count(checked.bad, 'invalid flow line')} in ${name}; nothing was classified (--skip-invalid classifies the good lines)\n` +
            errorList(name, firstErrors, checked.bad),
        );
      }
      // Pass 2: classify and print; a line that is bad now was changed since pass 1.
      progress.start(source.size, { phase: 'classifying', detail: '' });
      await scan(source, checker, async (batch, lines, errors) => {
        if (errors.length > 0) {
          throw new CliError(
            `error: ${name} changed while it was read: ${lineErrorText(name, errors[0]!)}; ` +
              `${count(counts.flows, 'verdict')} had been printed, for lines before it, and the output is incomplete`,
          );
        }
        if (batch) await classifyAndWrite(engine, batch, lines, verdicts, opts.lineNumbers, counts, actions);
      }, { stopAtBad: false, progress, counts });
      if (counts.flows !== checked.flows) {
        throw new CliError(`error: ${name} changed while it was read: ${count(checked.flows, 'flow')} when checked, ${grouped(counts.flows)} when classified; the output does not match the file`);
      }
    } else {
      progress.start(source.size, { phase: 'classifying', detail: '' });
      await scan(source, checker, async (batch, lines, errors) => {
        if (errors.length > 0 && !opts.skipInvalid) {
          // Stop at the first bad line: scan (stopAtBad) packed only the flows before it.
          const firstBad = errors[0]!.line;
          if (batch) await classifyAndWrite(engine, batch, lines, verdicts, opts.lineNumbers, counts, actions);
          throw new CliError(
            `error: ${lineErrorText(name, errors[0]!)}\n` +
              `  stopped there: ${count(counts.flows, 'verdict')} printed, one for each flow before line ${grouped(firstBad)}; ` +
              `the rest of the input was not classified (--skip-invalid goes on past bad lines; a regular file, unlike stdin or a pipe, is checked whole before anything is printed)`,
          );
        }
        for (const e of errors) {
          counts.bad++;
          progress.log(`sgfilter: skipped ${lineErrorText(name, e)}`);
        }
        if (batch) await classifyAndWrite(engine, batch, lines, verdicts, opts.lineNumbers, counts, actions);
      }, { stopAtBad: !opts.skipInvalid, progress, counts });
    }
  } finally {
    progress.stop();
  }

  const dropped = counts.flows - counts.accepted;
  const skipped = counts.bad > 0 ? `; ${count(counts.bad, 'invalid line')} skipped (listed above)` : '';
  if (opts.summary) {
    process.stderr.write(`${plural(counts.flows, 'flow')}: ${counts.accepted} accepted, ${dropped} dropped (${counts.byDefault} by the default drop)${skipped}\n`);
  } else if (counts.bad > 0) {
    process.stderr.write(`sgfilter eval: ${count(counts.flows, 'flow')} classified${skipped}\n`);
  }
}
