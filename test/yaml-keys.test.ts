/**
 * YAML mapping keys (attack findings 1 and 5): a key is the text the object will hold,
 * however it was written. Generated mappings whose keys are written in every spelling
 * the YAML 1.2 core schema gives one text (plain, quoted, an alias of an anchored key,
 * `1`/`+1`/`0x1`/`1.0`/"1", `~`/`null`/"", `true`/`True`/"true") are refused with
 * DUPLICATE_KEY exactly when two keys give the same text, and read as written
 * otherwise. A mapping of many keys is read in time linear in its keys.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfigText, safeParseConfig, SgfilterError } from '../src/index.js';
import { PLAIN_PROTO } from '../src/config/plain.js';

const SEED = Number(process.env.SGFILTER_FUZZ_SEED ?? 0x51e9);
const RUNS = Number(process.env.SGFILTER_FUZZ_RUNS ?? 200);

/** Key text → ways YAML 1.2 core writes it (aliases are added by the generator). */
const SPELLINGS: [string, string[]][] = [
  ['action', ['action', "'action'", '"action"']],
  ['port', ['port', '"port"', '"\\x70ort"']],
  ['1', ['1', '+1', '0x1', '0o1', '1.0', '1e0', '"1"', "'1'"]],
  ['', ['~', 'null', 'Null', 'NULL', '""', "''"]],
  ['true', ['true', 'True', 'TRUE', '"true"']],
  ['false', ['false', "'false'"]],
  ['__proto__', ['__proto__', '"__proto__"']],
  ['constructor', ['constructor', "'constructor'"]],
];

interface Entry {
  key: string;
  /** Index into the spellings of `key`, or -1: an alias of an earlier anchored key of the same text. */
  spelling: number;
  value: number;
}

const entry = fc.record({
  k: fc.nat({ max: SPELLINGS.length - 1 }),
  spelling: fc.integer({ min: -1, max: 7 }),
  value: fc.nat({ max: 1000 }),
}).map(({ k, spelling, value }): Entry => {
  const [key, forms] = SPELLINGS[k]!;
  return { key, spelling: spelling < 0 ? -1 : spelling % forms.length, value };
});

/** The mapping as YAML (block or flow style), with anchors on first keys and aliases where asked. */
function yamlOf(entries: Entry[], flow: boolean): string {
  const anchorOf = new Map<string, string>();
  const items = entries.map((e, i) => {
    const forms = SPELLINGS.find(([k]) => k === e.key)![1];
    let key: string;
    if (e.spelling === -1 && anchorOf.has(e.key)) key = `*${anchorOf.get(e.key)} `; // the space: `*a:` would be an alias named "a:"
    else {
      const written = forms[Math.max(0, e.spelling)]!;
      if (e.spelling === -1) {
        anchorOf.set(e.key, `a${i}`);
        key = `&a${i} ${written}`;
      } else key = written;
    }
    return `${key}: ${e.value}`;
  });
  return flow ? `{ ${items.join(', ')} }\n` : `${items.join('\n')}\n`;
}

describe(`YAML mapping keys are compared as the text the object holds (seed ${SEED})`, () => {
  it('two keys with one text are refused (DUPLICATE_KEY at the second, naming the first); distinct ones read as written', () => {
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 8 }), fc.boolean(), fc.boolean(), (entries, flow, nested) => {
        let text = yamlOf(entries, flow);
        if (nested) text = `securityGroups:\n  - id: sg\n    inbound:\n      - ${text.trimEnd().split('\n').join('\n        ')}\n`;
        const seen = new Set<string>();
        const dups: string[] = [];
        for (const e of entries) {
          if (seen.has(e.key)) dups.push(e.key);
          seen.add(e.key);
        }
        let read: unknown;
        try {
          read = parseConfigText(text, 'keys.yaml');
        } catch (e) {
          expect(e, text).toBeInstanceOf(SgfilterError);
          const err = e as SgfilterError;
          expect(err.code).toBe('CONFIG_PARSE');
          expect(err.issues.map((i) => i.code), `${text}\n${err.message}`).toEqual(dups.map(() => 'DUPLICATE_KEY'));
          expect(err.issues.map((i) => i.given)).toEqual(dups);
          for (const issue of err.issues) {
            expect(issue.line).toBeGreaterThanOrEqual(1);
            expect(issue.message).toMatch(/first at line \d+, column \d+/);
          }
          return;
        }
        expect(dups, `${text} was read as ${JSON.stringify(read)}`).toEqual([]);
        const mapping = nested ? (read as { securityGroups: { inbound: unknown[] }[] }).securityGroups[0]!.inbound[0] : read;
        // (as a set: JS lists integer-like keys first)
        expect(Object.keys(mapping as object).sort()).toEqual(entries.map((e) => e.key).sort());
        for (const e of entries) expect(Object.getOwnPropertyDescriptor(mapping, e.key)?.value).toBe(e.value);
        // Its prototype is the one every plain copy has (a "__proto__" key did not set it; plain.ts, PLAIN_PROTO).
        expect(Object.getPrototypeOf(mapping)).toBe(PLAIN_PROTO);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('the probe: `*act : accept` after `&act action: drop` is refused, never compiled as accept', () => {
    const text = 'securityGroups:\n  - id: sg-db\n    inbound:\n      - &act action: drop\n        protocol: TCP\n        port: 3306\n        source: 0.0.0.0/0\n        *act : accept\n';
    expect(() => parseConfigText(text, 'a.yaml')).toThrow(expect.objectContaining({ code: 'CONFIG_PARSE', issues: [expect.objectContaining({ code: 'DUPLICATE_KEY', given: 'action', line: 8 })] }));
  });

  it('a key aliased in another mapping is no duplicate', () => {
    const doc = parseConfigText('a: {&k action: drop}\nb: {*k : accept}\n', 'a.yaml');
    expect(doc).toEqual({ a: { action: 'drop' }, b: { action: 'accept' } });
  });

  it('many keys in one mapping are read in time linear in the keys (no pairwise comparison)', () => {
    const time = (k: number) => {
      const text = Array.from({ length: k }, (_, i) => `k${i}: ${i}`).join('\n') + '\n';
      const t0 = performance.now();
      const doc = parseConfigText(text, 'many.yaml') as Record<string, number>;
      expect(Object.keys(doc).length).toBe(k);
      return performance.now() - t0;
    };
    time(2_000); // warm up
    const small = Math.max(time(5_000), 5);
    const big = time(40_000);
    // Quadratic would be 64× (29 s at 40,000 keys); linear is 8×. Allow noise on a shared machine.
    expect(big / small).toBeLessThan(30);
    // And the duplicate is still found among them.
    const text = Array.from({ length: 40_000 }, (_, i) => `k${i}: ${i}`).join('\n') + '\n"k17": again\n';
    expect(() => parseConfigText(text, 'many.yaml')).toThrow(expect.objectContaining({ issues: [expect.objectContaining({ code: 'DUPLICATE_KEY', given: 'k17', line: 40_001 })] }));
  });

  it('a long string aliased many times is an expansion bomb (weighed by its length), as is a collection', () => {
    const long = 'x'.repeat(100_000);
    const text = `a: &s "${long}"\nb: [${Array(1000).fill('*s').join(', ')}]\n`;
    expect(() => parseConfigText(text, 'bomb.yaml')).toThrow(expect.objectContaining({ issues: [expect.objectContaining({ code: 'ALIAS_EXPANSION' })] }));
    const inMap = `a: &s {d: "${long}"}\nb: [${Array(1000).fill('*s').join(', ')}]\n`;
    expect(() => parseConfigText(inMap, 'bomb.yaml')).toThrow(expect.objectContaining({ issues: [expect.objectContaining({ code: 'ALIAS_EXPANSION' })] }));
    // Short strings aliased often are fine.
    const ok = parseConfigText(`a: &s tcp\nb: [${Array(1000).fill('*s').join(', ')}]\n`, 'ok.yaml') as { b: string[] };
    expect(ok.b.length).toBe(1000);
    expect(safeParseConfig(ok).success).toBe(false);
  });
});
