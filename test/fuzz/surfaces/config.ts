/**
 * Configs through every door: a generated document (native, Terraform lite rules,
 * Tencent API JSON) with hostile text and JS-only values put into random places,
 * passed as an object or written as JSON or YAML text (the text itself sometimes cut,
 * padded or given a line twice), then loaded by engine.reload, createEngine or
 * reloadInWorker. safeParseConfig is the oracle of acceptance: every door must accept
 * what it accepts (the same Config) and refuse what it refuses (CONFIG_INVALID with
 * the same issue codes; CONFIG_PARSE for text that does not read).
 */
import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import { expect } from 'vitest';
import { parseConfigText, reloadInWorker, safeParseConfig, type Engine } from '../../../src/index.js';
import { hostileValue, injectAll, mutation, type HostileValue, type Mutation } from '../../hostile.js';
import { mulberry32, randomConfig, randomFlows, randomTencentDoc, randomTerraformConfig, type Rng } from '../../random.js';
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
  door: 'reload' | 'create' | 'worker';
}

/** The document as the door receives it: the object, or the object written as text and read back (or the refusal of that text). */
async function input(s: Session, step: ConfigStep, doc: unknown): Promise<{ ok: true; value: unknown } | { ok: false }> {
  // JS-only values have no text form (JSON.stringify throws on a BigInt or drops a function).
  if (step.form === 'object' || step.mutations.some(([, h]) => 'weird' in h)) return { ok: true, value: doc };
  let text: string;
  try {
    text = step.form === 'json' ? JSON.stringify(doc, null, 2) : toYaml(doc);
  } catch {
    note('config: no text form');
    return { ok: true, value: doc };
  }
  if (step.text) text = applyTextEdit(text, step.text);
  const before = observe(s);
  const read = await refusedOr(() => parseConfigText(text, step.form === 'json' ? 'fuzz.json' : 'fuzz.yaml'));
  if (read.ok) return read;
  expectRefusal(read.error, ['CONFIG_PARSE']);
  for (const i of read.error.issues) {
    // Where in the text: a line and column inside it.
    if (i.line !== undefined) expect(i.line).toBeGreaterThanOrEqual(1);
    if (i.line !== undefined) expect(i.line).toBeLessThanOrEqual(text.split(/\r\n|\r|\n/).length);
  }
  expectUnchanged(s, before);
  return { ok: false };
}

export const configSurface: Surface<ConfigStep> = {
  name: 'config',
  weight: 3,
  arbitrary: fc.record({
    format: fc.constantFrom('native' as const, 'native' as const, 'terraform' as const, 'tencent' as const),
    seed: fc.integer(),
    // A third of the documents as generated (valid), so that what is accepted is tested as much as what is refused.
    mutations: fc.oneof(fc.constant<[Mutation, HostileValue][]>([]), fc.array(fc.tuple(mutation, hostileValue), { minLength: 1, maxLength: 3 }), fc.array(fc.tuple(mutation, hostileValue), { minLength: 1, maxLength: 3 })),
    form: fc.constantFrom('object' as const, 'json' as const, 'yaml' as const),
    text: fc.option(textEdit, { freq: 3 }),
    door: fc.constantFrom('reload' as const, 'reload' as const, 'reload' as const, 'create' as const, 'worker' as const),
  }),

  async run(s, step) {
    const r = mulberry32(step.seed);
    const doc = FORMATS[step.format](r);
    injectAll(doc, step.mutations);
    const read = await input(s, step, doc);
    if (!read.ok) return;
    const value = read.value;
    const oracle = await refusedOr(() => safeParseConfig(value));
    if (!oracle.ok) throw new Error(`safeParseConfig threw ${oracle.error.code}; it returns issues`);
    // A string is a file path to createEngine and reloadInWorker, a document to reload.
    const door = typeof value === 'string' ? 'reload' : step.door;
    note(`config: ${door}`);
    const before = observe(s);
    let created: Engine | undefined;
    const loaded = await refusedOr(async () => {
      if (door === 'create') return (created = await newEngine(value)).version;
      if (door === 'worker') return reloadInWorker(s.engine, value as object);
      return s.engine.reload(value);
    });
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
