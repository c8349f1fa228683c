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

import { invalidArgument } from '../options.js';

export { invalidArgument, isString, isNonEmptyString, isBoolean, isFunction, isObject, oneOf, wholeNumber, milliseconds, readOptions, type OptionSpec } from '../options.js';

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
