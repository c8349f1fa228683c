/**
 * Config text (issue 9, item 7, parser part): generated documents with random
 * nesting depths, duplicate keys at random places, alias counts and expansion
 * bombs, YAML version directives and broken JSON. Every outcome is either the
 * document (the same as JSON.parse / the YAML written) or a CONFIG_PARSE error whose
 * issues say what and where (line and column inside the text); never a RangeError,
 * never a silent last-wins.
 *
 * Seeded and reproducible: SGFILTER_FUZZ_SEED, SGFILTER_FUZZ_SCALE (test/fuzz/settings.ts).
 */
import fc from 'fast-check';
import { Document, Pair, stringify as toYaml, visit as visitYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfigText, safeParseConfig, SgfilterError, type Issue } from '../src/index.js';
import { MAX_DEPTH, MAX_EXPANSION, plainData } from '../src/config/plain.js';
import { mulberry32, randomConfig } from './random.js';
import { hostileText, inject, mutation, objectsOf } from './hostile.js';
import { FUZZ_SEED, fuzzParams } from './fuzz/settings.js';


/** The CONFIG_PARSE error `f` throws (anything else fails the test). */
function parseRefusal(f: () => unknown): SgfilterError {
  try {
    f();
  } catch (e) {
    if (e instanceof SgfilterError && e.code === 'CONFIG_PARSE') return e;
    throw new Error(`expected CONFIG_PARSE, got ${e instanceof SgfilterError ? e.code : (e as Error)?.stack ?? String(e)}`);
  }
  throw new Error('expected CONFIG_PARSE, but the text was accepted');
}

/** The issue has a line and column that exist in `text`. */
function expectInside(issue: Issue, text: string): string {
  expect(issue.line).toBeGreaterThanOrEqual(1);
  expect(issue.column).toBeGreaterThanOrEqual(1);
  const lines = text.split(/\r\n|\r|\n/);
  expect(issue.line!).toBeLessThanOrEqual(lines.length);
  const line = lines[issue.line! - 1]!;
  expect(issue.column!).toBeLessThanOrEqual(line.length + 1);
  expect(issue.message).toContain(`line ${issue.line}, column ${issue.column}`);
  return line.slice(issue.column! - 1);
}

/** A random config document with some keys renamed to hostile text (prototype names...). */
const hostileDoc = fc.tuple(fc.integer(), fc.array(fc.tuple(mutation, hostileText), { maxLength: 3 })).map(([seed, muts]) => {
  const doc = randomConfig(mulberry32(seed), 4) as unknown;
  for (const [m, text] of muts) inject(doc, { ...m, kind: m.kind === 'ruleField' ? 'renameKey' : m.kind }, text);
  return doc;
});

describe(`config text: what is written is what is read (seed ${FUZZ_SEED})`, () => {
  it('JSON (with or without a byte order mark) reads as JSON.parse reads it, prototype-named keys included', () => {
    fc.assert(
      fc.property(hostileDoc, fc.boolean(), fc.nat({ max: 4 }), (doc, bom, indent) => {
        const text = JSON.stringify(doc, null, indent);
        const read = parseConfigText(bom ? `\ufeff${text}` : text, 'doc.json');
        expect(read).toEqual(JSON.parse(text));
        expect(Object.keys(read as object)).toEqual(Object.keys(JSON.parse(text) as object));
      }),
      fuzzParams('config text: JSON reads as JSON.parse', 200),
    );
  });

  it('YAML reads as the value that was written, prototype-named keys included', () => {
    fc.assert(
      fc.property(hostileDoc, (doc) => {
        const text = toYaml(doc);
        expect(parseConfigText(text, 'doc.yaml')).toEqual(JSON.parse(JSON.stringify(doc)));
      }),
      fuzzParams('config text: YAML reads as written', 200),
    );
  });
});

// ------------------------------------------------------------------ nesting

/** `level` lists/objects nested inside a rule field, in JSON text (flow) or YAML block style. */
function nested(level: number, kinds: boolean[], yamlBlock: boolean): { json: string; yaml?: string } {
  // The rule object is level 5: {securityGroups: [ {inbound: [ {protocol: ...
  const inner = Math.max(0, level - 5);
  let json = '"tcp"';
  for (let i = 0; i < inner; i++) json = kinds[i % kinds.length] ? `[${json}]` : `{"k":${json}}`;
  const doc = `{"securityGroups": [{"id": "sg", "inbound": [{"protocol": ${json}, "source": "any", "action": "accept"}]}]}`;
  if (!yamlBlock) return { json: doc };
  let yaml = 'securityGroups:\n  - id: sg\n    inbound:\n      - source: any\n        action: accept\n        protocol:';
  let indent = '          ';
  for (let i = 0; i < inner; i++) {
    yaml += kinds[i % kinds.length] ? `\n${indent}-` : `\n${indent}k:`;
    indent += '  ';
  }
  yaml += ' tcp\n';
  return { json: doc, yaml };
}

describe(`config text: nesting depth (seed ${FUZZ_SEED})`, () => {
  it(`is refused as TOO_DEEP past ${MAX_DEPTH} levels, in JSON, YAML and JS values alike, and never overflows the stack`, () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 5, max: 80 }), fc.integer({ min: 5, max: 20_000 })),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        (level, kinds, block) => {
          const { json, yaml } = nested(level, kinds, block && level < 300);
          const texts: [string, string][] = [[json, 'deep.json'], [json, 'deep.yaml']];
          if (yaml) texts.push([yaml, 'deep.yaml']);
          for (const [text, name] of texts) {
            if (level <= MAX_DEPTH) {
              // Within the limit: read, then refused by the validator as a protocol (not as depth).
              const doc = parseConfigText(text, name);
              const r = safeParseConfig(doc);
              expect(r.success).toBe(level === 5);
              if (!r.success) expect(r.issues.map((i) => i.code)).not.toContain('TOO_DEEP');
            } else {
              const err = parseRefusal(() => parseConfigText(text, name));
              expect(err.issues.map((i) => i.code)).toEqual(['TOO_DEEP']);
              const at = expectInside(err.issues[0]!, text);
              expect(at[0]).toMatch(name.endsWith('.json') ? /[[{]/ : /[-k[{]/);
            }
          }
          // The same value built in JS (JSON.parse nests iteratively).
          const value = JSON.parse(json) as unknown;
          const r = safeParseConfig(value);
          if (level > MAX_DEPTH) {
            expect(r.success).toBe(false);
            if (!r.success) expect(r.issues.map((i) => i.code)).toEqual(['TOO_DEEP']);
          } else if (!r.success) expect(r.issues.map((i) => i.code)).not.toContain('TOO_DEEP');
        },
      ),
      fuzzParams('config text: nesting depth', 50),
    );
  });
});

// ------------------------------------------------------------------ duplicate keys

/** JSON text of `doc` with key `key` written a second time in its `which`-th object, at entry position `at`. */
function jsonWithDuplicate(doc: unknown, which: number, keyPick: number, at: number, indent: number): { text: string; key: string } | undefined {
  const objects = objectsOf(doc).filter((o) => Object.keys(o).length > 0);
  if (objects.length === 0) return undefined;
  const o = objects[which % objects.length]!;
  const keys = Object.keys(o);
  const key = keys[keyPick % keys.length]!;
  const SENTINEL = '\u0000duplicate\u0000';
  const entries = Object.entries(o);
  entries.splice(at % (entries.length + 1), 0, [SENTINEL, o[key]]);
  for (const k of keys) delete o[k];
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  const text = JSON.stringify(doc, null, indent).replace(JSON.stringify(SENTINEL), JSON.stringify(key));
  return { text, key };
}

describe(`config text: duplicate keys (seed ${FUZZ_SEED})`, () => {
  it('are refused in JSON (and in the same text read as YAML), naming the key, its line and column', () => {
    fc.assert(
      fc.property(hostileDoc, fc.nat(), fc.nat(), fc.nat(), fc.nat({ max: 3 }), (generated, which, keyPick, at, indent) => {
        const doc = JSON.parse(JSON.stringify(generated)) as unknown; // fast-check may hand the same value again
        const d = jsonWithDuplicate(doc, which, keyPick, at, indent);
        if (!d) return;
        for (const name of ['dup.json', 'dup.yaml']) {
          const err = parseRefusal(() => parseConfigText(d.text, name));
          const dup = err.issues.filter((i) => i.code === 'DUPLICATE_KEY');
          expect(dup.length, err.message).toBe(1);
          expect(dup[0]!.given).toBe(d.key);
          expect(dup[0]!.message).toContain(JSON.stringify(d.key).slice(0, 60));
          const rest = expectInside(dup[0]!, d.text);
          expect(rest.startsWith(JSON.stringify(d.key))).toBe(true);
          if (name === 'dup.json') expect(dup[0]!.path[dup[0]!.path.length - 1]).toBe(d.key);
        }
      }),
      fuzzParams('config text: duplicate keys in JSON', 200),
    );
  });

  it('are refused in YAML block style, with the line of the second one', () => {
    fc.assert(
      fc.property(fc.integer(), fc.nat(), fc.nat(), (seed, which, keyPick) => {
        const doc = new Document(randomConfig(mulberry32(seed), 3));
        let n = 0;
        let key: string | undefined;
        const maps: unknown[] = [];
        visitYaml(doc, { Map: (_k, node) => void maps.push(node) });
        const target = maps[which % maps.length] as { items: Pair<{ value: unknown }>[] } | undefined;
        if (!target || target.items.length === 0) return;
        const pair = target.items[keyPick % target.items.length]!;
        key = String(pair.key.value);
        target.items.push(new Pair(doc.createNode(key), doc.createNode('again')));
        n++;
        const text = doc.toString();
        const err = parseRefusal(() => parseConfigText(text, 'dup.yaml'));
        const dup = err.issues.filter((i) => i.code === 'DUPLICATE_KEY');
        expect(dup.length, err.message).toBe(n);
        const rest = expectInside(dup[0]!, text);
        expect(rest.replace(/^["']/, '').startsWith(key)).toBe(true);
        // The second one: the first occurrence is on an earlier line.
        expect(text.split('\n').slice(0, dup[0]!.line! - 1).some((l) => l.replace(/^[\s-]*["']?/, '').startsWith(key!))).toBe(true);
      }),
      fuzzParams('config text: duplicate keys in YAML', 200),
    );
  });
});

// ------------------------------------------------------------------ aliases

/** Values in a JS value, lists and objects included: what plainData counts. */
function size(v: unknown): number {
  if (Array.isArray(v)) return 1 + v.reduce((n: number, x) => n + size(x), 0);
  if (typeof v === 'object' && v !== null) return 1 + Object.values(v).reduce((n: number, x) => n + size(x), 0);
  return 1;
}

describe(`config text: YAML aliases (seed ${FUZZ_SEED})`, () => {
  it(`a file may alias as often as it likes while the aliases add at most ${MAX_EXPANSION.toLocaleString('en-US')} values`, () => {
    fc.assert(
      fc.property(fc.integer({ min: 10, max: 30 }), fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: -3, max: 3 }).map((d) => ({ d }))), (rules, pick) => {
        // One anchored rule list, aliased by `aliases` groups: up to 3,000, or right at the limit.
        const list = Array.from({ length: rules }, (_, i) => ({ protocol: 'TCP', port: 1000 + i, source: '10.0.0.0/8', action: 'accept' }));
        const aliases = typeof pick === 'number' ? pick : Math.floor(MAX_EXPANSION / size(list)) + pick.d;
        let text = `securityGroups:\n  - id: sg-0\n    inbound: &rules\n${list.map((r) => `      - {protocol: ${r.protocol}, port: ${r.port}, source: ${r.source}, action: ${r.action}}\n`).join('')}`;
        for (let i = 1; i <= aliases; i++) text += `  - {id: sg-${i}, inbound: *rules}\n`;
        const added = aliases * size(list);
        if (added <= MAX_EXPANSION) {
          const doc = parseConfigText(text, 'aliases.yaml') as { securityGroups: unknown[] };
          expect(doc.securityGroups.length).toBe(aliases + 1);
          if (aliases <= 300) {
            const r = safeParseConfig(doc);
            expect(r.success).toBe(true);
            if (r.success) expect(r.config.securityGroups.reduce((n, g) => n + g.inbound.length, 0)).toBe((aliases + 1) * rules);
          }
        } else {
          const err = parseRefusal(() => parseConfigText(text, 'aliases.yaml'));
          expect(err.issues.map((i) => i.code)).toEqual(['ALIAS_EXPANSION']);
          expect(err.message).toContain(MAX_EXPANSION.toLocaleString('en-US'));
        }
      }),
      fuzzParams('config text: aliases within the limit', 10),
    );
  });

  it('an expansion bomb ("billion laughs") is refused after counting, never expanded; smaller fan-outs are read', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 2, max: 12 }), (levels, fanOut) => {
        let text = `a0: &a0 [${Array(fanOut).fill('lol').join(', ')}]\n`;
        let prev = 1 + fanOut;
        let expansion = 0;
        let total = 1 + prev; // the root mapping and a0
        for (let i = 1; i <= levels; i++) {
          text += `a${i}: &a${i} [${Array(fanOut).fill(`*a${i - 1}`).join(', ')}]\n`;
          expansion += fanOut * prev;
          prev = 1 + fanOut * prev;
          total += prev;
        }
        const t0 = performance.now();
        if (expansion <= MAX_EXPANSION) {
          const doc = parseConfigText(text, 'bomb.yaml') as Record<string, unknown>;
          expect(size(doc)).toBe(total);
        } else {
          const err = parseRefusal(() => parseConfigText(text, 'bomb.yaml'));
          expect(err.issues.map((i) => i.code)).toEqual(['ALIAS_EXPANSION']);
          // Refused by counting: bounded by the limit, not by the bomb.
          expect(performance.now() - t0).toBeLessThan(5_000);
        }
      }),
      fuzzParams('config text: expansion bombs', 50),
    );
  });

  it('shared JS objects are counted the same way (the JS form of an alias)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 2, max: 4 }), (levels, fanOut) => {
        let v: unknown = ['x'];
        let prev = 2;
        let expansion = 0;
        for (let i = 0; i < levels; i++) {
          v = Array(fanOut).fill(v);
          expansion += (fanOut - 1) * prev; // the first reference is the written one
          prev = 1 + fanOut * prev;
        }
        const r = plainData(v, [], 'value');
        expect(r.ok).toBe(expansion <= MAX_EXPANSION);
        if (!r.ok) expect(r.issues.map((i) => i.code)).toEqual(['ALIAS_EXPANSION']);
      }),
      fuzzParams('config text: shared JS objects', 200),
    );
  });

  it('an alias inside its own anchor is a cycle, refused with its path', () => {
    const err = parseRefusal(() => parseConfigText('securityGroups: &g\n  - id: sg\n    inbound: *g\n', 'cycle.yaml'));
    expect(err.issues).toEqual([expect.objectContaining({ code: 'CIRCULAR', path: ['securityGroups', 0, 'inbound'] })]);
  });
});

// ------------------------------------------------------------------ YAML 1.2 only, broken JSON

describe(`config text: YAML versions and schemas (seed ${FUZZ_SEED})`, () => {
  it('reads YAML 1.2 core only: any other %YAML version is refused, and 1:02 stays text', () => {
    fc.assert(
      fc.property(fc.constantFrom('1.0', '1.1', '1.2', '1.3', '2.0', '1.10'), fc.boolean(), (version, spaces) => {
        const text = `%YAML${spaces ? '   ' : ' '}${version}\n---\nsecurityGroups:\n  - id: sg\n    inbound:\n      - {protocol: TCP, port: 1:02, source: any, action: accept}\n`;
        if (version === '1.2') {
          const r = safeParseConfig(parseConfigText(text, 'v.yaml'));
          expect(r.success).toBe(false);
          if (!r.success) expect(r.issues).toEqual([expect.objectContaining({ code: 'INVALID_PORT', given: '1:02' })]);
        } else {
          const err = parseRefusal(() => parseConfigText(text, 'v.yaml'));
          expect(err.issues.map((i) => i.code)).toEqual(['YAML_UNSUPPORTED']);
          expect(err.message).toContain(`YAML ${version}`);
          expectInside(err.issues[0]!, text);
        }
      }),
      fuzzParams('config text: YAML versions', 30),
    );
    // Without a directive too: 1.1's sexagesimal and yes/no are text in 1.2.
    const doc = parseConfigText('a: 1:02\nb: yes\nc: 0o17\nd: 017\n', 'v.yaml');
    expect(doc).toEqual({ a: '1:02', b: 'yes', c: 15, d: 17 });
  });

  it('tags outside the core schema are refused with their line', () => {
    for (const tag of ['!!binary aGVsbG8=', '!!timestamp 2001-12-14', '!!set {a, b}', '!!omap [a: 1]', '!custom x', '!<tag:example.com,2000:x> y']) {
      const text = `securityGroups:\n  - id: sg\n    description: ${tag}\n`;
      const err = parseRefusal(() => parseConfigText(text, 't.yaml'));
      expect(err.issues.map((i) => i.code), tag).toEqual(['YAML_UNSUPPORTED']);
      expect(err.issues[0]!.line).toBe(3);
    }
    // The core schema's own tags are fine.
    expect(parseConfigText('a: !!str 22\nb: !!int "22"\n', 't.yaml')).toEqual({ a: '22', b: 22 });
  });

  it('one document per file', () => {
    const err = parseRefusal(() => parseConfigText('securityGroups: []\n---\nsecurityGroups: []\n', 'two.yaml'));
    expect(err.issues).toEqual([expect.objectContaining({ code: 'PARSE_ERROR', line: 2 })]);
  });
});

describe(`config text: broken JSON (seed ${FUZZ_SEED})`, () => {
  it('a cut or corrupted JSON text is refused with the line and column of the first error, or still reads as JSON.parse reads it', () => {
    fc.assert(
      fc.property(fc.integer(), fc.nat(), fc.nat(), fc.constantFrom('cut', 'replace', 'insert'), fc.constantFrom(',', '}', ']', '"', ':', '/', 'x', '\u0001', '\u00a0', '0', ' '), (seed, at, indent, how, ch) => {
        const text = JSON.stringify(randomConfig(mulberry32(seed), 3), null, indent % 4);
        const k = at % text.length;
        const broken = how === 'cut' ? text.slice(0, k) : how === 'replace' ? text.slice(0, k) + ch + text.slice(k + 1) : text.slice(0, k) + ch + text.slice(k);
        let expected: unknown;
        let valid = true;
        try {
          expected = JSON.parse(broken);
        } catch {
          valid = false;
        }
        if (valid) {
          // Unless it now holds a duplicate key, it reads as JSON.parse reads it.
          try {
            expect(parseConfigText(broken, 'b.json')).toEqual(expected);
          } catch (e) {
            expect((e as SgfilterError).issues?.map((i) => i.code)).toEqual(['DUPLICATE_KEY']);
          }
          return;
        }
        const err = parseRefusal(() => parseConfigText(broken, 'b.json'));
        expect(err.issues.length).toBe(1);
        expect(err.issues[0]!.code).toBe('PARSE_ERROR');
        expectInside(err.issues[0]!, broken);
      }),
      fuzzParams('config text: broken JSON', 200),
    );
  });
});

describe('flow files (JSON lines) are read as strictly as config JSON', () => {
  it('a duplicate key in a flow line is refused with its line, not last-wins', async () => {
    const { parseFlowLines } = await import('../src/cli/flows.js');
    const { parseConfig } = await import('../src/index.js');
    const config = parseConfig({ securityGroups: [{ id: 'sg', inbound: ['ACCEPT#any#ALL#TCP'] }] });
    const text = '{"direction":"inbound","protocol":"TCP","port":22,"remote":"192.0.2.1"}\n{"direction":"inbound","protocol":"TCP","protocol":"UDP","port":22,"remote":"192.0.2.1"}\n';
    expect(() => parseFlowLines(text, 'flows.jsonl', config)).toThrow(/flows\.jsonl line 2, column 41: key "protocol" appears twice in one object \(first at column 24\)/);
  });
});
