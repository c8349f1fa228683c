/**
 * Hostile inputs for property tests: text that names what Object.prototype and
 * Function.prototype hold, values only the JS API can pass, and a way to put one of
 * them anywhere in a document. Arbitraries yield names of values, not the values
 * themselves, so that fast-check can print a failing case (a throwing Proxy cannot
 * be printed) and every run builds fresh ones.
 */
import fc from 'fast-check';
import { IssueCodes, SgfilterError, type Issue } from '../src/index.js';

/** Own property names of Object.prototype (what a plain-object table answers for any key). */
export const OBJECT_PROTOTYPE_NAMES: readonly string[] = [...new Set([...Object.getOwnPropertyNames(Object.prototype), '__proto__'])];
/** Own property names of Function.prototype and Array.prototype, and `prototype`. */
export const OTHER_PROTOTYPE_NAMES: readonly string[] = [
  ...new Set([...Object.getOwnPropertyNames(Function.prototype), ...Object.getOwnPropertyNames(Array.prototype), 'prototype']),
].filter((n) => !OBJECT_PROTOTYPE_NAMES.includes(n));
export const PROTOTYPE_NAMES: readonly string[] = [...OBJECT_PROTOTYPE_NAMES, ...OTHER_PROTOTYPE_NAMES];

/** Words the formats do know, so that hostile text sits next to accepted text. */
const KNOWN_WORDS = [
  'tcp', 'udp', 'icmp', 'icmpv6', 'gre', 'all', '6', '17', 'accept', 'allow', 'drop', 'deny', 'reject', 'inbound', 'outbound',
  'linux-login', 'Linux login', 'ping', 'http', 'HTTP (80)', 'custom', 'open-all', 'open-common', '0.0.0.0/0', '::/0', 'any', '22', 'ALL', '80,443',
];

/** A name, in any case (tables lower-case what they look up), padded with spaces (they trim). */
const dressed = (names: readonly string[]) =>
  fc.tuple(fc.constantFrom(...names), fc.constantFrom('', ' ', '  ', '\t'), fc.constantFrom('', ' ', '\n'), fc.nat())
    .map(([name, before, after, casing]) => before + recase(name, casing) + after);

/** A prototype name (Object.prototype's most often) in any case and spacing, a known word, or any string. */
export const hostileText: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: dressed(OBJECT_PROTOTYPE_NAMES) },
  { weight: 2, arbitrary: dressed(OTHER_PROTOTYPE_NAMES) },
  { weight: 2, arbitrary: fc.constantFrom(...KNOWN_WORDS) },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }) },
);

/** Upper/lower case per letter, from the bits of `bits` (0: as is). */
function recase(s: string, bits: number): string {
  if (bits % 3 === 0) return s;
  if (bits % 3 === 1) return s.toUpperCase();
  return [...s].map((c, i) => ((bits >> (i % 30)) & 1 ? c.toUpperCase() : c.toLowerCase())).join('');
}

const HUGE = 'x'.repeat((1 << 20) + 1);

/** Builders of values only the JS API can pass (fresh value per call). */
export const WEIRD_VALUES: Record<string, () => unknown> = {
  bigint: () => 6n,
  hugeBigint: () => 2n ** 200n,
  symbol: () => Symbol('protocol'),
  function: () => () => 'tcp',
  class: () => class Rule {},
  circularObject: () => {
    const o: Record<string, unknown> = { protocol: 'tcp', action: 'accept', source: 'any' };
    o.self = o;
    return o;
  },
  circularList: () => {
    const l: unknown[] = ['ACCEPT#any#ALL#ALL'];
    l.push(l);
    return l;
  },
  nullPrototype: () => Object.assign(Object.create(null) as object, { protocol: 'tcp', port: 22, source: 'any', action: 'accept' }),
  throwingGetter: () => ({ protocol: 'tcp', source: 'any', get action(): string { throw new Error('getter says no'); } }),
  throwingProxy: () => new Proxy({}, { ownKeys: () => { throw new Error('trap says no'); }, get: () => { throw new Error('trap says no'); } }),
  throwingPrototypeProxy: () => new Proxy({}, { getPrototypeOf: () => { throw new Error('trap says no'); } }),
  revokedProxy: () => {
    const p = Proxy.revocable({}, {});
    p.revoke();
    return p.proxy;
  },
  holeyList: () => [, 'ACCEPT#any#ALL#ALL'], // eslint-disable-line no-sparse-arrays
  longHoleyList: () => {
    const l: unknown[] = [];
    l.length = 2 ** 31;
    return l;
  },
  hugeString: () => HUGE,
  hugeKey: () => ({ [HUGE]: 1 }),
  date: () => new Date(0),
  map: () => new Map([['protocol', 'tcp']]),
  set: () => new Set(['tcp']),
  typedArray: () => new Uint8Array(4),
  boxedString: () => new String('tcp'), // eslint-disable-line no-new-wrappers
  classInstance: () => new (class RuleLike { protocol = 'tcp'; source = 'any'; action = 'accept'; })(),
  inheritedFields: () => Object.create({ protocol: 'tcp', source: 'any', action: 'accept' }) as object,
  nan: () => NaN,
  infinity: () => Infinity,
  negativeZero: () => -0,
  undefined: () => undefined,
  deep: () => {
    let v: unknown = 'tcp';
    for (let i = 0; i < 5000; i++) v = i % 2 ? [v] : { v };
    return v;
  },
  symbolKey: () => ({ [Symbol('k')]: 1, protocol: 'tcp', source: 'any', action: 'accept' }),
  protoKey: () => JSON.parse('{"__proto__": {"protocol": "tcp"}, "source": "any", "action": "accept"}') as unknown,
  sharedDag: () => {
    // 2^30 paths through 30 shared levels: the JS form of "billion laughs".
    let v: unknown = ['ACCEPT#any#ALL#ALL'];
    for (let i = 0; i < 30; i++) v = [v, v];
    return v;
  },
};

export const weirdValueName: fc.Arbitrary<string> = fc.constantFrom(...Object.keys(WEIRD_VALUES));

/** A snapshot of Object.prototype and Function.prototype: names and descriptors. */
export function prototypeState(): string {
  const describe = (o: object) => Object.getOwnPropertyNames(o).sort().map((k) => {
    const d = Object.getOwnPropertyDescriptor(o, k)!;
    return `${k}:${typeof d.value}:${String(d.writable)}:${typeof d.get}`;
  }).join(',');
  return `${describe(Object.prototype)}|${describe(Function.prototype)}|${String(Object.getPrototypeOf(Object.prototype))}`;
}

/**
 * Runs `f`; returns its result, or the SgfilterError it threw. Anything else it
 * throws (TypeError, RangeError...) is a failure of the test.
 */
export async function refusedOr<T>(f: () => T | Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: SgfilterError }> {
  try {
    return { ok: true, value: await f() };
  } catch (e) {
    if (e instanceof SgfilterError) return { ok: false, error: e };
    throw new Error(`threw ${(e as Error)?.name ?? typeof e} instead of an SgfilterError: ${(e as Error)?.stack ?? String(e)}`);
  }
}

/** Every issue has a known code, a path (list of keys and indices) and a message. */
export function expectCodedIssues(issues: Issue[], pathStart: (string | number)[] = []): void {
  if (issues.length === 0) throw new Error('refused without any issue');
  for (const i of issues) {
    if (!Object.hasOwn(IssueCodes, i.code)) throw new Error(`issue with unknown code ${String(i.code)}`);
    if (!Array.isArray(i.path) || !i.path.every((k) => typeof k === 'string' || typeof k === 'number')) {
      throw new Error(`issue ${i.code} without a proper path`);
    }
    for (let k = 0; k < pathStart.length; k++) {
      if (i.path[k] !== pathStart[k]) throw new Error(`issue ${i.code} at ${JSON.stringify(i.path)}, expected under ${JSON.stringify(pathStart)}`);
    }
    if (typeof i.message !== 'string' || i.message === '') throw new Error(`issue ${i.code} without a message`);
    // Issues must survive the trip to a worker and to JSON.
    structuredClone(i);
    JSON.stringify(i);
  }
}

type Slot = { parent: Record<string, unknown> | unknown[]; key: string | number };

/** Every place in `doc` that holds a value (not the root), in a fixed order. */
export function slotsOf(doc: unknown): Slot[] {
  const out: Slot[] = [];
  const stack: unknown[] = [doc];
  while (stack.length) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      v.forEach((_, i) => {
        out.push({ parent: v, key: i });
        stack.push(v[i]);
      });
    } else if (typeof v === 'object' && v !== null) {
      for (const k of Object.keys(v)) {
        out.push({ parent: v as Record<string, unknown>, key: k });
        stack.push((v as Record<string, unknown>)[k]);
      }
    }
  }
  return out;
}

/** Every object in `doc` (root included), in a fixed order. */
export function objectsOf(doc: unknown): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const stack: unknown[] = [doc];
  while (stack.length) {
    const v = stack.pop();
    if (Array.isArray(v)) stack.push(...v);
    else if (typeof v === 'object' && v !== null) {
      out.push(v as Record<string, unknown>);
      stack.push(...Object.values(v));
    }
  }
  return out;
}

/**
 * What to do to a document: which slot, object or rule (an index, wrapped), and
 * how. `ruleField` sets one field of a rule (object, Terraform string or Tencent
 * policy) and, with `drop`, removes the fields that would make the rule invalid for
 * another reason (a port once the protocol is not TCP/UDP), so that hostile text in
 * that one field is what decides whether the rule is accepted.
 */
export interface Mutation {
  kind: 'replace' | 'addKey' | 'renameKey' | 'terraformPart' | 'ruleField';
  at: number;
  part: number;
  drop: boolean;
}

const mutationOf = (...kinds: Mutation['kind'][]): fc.Arbitrary<Mutation> => fc.record({
  kind: fc.constantFrom(...kinds),
  at: fc.nat(),
  part: fc.nat(),
  drop: fc.boolean(),
});

export const mutation: fc.Arbitrary<Mutation> = mutationOf('replace', 'addKey', 'renameKey', 'terraformPart', 'ruleField', 'ruleField', 'ruleField');
/** For edit lists, where most slots are ids and positions: rule fields more often. */
export const editMutation: fc.Arbitrary<Mutation> = mutationOf('replace', 'replace', 'addKey', 'renameKey', 'ruleField', 'ruleField', 'ruleField', 'ruleField', 'ruleField', 'ruleField');

/** Rule fields; those whose text is looked up in a table (protocol, action, type) twice as often. */
const NATIVE_FIELDS = ['protocol', 'action', 'type', 'protocol', 'action', 'type', 'port', 'peer', 'localCidr', 'sourcePort', 'icmpType', 'icmpCode', 'description'];
const TENCENT_FIELDS = ['Protocol', 'Action', 'Protocol', 'Action', 'Port', 'CidrBlock', 'Ipv6CidrBlock', 'PolicyDescription'];
/** Fields that only make sense with some protocols, removed with `drop`. */
const DEPENDENT = ['port', 'sourcePort', 'icmpType', 'icmpCode', 'Port'];

/** Sets one field of one rule; false when the document has no rule. */
function setRuleField(doc: unknown, m: Mutation, text: string): boolean {
  const slots = slotsOf(doc);
  const lite = slots.filter((x) => {
    const v = (x.parent as Record<string | number, unknown>)[x.key];
    return typeof v === 'string' && v.split('#').length === 4;
  });
  const objects = objectsOf(doc).filter((o) => Object.hasOwn(o, 'action') || Object.hasOwn(o, 'Action'));
  const n = lite.length + objects.length;
  if (n === 0) return false;
  const k = m.at % n;
  if (k < lite.length) {
    const x = lite[k]!;
    const parts = ((x.parent as Record<string | number, unknown>)[x.key] as string).split('#');
    const part = m.part % 4;
    parts[part] = text.replace(/#/g, '');
    if (m.drop && part === 3) parts[2] = 'ALL';
    (x.parent as Record<string | number, unknown>)[x.key] = parts.join('#');
    return true;
  }
  const rule = objects[k - lite.length]!;
  const tencent = Object.hasOwn(rule, 'Action');
  let field = (tencent ? TENCENT_FIELDS : NATIVE_FIELDS)[m.part % (tencent ? TENCENT_FIELDS : NATIVE_FIELDS).length]!;
  if (field === 'peer') field = ['source', 'destination', 'peer'].find((f) => Object.hasOwn(rule, f)) ?? 'peer';
  if (m.drop && (field === 'protocol' || field === 'type' || field === 'Protocol')) {
    for (const d of DEPENDENT) delete rule[d];
    delete rule[field === 'type' ? 'protocol' : 'type'];
  }
  Object.defineProperty(rule, field, { value: text, enumerable: true, writable: true, configurable: true });
  return true;
}

/**
 * Puts `value` into `doc` (mutated in place) as `m` says: replacing a value, as the
 * name of a new or renamed key (text only), or as one part of a Terraform lite
 * string (text only; falls back to replace when there is none).
 */
export function inject(doc: unknown, m: Mutation, value: unknown): void {
  const slots = slotsOf(doc);
  const objects = objectsOf(doc);
  if (typeof value === 'string' && m.kind === 'addKey' && objects.length) {
    const o = objects[m.at % objects.length]!;
    Object.defineProperty(o, value, { value: 'x', enumerable: true, writable: true, configurable: true });
    return;
  }
  if (typeof value === 'string' && m.kind === 'renameKey') {
    const keyed = slots.filter((s) => !Array.isArray(s.parent));
    if (keyed.length) {
      const s = keyed[m.at % keyed.length]!;
      const o = s.parent as Record<string, unknown>;
      const v = o[s.key as string];
      delete o[s.key as string];
      Object.defineProperty(o, value, { value: v, enumerable: true, writable: true, configurable: true });
      return;
    }
  }
  if (typeof value === 'string' && m.kind === 'ruleField' && setRuleField(doc, m, value)) return;
  if (typeof value === 'string' && m.kind === 'terraformPart') {
    const lite = slots.filter((s) => typeof (s.parent as Record<string | number, unknown>)[s.key] === 'string' && ((s.parent as Record<string | number, unknown>)[s.key] as string).split('#').length === 4);
    if (lite.length) {
      const s = lite[m.at % lite.length]!;
      const parts = ((s.parent as Record<string | number, unknown>)[s.key] as string).split('#');
      parts[m.part % 4] = value.replace(/#/g, '');
      (s.parent as Record<string | number, unknown>)[s.key] = parts.join('#');
      return;
    }
  }
  if (slots.length === 0) return;
  // Text replaces a leaf (where users write words); other values may replace anything.
  const leaves = typeof value === 'string' ? slots.filter((x) => {
    const v = (x.parent as Record<string | number, unknown>)[x.key];
    return typeof v !== 'object' || v === null;
  }) : [];
  const pool = leaves.length ? leaves : slots;
  const s = pool[m.at % pool.length]!;
  if (Array.isArray(s.parent)) s.parent[s.key as number] = value;
  else Object.defineProperty(s.parent, s.key, { value, enumerable: true, writable: true, configurable: true });
}

/** Hostile text, or the name of a value only the JS API can pass (printable; build it with hostileValueOf). */
export type HostileValue = { text: string } | { weird: string };
export const hostileValue: fc.Arbitrary<HostileValue> = fc.oneof(
  { weight: 4, arbitrary: hostileText.map((text) => ({ text })) },
  { weight: 1, arbitrary: weirdValueName.map((weird) => ({ weird })) },
);
/** The value a HostileValue names (a fresh one for weird values). */
export const hostileValueOf = (h: HostileValue): unknown => ('text' in h ? h.text : WEIRD_VALUES[h.weird]!());

/**
 * Puts every hostile text of `mutations` into `doc`, then the first JS-only value (as
 * a replacement: it has no key form), and no other, since a walk of the document
 * would read it (a revoked proxy throws at Array.isArray).
 */
export function injectAll(doc: unknown, mutations: readonly [Mutation, HostileValue][]): void {
  for (const [m, h] of mutations) if ('text' in h) inject(doc, m, h.text);
  const weird = mutations.find(([, h]) => 'weird' in h);
  if (weird) inject(doc, { ...weird[0], kind: 'replace' }, hostileValueOf(weird[1]));
}
