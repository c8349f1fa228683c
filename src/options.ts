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

type Check = (v: unknown) => string | undefined;

const wholeAtLeast = (min: number, max = Number.MAX_SAFE_INTEGER): Check => (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? undefined : `a whole number ${min}-${max === Number.MAX_SAFE_INTEGER ? '2^53' : max}`;

/** Every option the engine, the compiler and reloads read, with what each allows. */
const OPTIONS: Record<string, Check> = Object.assign(Object.create(null) as Record<string, Check>, {
  windowFlows: wholeAtLeast(1),
  maxTableBytes: wholeAtLeast(1),
  mergeMaxOrders: wholeAtLeast(0),
  partitionMinBytes: wholeAtLeast(0),
  expectedVersion: wholeAtLeast(1),
});

const COMPILE = ['maxTableBytes', 'mergeMaxOrders', 'partitionMinBytes'] as const;
const ENGINE = ['windowFlows', ...COMPILE] as const;
const RELOAD = ['expectedVersion'] as const;

/**
 * Checks `options` and returns the named options' values, each read once (a getter
 * cannot answer one value to the check and another to the engine).
 */
function check(options: unknown, names: readonly string[], what: string): Record<string, number> {
  // No prototype: an option not given reads as undefined even if Object.prototype has its name.
  const out = Object.create(null) as Record<string, number>;
  if (options === undefined) return out;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new SgfilterError('INVALID_ARGUMENT', `${what}: options must be an object, got ${describeValue(options)}`);
  }
  let name = '';
  try {
    for (name of names) {
      const v: unknown = Object.hasOwn(options, name) ? (options as Record<string, unknown>)[name] : undefined;
      if (v === undefined) continue;
      const allowed = OPTIONS[name]!(v);
      if (allowed) throw new SgfilterError('INVALID_ARGUMENT', `${what}: ${name} is ${describeValue(v)}; allowed: ${allowed}`);
      out[name] = v as number;
    }
    name = '';
    for (const key of Object.keys(options)) {
      if (names.includes(key)) continue;
      const near = key.length <= 20 ? closest(key, names) : undefined;
      if (near) throw new SgfilterError('INVALID_ARGUMENT', `${what}: unknown option ${quote(key)}; did you mean "${near}"?`);
    }
  } catch (e) {
    if (e instanceof SgfilterError) throw e;
    throw new SgfilterError('INVALID_ARGUMENT', `${what}: options${name ? `.${name}` : ''} could not be read (${errorText(e)})`);
  }
  return out;
}

/** createEngine / Engine.create options (windowFlows and the compile options). */
export function checkEngineOptions(options: unknown, what = 'createEngine'): { windowFlows?: number; maxTableBytes?: number; mergeMaxOrders?: number; partitionMinBytes?: number } {
  return check(options, ENGINE, what);
}

/** compilePolicy options (maxTableBytes, mergeMaxOrders, partitionMinBytes). */
export function checkCompileOptions(options: unknown, what = 'compilePolicy'): { maxTableBytes?: number; mergeMaxOrders?: number; partitionMinBytes?: number } {
  return check(options, COMPILE, what);
}

/** reload / update / loadSnapshot options (expectedVersion). */
export function checkReloadOptions(options: unknown, what: string): { expectedVersion?: number } {
  return check(options, RELOAD, what);
}
