/**
 * Library-owned Configs: the only Configs the compiler, the engine and update() use.
 *
 * A Config is trusted only when the library made it: parseConfig (from a document),
 * update() (PolicyTransaction.commit), a snapshot's metadata, the ClassBench reader.
 * Each is deep-frozen when made and remembered here (a WeakSet: a brand no caller can
 * forge), so `engine.config` can be handed out as it is, an edit reuses its unchanged
 * groups without checking them again, and a worker thread is sent plain, frozen data.
 *
 * A Config that comes from outside (built by hand, changed after parseConfig made it,
 * cloned on its way to a worker) is trusted by nothing. Checking it where it lies and
 * then compiling it reads every field twice: a getter or Proxy can answer the check
 * one thing and the compiler another, and an object the caller still holds can be
 * changed after the check (mutating `engine.config` and then running an unrelated
 * update() published rules no validator saw). So it is copied into fresh objects as
 * it is read, field by field, each field once, through its property descriptor: an
 * accessor (getter or setter) is refused, never called; a Proxy is asked once and
 * what it answered is what is checked and compiled; fields that are not part of a
 * Config are not copied. The copy is then checked (config-shape.ts, on data nobody
 * else holds), deep-frozen and owned.
 */
import type { Path } from '../errors.js';
import type { Config } from '../types.js';
import { configShapeProblem, type ShapeProblem } from './config-shape.js';
import { PLAIN_PROTO } from './plain.js';

const OWNED = new WeakSet<object>();

/** True when `x` is a Config this library made (deep-frozen; nobody else can change it). */
export function isOwnedConfig(x: unknown): x is Config {
  return typeof x === 'object' && x !== null && OWNED.has(x);
}

/**
 * Deep-freezes a Config the library has just built from fresh objects (and owned parts
 * of other owned Configs, which are frozen already) and marks it owned. Returns it.
 */
export function ownConfig<C extends Config>(config: C): C {
  deepFreeze(config);
  OWNED.add(config);
  return config;
}

/**
 * Freezes `root` and everything below it; stops at what is already frozen (owned parts
 * are frozen all the way down).
 *
 * Every object of an owned Config reads its own fields only (plain.ts, PLAIN_PROTO):
 * the compiler, the reference matcher and the snapshot writer read fields a rule may
 * not have (ports, local, peerSet), and must not find them on Object.prototype. An
 * object still on Object.prototype is replaced by a copy on PLAIN_PROTO (one copy
 * wherever it is referenced, so shared parts stay shared), not re-prototyped in
 * place: V8 gives an object whose prototype was changed and that is then frozen a
 * map of its own, so every read of a rule's fields went through the megamorphic
 * path (the reference matcher ran ~25× slower, parsing 50K rules 60% slower).
 * Only the root keeps its identity (the caller holds it).
 */
function deepFreeze(root: object): void {
  const copies = new Map<object, object>();
  const onPlainProto = (v: object): object => {
    if (Array.isArray(v) || Object.isFrozen(v) || Object.getPrototypeOf(v) !== Object.prototype) return v;
    let c = copies.get(v);
    if (c === undefined) {
      c = Object.create(PLAIN_PROTO) as object;
      // Defined, not assigned: "toString" is PLAIN_PROTO's read-only field, "__proto__" a setter elsewhere.
      for (const k of Object.keys(v)) Object.defineProperty(c, k, { value: (v as Record<string, unknown>)[k], writable: true, enumerable: true, configurable: true });
      copies.set(v, c);
    }
    return c;
  };
  if (!Array.isArray(root) && !Object.isFrozen(root) && Object.getPrototypeOf(root) === Object.prototype) Object.setPrototypeOf(root, PLAIN_PROTO);
  const stack: object[] = [root];
  while (stack.length > 0) {
    const o = stack.pop()!;
    if (Object.isFrozen(o)) continue;
    for (const k of Object.keys(o)) {
      const v = (o as Record<string, unknown>)[k];
      if (typeof v !== 'object' || v === null) continue;
      const c = onPlainProto(v);
      if (c !== v) Object.defineProperty(o, k, { value: c });
      if (!Object.isFrozen(c)) stack.push(c);
    }
    Object.freeze(o);
  }
}

// ------------------------------------------------------------------ copying a Config from outside

/** What a Config is made of, for the copy: which fields each object has, what each holds. */
type Shape = 'value' | { readonly fields: readonly (readonly [string, Shape])[] } | { readonly list: Shape } | { readonly nullable: Shape };

const value: Shape = 'value';
const list = (of: Shape): Shape => ({ list: of });
const nullable = (of: Shape): Shape => ({ nullable: of });
const fields = (f: Record<string, Shape>): Shape => ({ fields: Object.entries(f) });

const INTERVAL = fields({ lo: value, hi: value });
const ADDRESSES = fields({ v4: list(INTERVAL), v6: list(INTERVAL) });
const SERVICE = fields({ protocol: value, ports: nullable(list(INTERVAL)), text: value });
const RULE = fields({
  groupId: value, direction: value, ruleIndex: value, action: value, protocol: value,
  ports: nullable(list(INTERVAL)), peer: ADDRESSES, local: nullable(ADDRESSES), sourcePorts: nullable(list(INTERVAL)),
  icmpType: value, icmpCode: value, description: value, template: value,
  peerSet: value, peerGroup: value, serviceSet: value, services: list(SERVICE), policyIndex: value,
  text: fields({ protocol: value, port: value, peer: value }),
});
const CONFIG = fields({
  securityGroups: list(fields({ id: value, name: value, template: value, inbound: list(RULE), outbound: list(RULE) })),
  instances: list(fields({ id: value, securityGroups: list(value), addresses: ADDRESSES })),
  implicitInstance: value,
  warnings: list(fields({ path: list(value), message: value, file: value })),
  addressSets: list(fields({ id: value, name: value, addresses: ADDRESSES, sets: list(value) })),
  serviceSets: list(fields({ id: value, name: value, services: list(SERVICE), sets: list(value) })),
  semantics: value,
});

class NotAConfig extends Error {
  constructor(readonly path: Path, message: string) {
    super(message);
  }
}

/** The copy, reading each field once through its descriptor; `at` is the path so far (one array, pushed and popped). */
function copy(v: unknown, shape: Shape, at: Path): unknown {
  const fail = (message: string, key?: string | number): never => {
    throw new NotAConfig(key === undefined ? [...at] : [...at, key], message);
  };
  if (shape === 'value') {
    if (typeof v === 'object' && v !== null) fail('is an object or list where a single value belongs');
    if (typeof v === 'function' || typeof v === 'symbol') fail(`is a ${typeof v}; a Config holds plain data only`);
    return v;
  }
  if ('nullable' in shape) return v === null || v === undefined ? v : copy(v, shape.nullable, at);
  if (typeof v !== 'object' || v === null) return v; // a primitive where an object belongs: the shape check says so, with its path
  if ('list' in shape) {
    if (!Array.isArray(v)) fail('must be a list');
    const ld = Reflect.getOwnPropertyDescriptor(v, 'length');
    const length = ld && 'value' in ld ? (ld.value as unknown) : undefined;
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) fail('has no readable length');
    const out: unknown[] = new Array<unknown>(length as number);
    for (let i = 0; i < (length as number); i++) {
      const d = Reflect.getOwnPropertyDescriptor(v, i);
      if (d === undefined) fail('is a hole in the list; every entry must be given', i);
      if (!('value' in d!)) fail('is an accessor (a getter or setter); a Config holds plain data only', i);
      at.push(i);
      out[i] = copy(d!.value, shape.list, at);
      at.pop();
    }
    return out;
  }
  const proto = Reflect.getPrototypeOf(v);
  if (Array.isArray(v) || (proto !== Object.prototype && proto !== null && proto !== PLAIN_PROTO)) fail('must be a plain object');
  const out = Object.create(PLAIN_PROTO) as Record<string, unknown>;
  for (const [key, of] of shape.fields) {
    const d = Reflect.getOwnPropertyDescriptor(v, key);
    if (d === undefined) continue;
    if (!('value' in d)) fail('is an accessor (a getter or setter); a Config holds plain data only', key);
    if (d.value === undefined) continue;
    at.push(key);
    out[key] = copy(d.value, of, at);
    at.pop();
  }
  return out;
}

/**
 * A Config from outside, as library-owned data: copied (each field read once, accessors
 * refused), checked, frozen. An owned Config is returned as it is.
 */
export function adoptConfig(x: unknown): { ok: true; config: Config } | { ok: false; problem: ShapeProblem } {
  if (isOwnedConfig(x)) return { ok: true, config: x };
  let copied: unknown;
  try {
    copied = copy(x, CONFIG, []);
  } catch (e) {
    if (e instanceof NotAConfig) return { ok: false, problem: { path: e.path, message: e.message } };
    return { ok: false, problem: { path: [], message: `reading it threw (${e instanceof Error ? e.message : 'an exception'})` } };
  }
  const problem = configShapeProblem(copied);
  if (problem) return { ok: false, problem };
  return { ok: true, config: ownConfig(copied as Config) };
}
