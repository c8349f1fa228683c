/**
 * Configs through every door: a generated document (native, Terraform lite rules,
 * Tencent API JSON) with hostile text and JS-only values put into random places,
 * passed as an object or written as JSON or YAML text (the text itself sometimes cut,
 * padded or given a line twice), then loaded by engine.reload, createEngine or
 * reloadInWorker, or written to a file (.json, .yaml) that createEngine(path) or
 * reloadInWorker(engine, path) reads. parseConfigText and safeParseConfig are the
 * oracle: every door must accept what they accept (the same Config) and refuse what
 * they refuse (CONFIG_INVALID with the same issue codes; CONFIG_PARSE for text that
 * does not read, from a file too).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import { expect } from 'vitest';
import { parseConfigText, reloadInWorker, safeParseConfig, type Config, type Engine } from '../../../src/index.js';
import { spellingArb } from '../../address-arbitraries.js';
import { hostileValue, injectAll, mutation, type HostileValue, type Mutation } from '../../hostile.js';
import { mulberry32, randomConfig, randomFlows, randomTencentDoc, randomTerraformConfig, type Rng } from '../../random.js';
import { respellPeers, type Respelling } from '../respell.js';
import { expectAsReference, expectRefusal, expectUnchanged, newEngine, note, observe, refusedOr, zeroed, type Session, type Surface } from '../session.js';

const FORMATS = {
  native: (r: Rng): unknown => randomConfig(r, 6),
  terraform: (r: Rng): unknown => randomTerraformConfig(r),
  tencent: (r: Rng): unknown => randomTencentDoc(r),
};

/** A change to the text of a document: one character, a line written twice, something before it. */
type TextEdit =
  | { kind: 'char'; at: number; op: 'insert' | 'delete' | 'replace'; text: string }
  | { kind: 'line'; at: number }
  | { kind: 'prefix'; text: string };

const textEdit: fc.Arbitrary<TextEdit> = fc.oneof(
  fc.record({
    kind: fc.constant('char' as const),
    at: fc.nat(),
    op: fc.constantFrom('insert' as const, 'delete' as const, 'replace' as const),
    text: fc.constantFrom(',', '}', ']', '{', '[', '"', ':', '-', ' ', '\t', '\n', '#', '&a ', '*a', '!!binary ', '\u0000', '\ufeff', '0', 'x'),
  }),
  fc.record({ kind: fc.constant('line' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('prefix' as const), text: fc.constantFrom('%YAML 1.1\n---\n', '%YAML 1.2\n---\n', '\ufeff', '# written by hand\n', '---\n', '--- !!map\n') }),
);

function applyTextEdit(text: string, e: TextEdit): string {
  if (e.kind === 'prefix') return e.text + text;
  if (e.kind === 'line') {
    const lines = text.split('\n');
    const k = e.at % lines.length;
    lines.splice(k, 0, lines[k]!);
    return lines.join('\n');
  }
  const k = e.at % (text.length + 1);
  if (e.op === 'insert') return text.slice(0, k) + e.text + text.slice(k);
  if (e.op === 'delete') return text.slice(0, k) + text.slice(k + 1);
  return text.slice(0, k) + e.text + text.slice(k + 1);
}

export interface ConfigStep {
  format: keyof typeof FORMATS;
  seed: number;
  mutations: [Mutation, HostileValue][];
  form: 'object' | 'json' | 'yaml';
  text: TextEdit | null;
  /** Every rule peer written in another spelling of the same addresses (the meaning is then checked against the document as generated). */
  respell: Respelling | null;
  /** Doors 'file' and 'worker file' read the text from a file (documents without a text form go to createEngine). */
  door: 'reload' | 'create' | 'worker' | 'file' | 'worker file';
}

/**
 * Whether a respelled document is held to the one generated: only when nothing else
 * changes it (a mutation may hit a peer; a text edit lands elsewhere in other text),
 * so a step with respelled peers and no mutation gets no text edit either.
 */
const compared = (step: ConfigStep): boolean => step.respell !== null && step.mutations.length === 0;

/** The text of the document, as written to a file and read back (UTF-8), or undefined when it has no text form. */
function textOf(step: ConfigStep, doc: unknown): string | undefined {
  // JS-only values have no text form (JSON.stringify throws on a BigInt or drops a function).
  if (step.form === 'object' || step.mutations.some(([, h]) => 'weird' in h)) return undefined;
  let text: string;
  try {
    text = step.form === 'json' ? JSON.stringify(doc, null, 2) : toYaml(doc);
  } catch {
    note('config: no text form');
    return undefined;
  }
  if (step.text && !compared(step)) text = applyTextEdit(text, step.text);
  return Buffer.from(text, 'utf8').toString('utf8');
}

/** The document as the oracle reads it: the object, or its text read by parseConfigText (or the refusal of that text, checked). */
async function input(step: ConfigStep, doc: unknown, text: string | undefined, name: string): Promise<{ ok: true; value: unknown } | { ok: false }> {
  if (text === undefined) return { ok: true, value: doc };
  const read = await refusedOr(() => parseConfigText(text, name));
  if (read.ok) return read;
  expectRefusal(read.error, ['CONFIG_PARSE']);
  for (const i of read.error.issues) {
    // Where in the text: a line and column inside it.
    if (i.line !== undefined) expect(i.line).toBeGreaterThanOrEqual(1);
    if (i.line !== undefined) expect(i.line).toBeLessThanOrEqual(text.split(/\r\n|\r|\n/).length);
  }
  return { ok: false };
}

/** A document as the door reads it in the step's form (no text edits). */
function asRead(step: ConfigStep, doc: unknown): unknown {
  if (step.form === 'object') return doc;
  return parseConfigText(step.form === 'json' ? JSON.stringify(doc) : toYaml(doc), step.form === 'json' ? 'fuzz.json' : 'fuzz.yaml');
}

/** A config without what keeps the user's spelling (rule.text, warning messages), -0 as 0: what decides verdicts. */
export function meaningOf(config: Config): unknown {
  return zeroed({
    ...config,
    warnings: config.warnings.map((w) => w.path),
    securityGroups: config.securityGroups.map((g) => ({
      ...g,
      inbound: g.inbound.map(({ text: _text, ...rule }) => rule),
      outbound: g.outbound.map(({ text: _text, ...rule }) => rule),
    })),
  });
}

/** Runs `load` on a file holding `text` (named `name`), removed afterwards. */
async function withFile<T>(name: string, text: string, load: (path: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'sgfilter-fuzz-'));
  try {
    const path = join(dir, name);
    writeFileSync(path, text);
    return await load(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const configSurface: Surface<ConfigStep> = {
  name: 'config',
  weight: 3,
  arbitrary: fc.record({
    format: fc.constantFrom('native' as const, 'native' as const, 'terraform' as const, 'tencent' as const),
    seed: fc.integer(),
    // A third of the documents as generated (valid), so that what is accepted is tested as much as what is refused.
    mutations: fc.oneof(fc.constant<[Mutation, HostileValue][]>([]), fc.array(fc.tuple(mutation, hostileValue), { minLength: 1, maxLength: 3 }), fc.array(fc.tuple(mutation, hostileValue), { minLength: 1, maxLength: 3 })),
    respell: fc.option(fc.record({ spelling: spellingArb, mapped: fc.boolean() }), { freq: 2 }),
    form: fc.constantFrom('object' as const, 'json' as const, 'yaml' as const),
    text: fc.option(textEdit, { freq: 3 }),
    door: fc.constantFrom('reload' as const, 'reload' as const, 'reload' as const, 'create' as const, 'worker' as const, 'file' as const, 'worker file' as const),
  }),

  async run(s, step) {
    const r = mulberry32(step.seed);
    const doc = FORMATS[step.format](r);
    // The document as generated, to hold the respelled one to (when nothing else changes it).
    let generated: unknown;
    if (step.respell) {
      generated = structuredClone(doc);
      note('config: peers respelled', respellPeers(doc, step.respell));
      if (!compared(step)) generated = undefined;
    }
    injectAll(doc, step.mutations);
    const before = observe(s);
    const text = textOf(step, doc);
    const name = step.form === 'yaml' ? 'fuzz.yaml' : 'fuzz.json';
    const fromFile = text !== undefined && (step.door === 'file' || step.door === 'worker file');
    const read = await input(step, doc, text, name);
    let value: unknown;
    let door: ConfigStep['door'];
    if (!read.ok) {
      if (!fromFile) return expectUnchanged(s, before);
      door = step.door;
    } else {
      value = read.value;
      door = text === undefined && (step.door === 'file' || step.door === 'worker file') ? 'create' : step.door;
    }
    note(`config: ${door}`);
    let created: Engine | undefined;
    const loaded = await refusedOr(async () => {
      if (door === 'file') return withFile(name, text!, async (path) => (created = await newEngine({ file: path })).version);
      if (door === 'worker file') return withFile(name, text!, (path) => reloadInWorker(s.engine, { file: path }));
      if (door === 'create') return (created = await newEngine(value)).version;
      if (door === 'worker') return reloadInWorker(s.engine, value as never);
      return s.engine.reload(value as never);
    });
    if (!fromFile && typeof value === 'string') {
      // A bare string is neither a file nor text to any door (say which: { file } or { text }).
      if (loaded.ok) throw new Error(`${door} accepted a bare string`);
      expectRefusal(loaded.error, ['INVALID_ARGUMENT']);
      expectUnchanged(s, before);
      note('config: refused, a bare string');
      return;
    }
    if (!read.ok) {
      // Text that does not read is refused from a file too, by the engine's own thread or the compile worker.
      if (loaded.ok) throw new Error(`${door} accepted a file whose text parseConfigText refuses`);
      expectRefusal(loaded.error, ['CONFIG_PARSE']);
      expectUnchanged(s, before);
      note('config: refused');
      return;
    }
    if (fromFile && text.includes('\0') && !loaded.ok && loaded.error.code === 'CONFIG_PARSE') {
      // YAML text may hold a NUL (the yaml package reads it); a file that does may be refused as binary.
      expectRefusal(loaded.error, ['CONFIG_PARSE']);
      expectUnchanged(s, before);
      note('config: refused, a file with a NUL');
      return;
    }
    const oracle = await refusedOr(() => safeParseConfig(value));
    if (!oracle.ok) throw new Error(`safeParseConfig threw ${oracle.error.code}; it returns issues`);
    if (generated !== undefined) {
      // Respelled peers mean what the generated ones meant: the same config but for the text kept for explanations.
      const want = safeParseConfig(asRead(step, generated));
      expect(oracle.value.success, 'respelling the peers changed whether the config is valid').toBe(want.success);
      if (want.success && oracle.value.success) expect(meaningOf(oracle.value.config), 'respelling the peers changed the config').toEqual(meaningOf(want.config));
      if (!want.success && !oracle.value.success) expect(oracle.value.issues.map((i) => i.code)).toEqual(want.issues.map((i) => i.code));
      note('config: respelled, same meaning');
    }
    if (!oracle.value.success) {
      if (loaded.ok) throw new Error(`${door} accepted a document safeParseConfig refuses: ${oracle.value.issues.map((i) => i.message).join('; ')}`);
      expectRefusal(loaded.error, ['CONFIG_INVALID']);
      expect(loaded.error.issues.map((i) => i.code), `${door} and safeParseConfig refuse for different reasons`).toEqual(oracle.value.issues.map((i) => i.code));
      expectUnchanged(s, before);
      note('config: refused');
      return;
    }
    if (!loaded.ok) throw new Error(`${door} refused a document safeParseConfig accepts: ${loaded.error.code} ${loaded.error.message}`);
    if (created) {
      s.engine = created;
      s.version = 1;
    } else {
      s.version++;
    }
    expect(loaded.value).toBe(s.version);
    // (zeroed: reloadInWorker's config comes back through a snapshot, which writes a JS-only -0 as 0.)
    expect(zeroed(s.engine.config), `${door} holds another config than safeParseConfig gives`).toEqual(zeroed(oracle.value.config));
    s.config = s.engine.config;
    s.tampered = false;
    note('config: accepted');
    expectAsReference(s, randomFlows(r, s.config, 100));
  },
};
