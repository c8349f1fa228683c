/**
 * One attacker session of the end-to-end fuzz test: an engine, what it must hold
 * (the model: the config of the last accepted load, edit or snapshot, and its
 * version), and the checks every surface makes after every step:
 *
 * - refused: an SgfilterError with an allowed code (config, flow and parse refusals
 *   carry issues, each with a known code and a path), and nothing changed: the same
 *   version, the same config object, the same verdicts on probe flows;
 * - accepted: the engine classifies generated flows exactly as referenceClassify
 *   does on the model's config, singly and in batches (one answer per flow).
 *
 * A table loaded from an unsigned snapshot that was changed and resealed may differ
 * from its config in a match field (a peer, a port): no check short of compiling
 * again can see that (docs/DESIGN.md, signing is for that). Until the next reload or
 * update the session is `tampered`, and the checks are what such a load promises:
 * bounded time, classifyBatch, verdict(i) and classify agreeing, and every verdict
 * naming a rule of its config that decides that way, for that direction, in a group
 * bound to the flow's instance.
 */
import { readFileSync } from 'node:fs';
import type fc from 'fast-check';
import { expect } from 'vitest';
import {
  compilePolicy, createEngine, createFlowBatch, decodeSnapshot, ErrorCodes, parseFlow, referenceClassify, SgfilterError,
  type Config, type Engine, type EngineOptions, type ErrorCode, type FlowInput, type Verdict,
} from '../../src/index.js';
import { expectCodedIssues, refusedOr } from '../hostile.js';
import { mulberry32, randomConfig, randomFlows } from '../random.js';
import { count } from './settings.js';

/** The matcher, compiled once for every engine of the run. */
export const WASM = new WebAssembly.Module(readFileSync(new URL('../../build/sgfilter.wasm', import.meta.url)));

/** createEngine with the shared matcher. */
export function newEngine(source: unknown, options: EngineOptions = {}): Promise<Engine> {
  return createEngine(source as never, { ...options, wasm: WASM });
}

/**
 * Far above any honest lookup (a batch of 100 flows takes well under a millisecond),
 * and above what a busy shared machine adds; a table that spins (issue 9: about 2 s
 * per lookup before snapshots were checked) takes minutes.
 */
const BATCH_TIME_LIMIT_MS = 5000;

export interface Session {
  engine: Engine;
  /** What the engine must hold: the config of the last accepted load, edit or snapshot. */
  config: Config;
  version: number;
  /** The published table came from a changed unsigned snapshot and may differ from `config`. */
  tampered: boolean;
}

// ------------------------------------------------------------------ counts

const tally = new Map<string, number>();

/** Counts `key` for `npm run fuzz` and for the end-of-property checks (`seen`). */
export function note(key: string, n = 1): void {
  tally.set(key, (tally.get(key) ?? 0) + n);
  count(key, n);
}

/** How often `key` was noted since this module was loaded. */
export const seen = (key: string): number => tally.get(key) ?? 0;


// ------------------------------------------------------------------ answers

/** A verdict or a refusal as one comparable string; anything but an SgfilterError fails the test. */
export function answer(f: () => Verdict): string {
  try {
    return JSON.stringify(f());
  } catch (e) {
    if (e instanceof SgfilterError) return `refused ${e.code}`;
    throw new Error(`threw ${(e as Error)?.name ?? typeof e} instead of an SgfilterError: ${(e as Error)?.stack ?? String(e)}`);
  }
}

const ISSUE_CARRIERS: readonly ErrorCode[] = ['CONFIG_INVALID', 'CONFIG_PARSE', 'FLOW_INVALID'];

/** A refusal: an allowed, documented code; issues (where the code has them) coded and with paths. */
export function expectRefusal(e: SgfilterError, allowed: readonly ErrorCode[], pathStart: (string | number)[] = []): void {
  expect(allowed, `refused with ${e.code}: ${e.message}`).toContain(e.code);
  expect(Object.hasOwn(ErrorCodes, e.code)).toBe(true);
  expect(typeof e.message === 'string' && e.message.length > 0).toBe(true);
  if (ISSUE_CARRIERS.includes(e.code)) expectCodedIssues(e.issues, pathStart);
  note(`refused ${e.code}`);
  for (const code of new Set(e.issues.map((i) => i.code))) note(`issue ${code}`);
}

// ------------------------------------------------------------------ nothing changed

export interface Observation {
  version: number;
  config: Config;
  flows: FlowInput[];
  answers: string[];
}

/** Probe flows for `config` and what `engine` answers for them now. */
export function observe(s: Session, seed = 0x0b5): Observation {
  const flows = randomFlows(mulberry32(seed), s.engine.config, 24);
  return { version: s.engine.version, config: s.engine.config, flows, answers: batchAnswers(s.engine, flows) };
}

/** The engine still holds what it held when `o` was taken. */
export function expectUnchanged(s: Session, o: Observation): void {
  expect(s.engine.version, 'a refusal changed the version').toBe(o.version);
  expect(s.engine.config, 'a refusal changed the config').toBe(o.config);
  expect(batchAnswers(s.engine, o.flows), 'a refusal changed a verdict').toEqual(o.answers);
}

/** Answers of one batch (or its refusal, once per flow). */
function batchAnswers(engine: Engine, flows: FlowInput[]): string[] {
  const batch = createFlowBatch(flows);
  try {
    engine.classifyBatch(batch);
  } catch (e) {
    if (e instanceof SgfilterError) return flows.map(() => `refused ${e.code}`);
    throw e;
  }
  return flows.map((_, i) => JSON.stringify(batch.verdict(i)));
}

// ------------------------------------------------------------------ the engine against the reference

/**
 * Classifies `flows` singly and as one batch and checks every answer: equal to
 * `want` (default: referenceClassify on the model's config, given `reference`, the
 * same flows with their addresses in canonical spelling), or, on a tampered table,
 * safe. Flows the reference refuses must be refused with the same code.
 */
export function expectAsReference(s: Session, flows: unknown[], reference: unknown[] = flows, want?: string[]): void {
  const expected = want ?? reference.map((f) => answer(() => referenceClassify(s.config, f as FlowInput)));
  const singles = flows.map((f) => answer(() => s.engine.classify(f as FlowInput)));
  const batch = refusedBatch(flows);
  // Every flow is answered, or the batch is refused with the code a single flow gets.
  const refusedCodes = new Set(singles.filter((a) => a.startsWith('refused ')));
  if (batch === 'refused FLOW_INVALID') {
    expect(singles, 'a batch was refused as invalid but every flow alone is valid').toContain('refused FLOW_INVALID');
  } else {
    expect(singles, 'a flow alone is invalid but its batch was made').not.toContain('refused FLOW_INVALID');
  }
  let batchVerdicts: string[] | undefined;
  if (typeof batch === 'object') {
    expect(batch.length, 'a batch has fewer answers than flows').toBe(flows.length);
    const t0 = performance.now();
    let actions: Uint8Array | undefined;
    try {
      actions = s.engine.classifyBatch(batch);
    } catch (e) {
      if (!(e instanceof SgfilterError)) throw e;
      expect(e.code).toBe('UNKNOWN_INSTANCE');
      expect(refusedCodes, 'classifyBatch refused a batch of flows each classified alone').toContain('refused UNKNOWN_INSTANCE');
    }
    expect(performance.now() - t0, 'classifyBatch took too long').toBeLessThan(BATCH_TIME_LIMIT_MS);
    if (actions) {
      expect(refusedCodes, 'classifyBatch answered a flow that alone names an unknown instance').not.toContain('refused UNKNOWN_INSTANCE');
      batchVerdicts = flows.map((_, i) => {
        const v = batch.verdict(i);
        expect(actions![i], `flow ${i}: classifyBatch and verdict(i) disagree`).toBe(v.action === 'accept' ? 1 : 0);
        return JSON.stringify(v);
      });
      expect(batchVerdicts, 'classifyBatch and classify disagree').toEqual(singles);
    }
  }
  if (!s.tampered) {
    flows.forEach((f, i) => {
      if (singles[i] !== expected[i]) {
        throw new Error(`flow ${i} ${show(f)} (reference: ${show(reference[i])}): engine ${singles[i]}, reference ${expected[i]}`);
      }
    });
  } else {
    flows.forEach((_, i) => {
      // Refusals come before the table: they are the reference's whatever the table says.
      if (singles[i]!.startsWith('refused ') || expected[i]!.startsWith('refused ')) return expect(singles[i]).toBe(expected[i]);
      expectVerdictOfTheConfig(s.config, reference[i] as FlowInput, JSON.parse(singles[i]!) as Verdict);
      if (singles[i] !== expected[i]) note('tampered: verdicts unlike the reference');
    });
  }
  note('flows compared', flows.length);
}

function refusedBatch(flows: unknown[]): ReturnType<typeof createFlowBatch> | 'refused FLOW_INVALID' {
  try {
    return createFlowBatch(flows as FlowInput[]);
  } catch (e) {
    if (!(e instanceof SgfilterError)) throw new Error(`createFlowBatch threw ${(e as Error)?.stack ?? String(e)}`);
    expectRefusal(e, ['FLOW_INVALID']);
    for (const i of e.issues) expect(typeof i.path[0], 'a batch issue names its flow by index').toBe('number');
    return 'refused FLOW_INVALID';
  }
}

/** What a loaded table may answer: a rule of its config, of the flow's direction, in a group its instance binds, with that action. */
function expectVerdictOfTheConfig(config: Config, input: FlowInput, v: Verdict): void {
  if (v.groupId === null) {
    expect(v).toEqual({ action: 'drop', groupId: null, ruleIndex: null });
    return;
  }
  const flow = parseFlow(input);
  const id = flow.instance ?? config.instances[0]?.id;
  const instance = config.instances.find((x) => x.id === id);
  expect(instance?.securityGroups ?? [], `verdict ${JSON.stringify(v)} names a group instance ${id} does not bind`).toContain(v.groupId);
  const group = config.securityGroups.find((g) => g.id === v.groupId)!;
  const rule = group[flow.direction][v.ruleIndex!];
  expect(rule?.action, `verdict ${JSON.stringify(v)} names no ${flow.direction} rule with that action`).toBe(v.action);
}

/** Whether the snapshot's table is what its config compiles to (false: changed in a way only a key can catch). */
export function tableMatchesConfig(bytes: Uint8Array): boolean {
  const decoded = decodeSnapshot(bytes);
  const compiled = compilePolicy(decoded.config);
  const a = compiled.bytes;
  const b = decoded.compiled.bytes;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * A config with -0 written as 0, for comparing configs across a snapshot: a rule's
 * port, sourcePort, icmpType or protocol given as -0 (JS API only) stays -0 in the
 * Config parseConfig makes, and is 0 once written to a snapshot and read back: the
 * same number for every verdict, but not for toEqual.
 */
export function zeroed<T>(v: T): T {
  if (Object.is(v, -0)) return 0 as T;
  if (Array.isArray(v)) return v.map(zeroed) as T;
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, zeroed(x)])) as T;
  }
  return v;
}

const show = (v: unknown): string => {
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x))?.slice(0, 400) ?? String(v);
  } catch {
    return '(a value JSON cannot write)';
  }
};

// ------------------------------------------------------------------ a session starts

/** A session on an engine made from a random valid config (its first accepted load). */
export async function startSession(seed: number): Promise<Session> {
  const r = mulberry32(seed);
  const engine = await newEngine(randomConfig(r, 6));
  const s: Session = { engine, config: engine.config, version: 1, tampered: false };
  expectAsReference(s, randomFlows(r, s.config, 40));
  return s;
}

export { refusedOr };

// ------------------------------------------------------------------ surfaces

/**
 * One door of the library an attacker can push input through (configs, edits,
 * flows, snapshots...): fast-check makes the step's data (plain, printable values:
 * seeds, mutation descriptors, names of hostile values), `run` builds the input from
 * it, pushes it through, checks the outcome with the helpers above and keeps the
 * session's model up to date. See surfaces/index.ts to add one.
 */
export interface Surface<T extends object> {
  name: string;
  /** How often a step is this surface, relative to the others. */
  weight: number;
  arbitrary: fc.Arbitrary<T>;
  run(s: Session, step: T): Promise<void>;
}
