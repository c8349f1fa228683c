/**
 * Options of the engine and the compiler, checked before anything reads them: a
 * value outside what an option means is INVALID_ARGUMENT naming the option, what was
 * given and what is allowed — never a loop that does not end (windowFlows: 0), a
 * trap (windowFlows: -1), flows silently dropped (windowFlows: 0.5 or NaN) or a limit
 * silently turned off (maxTableBytes: NaN).
 *
 * Option names one or two letters away from a known one (`windowflows`) are refused
 * too: ignoring them would silently keep the default. Other names are left alone, as
 * Node's own APIs do, so an options object can carry options of other layers.
 */
import { SgfilterError } from './errors.js';
import { closest } from './config/rule.js';
import { quote } from './config/plain.js';
import { describeValue, errorText } from './describe.js';
import { MAX_MEMORY_BYTES } from './wasm/load.js';

type Check = (v: unknown) => string | undefined;

const wholeAtLeast = (min: number, max = Number.MAX_SAFE_INTEGER): Check => (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? undefined : `a whole number ${min}-${max === Number.MAX_SAFE_INTEGER ? '2^53' : max}`;

/** Every option the engine, the compiler and reloads read, with what each allows. */
const OPTIONS: Record<string, Check> = Object.assign(Object.create(null) as Record<string, Check>, {
  windowFlows: wholeAtLeast(1),
  maxMemoryBytes: wholeAtLeast(65536, MAX_MEMORY_BYTES),
  maxTableBytes: wholeAtLeast(1),
  mergeMaxOrders: wholeAtLeast(0),
  partitionMinBytes: wholeAtLeast(0),
  expectedVersion: wholeAtLeast(1),
});

const COMPILE = ['maxTableBytes', 'mergeMaxOrders', 'partitionMinBytes'] as const;
const ENGINE = ['windowFlows', 'maxMemoryBytes', ...COMPILE] as const;
const RELOAD = ['expectedVersion'] as const;

/** Reads one option: the value it means, or what it allows. */
export type OptionReader = (v: unknown) => { ok: true; value: unknown } | { ok: false; allowed: string };

/** A Check as a reader that keeps the value as given. */
const checked = (c: Check): OptionReader => (v) => {
  const allowed = c(v);
  return allowed === undefined ? { ok: true, value: v } : { ok: false, allowed };
};

/**
 * Reads `options` (undefined, or an object) with `readers`: each known option once
 * (own properties only, so a getter cannot answer one value to the check and
 * another to the caller), checked, as its reader's value. A name one or two letters
 * from a known one is refused as a typo; other names are left alone (options of
 * other layers). INVALID_ARGUMENT names the option, what was given and what is
 * allowed; options that cannot be read (a revoked proxy, a throwing getter) are
 * INVALID_ARGUMENT too.
 */
export function readKnownOptions(options: unknown, readers: Readonly<Record<string, OptionReader>>, what: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (options === undefined) return out;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new SgfilterError('INVALID_ARGUMENT', `${what}: options must be an object, got ${describeValue(options)}`);
  }
  const names = Object.keys(readers);
  let name = '';
  try {
    for (name of names) {
      const v: unknown = Object.hasOwn(options, name) ? (options as Record<string, unknown>)[name] : undefined;
      if (v === undefined) continue;
      const r = readers[name]!(v);
      if (!r.ok) throw new SgfilterError('INVALID_ARGUMENT', `${what}: ${name} is ${describeValue(v)}; allowed: ${r.allowed}`);
      out.set(name, r.value);
    }
    name = '';
    for (const key of Object.keys(options)) {
      if (names.includes(key)) continue;
      const near = key.length <= 30 ? closest(key, names) : undefined;
      if (near) throw new SgfilterError('INVALID_ARGUMENT', `${what}: unknown option ${quote(key)}; did you mean "${near}"?`);
    }
  } catch (e) {
    if (e instanceof SgfilterError) throw e;
    throw new SgfilterError('INVALID_ARGUMENT', `${what}: options${name ? `.${name}` : ''} could not be read (${errorText(e)})`);
  }
  return out;
}

const readersOf = (names: readonly string[]): Readonly<Record<string, OptionReader>> =>
  Object.freeze(Object.fromEntries(names.map((n) => [n, checked(OPTIONS[n]!)])));
const COMPILE_READERS = readersOf(COMPILE);
const ENGINE_READERS = readersOf(ENGINE);
const RELOAD_READERS = readersOf(RELOAD);

/** The options read, in an object without prototype (an option not given reads as undefined even if Object.prototype has its name). */
function check(options: unknown, readers: Readonly<Record<string, OptionReader>>, what: string): Record<string, number> {
  const out = Object.create(null) as Record<string, number>;
  for (const [k, v] of readKnownOptions(options, readers, what)) out[k] = v as number;
  return out;
}

/** INVALID_ARGUMENT. */
export function invalidArgument(message: string): SgfilterError {
  return new SgfilterError('INVALID_ARGUMENT', message);
}

/** "where: unknown option "kvv"; did you mean "kv"? The options are kv, r2, ..." */
function unknownOption(where: string, key: string, known: readonly string[]): SgfilterError {
  const near = key.length <= 40 ? closest(key, known) : undefined;
  return invalidArgument(`${where}: unknown option ${quote(key)}${near ? `; did you mean "${near}"?` : ''}; the options are ${known.join(', ')}`);
}

/**
 * Refuses any own key of `options` that is not in `known` (INVALID_ARGUMENT naming
 * it, the nearest known name and the list): for option objects whose every name
 * this function reads (a misspelt `refreshSecond` would silently keep the default).
 * A key list that cannot be read (a revoked proxy) is INVALID_ARGUMENT too.
 */
export function refuseUnknownOptions(where: string, options: object, known: readonly string[]): void {
  let keys: string[];
  try {
    keys = Object.keys(options);
  } catch (e) {
    throw invalidArgument(`${where}: the options could not be read (${errorText(e)})`);
  }
  for (const key of keys) if (!known.includes(key)) throw unknownOption(where, key, known);
}


/** What each option accepts: a check that returns what is allowed when the value is not. */
export type OptionSpec = Record<string, Check>;

export const isString: Check = (v) => (typeof v === 'string' ? undefined : 'a string');
export const isNonEmptyString: Check = (v) => (typeof v === 'string' && v !== '' ? undefined : 'a non-empty string');
export const isBoolean: Check = (v) => (typeof v === 'boolean' ? undefined : 'true or false');
export const isFunction: Check = (v) => (typeof v === 'function' ? undefined : 'a function');
/** A plain object (a literal, or one without prototype): not an array, a class instance or a function. */
export const isObject: Check = (v) => {
  if (typeof v !== 'object' || v === null) return 'an object';
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null ? undefined : 'a plain object';
};
export const oneOf =
  (...values: string[]): Check =>
  (v) =>
    typeof v === 'string' && values.includes(v) ? undefined : values.map((x) => `'${x}'`).join(' or ');
export const wholeNumber =
  (min: number, max = Number.MAX_SAFE_INTEGER): Check =>
  (v) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? undefined : max === Number.MAX_SAFE_INTEGER ? `a whole number ≥ ${min}` : `a whole number from ${min} to ${max}`;
export const milliseconds =
  (min: number, { infinite = false } = {}): Check =>
  (v) =>
    typeof v === 'number' && ((Number.isFinite(v) && v >= min) || (infinite && v === Infinity))
      ? undefined
      : `a number of milliseconds >= ${min}${infinite ? ' (or Infinity)' : ''}`;

/**
 * Checks `options` (undefined or an object) against `spec` and returns its own,
 * defined values. Unknown keys are refused unless `open` (options that also carry
 * another library's options, e.g. an http.Agent's).
 */
export function readOptions(where: string, options: unknown, spec: OptionSpec, { open = false } = {}): Record<string, unknown> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidArgument(`${where}: options must be an object, got ${describeValue(options)}`);
  }
  const out: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(options)) {
    const value = (options as Record<string, unknown>)[key];
    if (!Object.hasOwn(spec, key)) {
      if (open) continue;
      throw unknownOption(where, key, Object.keys(spec));
    }
    if (value === undefined) continue;
    const allowed = spec[key]!(value);
    if (allowed !== undefined) throw invalidArgument(`${where}: option ${key} must be ${allowed}, got ${describeValue(value)}`);
    out[key] = value;
  }
  return out;
}

/** createEngine / Engine.create options (windowFlows, maxMemoryBytes and the compile options). */
export function checkEngineOptions(options: unknown, what = 'createEngine'): { windowFlows?: number; maxMemoryBytes?: number; maxTableBytes?: number; mergeMaxOrders?: number; partitionMinBytes?: number } {
  return check(options, ENGINE_READERS, what);
}

/** compilePolicy options (maxTableBytes, mergeMaxOrders, partitionMinBytes). */
export function checkCompileOptions(options: unknown, what = 'compilePolicy'): { maxTableBytes?: number; mergeMaxOrders?: number; partitionMinBytes?: number } {
  return check(options, COMPILE_READERS, what);
}

/** reload / update / loadSnapshot options (expectedVersion). */
export function checkReloadOptions(options: unknown, what: string): { expectedVersion?: number } {
  return check(options, RELOAD_READERS, what);
}
