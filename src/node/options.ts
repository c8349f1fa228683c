/**
 * Checks for the options of the Node entry points (guards, proxy, watchConfig,
 * workers). A guard that quietly ignored a misspelt or mistyped option would run
 * with a policy nobody asked for (the default instance instead of `instnace`, no
 * onDrop instead of a mistyped one), so every option is checked when the guard is
 * set up and refused with INVALID_ARGUMENT naming the function, the option, what
 * was given and what is allowed. Options are read as own properties only: a
 * polluted Object.prototype cannot set one.
 */
import { describeValue } from '../describe.js';
import { Engine } from '../engine.js';
import { SgfilterError } from '../errors.js';
import { quote, quotedList } from '../config/plain.js';

/** What a value is, for a message, without running its code (src/describe.ts). */
export const shown = describeValue;

export function invalidArgument(message: string): SgfilterError {
  return new SgfilterError('INVALID_ARGUMENT', message);
}

type Check = (value: unknown) => string | undefined;

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
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? undefined : `a whole number from ${min} to ${max === Number.MAX_SAFE_INTEGER ? 'any' : max}`;
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
    throw invalidArgument(`${where}: options must be an object, got ${shown(options)}`);
  }
  const out: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(options)) {
    const value = (options as Record<string, unknown>)[key];
    if (!Object.hasOwn(spec, key)) {
      if (open) continue;
      throw invalidArgument(`${where}: unknown option ${quote(key)}; the options are ${Object.keys(spec).join(', ')}`);
    }
    if (value === undefined) continue;
    const allowed = spec[key]!(value);
    if (allowed !== undefined) throw invalidArgument(`${where}: option ${key} must be ${allowed}, got ${shown(value)}`);
    out[key] = value;
  }
  return out;
}

/** Refuses anything that is not an Engine (a guard over a look-alike would classify nothing). */
export function checkEngine(where: string, engine: unknown): asserts engine is Engine {
  if (!(engine instanceof Engine)) throw invalidArgument(`${where}: engine must be an Engine (from createEngine), got ${shown(engine)}`);
}

/**
 * Refuses an instance the engine's policy does not have, when the guard is set up:
 * a guard for a misspelt instance would otherwise drop every connection. A later
 * reload that removes the instance is not refused (the guard fails closed then).
 */
export function checkInstance(where: string, engine: Engine, instance: string | undefined): void {
  if (instance === undefined) return;
  const ids = engine.config.instances.map((i) => i.id);
  if (!ids.includes(instance)) {
    throw new SgfilterError('UNKNOWN_INSTANCE', `${where}: unknown instance ${quote(instance)}; the policy has: ${quotedList(ids)}`);
  }
}
