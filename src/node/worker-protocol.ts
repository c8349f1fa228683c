/**
 * Messages between src/node/workers.ts and its worker threads, error transport, and
 * the test that decides what may cross a thread boundary as it is.
 *
 * Why the care: a message that cannot be read on the other side is dropped by
 * Node with a 'messageerror' event that names no request, so a reply lost that way
 * leaves its caller waiting forever (a CONFIG_INVALID issue whose `given` is a
 * document nested 5,000 deep did exactly that). So:
 *  - requests carry only plain data (isPlainData) or data the library made itself;
 *  - error replies carry only what is known to cross (serializeError checks each
 *    issue's `given` and drops one that would not arrive);
 *  - and the caller still treats any lost message, crash, exit or silence as a
 *    failed request (WORKER_FAILED), never as a wait.
 */
import * as v8 from 'node:v8';
import { types } from 'node:util';
import { SgfilterError, type ErrorCode, type Issue } from '../errors.js';

export interface CompileRequest {
  id: number;
  /** A config object (native, Tencent, or a Config). */
  config?: unknown;
  /** True when `config` was validated in the calling thread (a Config): compile it as it is. */
  validated?: boolean;
  /** Or the path of a JSON/YAML config file, read in the worker. */
  path?: string;
  /** With `path`: the function the caller used (for hints) and the format it asked for. */
  file?: { where: string; format: 'json' | 'yaml' | undefined };
  /** Or config text, parsed in the worker (`fileName` names it, `format` picks JSON or YAML; `named`: the caller gave the name; `where`: the caller's function, for hints). */
  text?: { text: string; fileName: string; format: 'json' | 'yaml' | undefined; named: boolean; where: string };
  options?: { maxTableBytes?: number };
}

/** A message a worker sends without being asked: it cannot go on (it exits next). */
export interface FatalMessage {
  id: 0;
  ok: false;
  fatal: true;
  error: SerializedError;
}

export interface SerializedError {
  sgfilter: boolean;
  name: string;
  code?: string;
  message: string;
  issues?: Issue[];
  stack?: string;
}

/** True when no value inside `value` is nested deeper than `max` (cycles end the walk, they do not deepen it). */
function depthWithin(value: unknown, max: number): boolean {
  const seen = new Set<object>();
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    if (depth >= max) return false;
    seen.add(v);
    for (const key of Object.keys(v)) stack.push([(v as Record<string, unknown>)[key], depth + 1]);
  }
  return true;
}

/**
 * True when `value` will arrive in another thread: it serializes, and it is not so
 * deep that reading it back overflows the receiver's stack (a worker's stack is
 * larger than the main thread's, so a round trip here proves nothing about depth).
 */
function crosses(value: unknown): boolean {
  try {
    return depthWithin(value, PLAIN_DATA_DEPTH) && (v8.deserialize(v8.serialize(value)), true);
  } catch {
    return false;
  }
}

/** An issue reduced to what can cross threads: `given` is dropped when it cannot (functions, symbols, deep nesting). */
function portableIssue(issue: Issue): Issue {
  const out: Issue = {
    code: issue.code,
    path: Array.isArray(issue.path) ? issue.path.filter((k) => typeof k === 'string' || typeof k === 'number') : [],
    message: String(issue.message),
  };
  if (issue.allowed !== undefined) out.allowed = String(issue.allowed);
  if ('given' in issue && crosses(issue.given)) out.given = issue.given;
  return out;
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof SgfilterError) {
    return { sgfilter: true, name: e.name, code: e.code, message: e.message, issues: e.issues.map(portableIssue), ...(e.stack ? { stack: e.stack } : {}) };
  }
  if (e instanceof Error) return { sgfilter: false, name: e.name, message: String(e.message), ...(typeof e.stack === 'string' ? { stack: e.stack } : {}) };
  return { sgfilter: false, name: 'Error', message: String(e) };
}

const STANDARD_ERRORS: Record<string, new (message: string) => Error> = {
  Error, RangeError, TypeError, SyntaxError, ReferenceError, EvalError, URIError,
};

/**
 * Rebuilds an error from a worker: an SgfilterError keeps its code, message and
 * issues; a standard error (RangeError, TypeError, ...) its class and message.
 */
export function deserializeError(s: SerializedError): Error {
  let err: Error;
  if (s.sgfilter) err = new SgfilterError(s.code as ErrorCode, s.message, s.issues ?? []);
  else {
    const Ctor = Object.hasOwn(STANDARD_ERRORS, s.name) ? STANDARD_ERRORS[s.name]! : Error;
    err = new Ctor(s.message);
    if (err.name !== s.name) err.name = s.name;
  }
  if (s.stack) err.stack = `${err.name}: ${s.message}\n    [in worker thread]\n${s.stack.split('\n').slice(1).join('\n')}`;
  return err;
}

/** Deepest nesting isPlainData accepts (a config is about 6 deep; a structured clone fails near a few thousand). */
export const PLAIN_DATA_DEPTH = 64;

/**
 * True when `value` is plain data that a structured clone copies exactly and that
 * reads the same on the other side: null, booleans, numbers, strings, undefined,
 * and arrays and objects of them (dense arrays without extra keys; objects whose
 * prototype is Object.prototype, with enumerable string keys only), no value
 * reached twice, at most PLAIN_DATA_DEPTH deep. Anything else (bigints, functions,
 * symbols, prototype-less or class objects, proxies, cycles, shared or deep
 * values, a getter that throws) may clone differently or not at all, so callers
 * validate it in their own thread instead. Getters are read like data (once here,
 * once by the clone); descriptors are not inspected, which keeps this walk about
 * as fast as the clone itself on a 100K-rule config.
 */
export function isPlainData(value: unknown): boolean {
  try {
    return plainWalk(value);
  } catch {
    return false; // a getter or trap that throws
  }
}

function plainWalk(value: unknown): boolean {
  const seen = new Set<object>();
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || v === undefined) continue;
    const t = typeof v;
    if (t === 'string' || t === 'number' || t === 'boolean') continue;
    if (t !== 'object' || depth >= PLAIN_DATA_DEPTH || types.isProxy(v)) return false;
    const o = v as Record<string, unknown>;
    if (seen.has(o)) return false;
    seen.add(o);
    if (Object.getOwnPropertySymbols(o).length > 0) return false;
    const names = Object.getOwnPropertyNames(o);
    if (Array.isArray(o)) {
      // A dense array without extra keys: its own names are its indices and 'length'.
      if (Object.getPrototypeOf(o) !== Array.prototype || names.length !== o.length + 1) return false;
      for (let i = 0; i < o.length; i++) {
        if (!Object.hasOwn(o, i)) return false;
        stack.push([o[i], depth + 1]);
      }
      continue;
    }
    if (Object.getPrototypeOf(o) !== Object.prototype) return false;
    const keys = Object.keys(o);
    if (keys.length !== names.length) return false; // a non-enumerable key the clone would drop
    for (const key of keys) stack.push([o[key], depth + 1]);
  }
  return true;
}

/** Request to a classifier-pool thread. */
export type PoolRequest =
  /** Load a policy aside (a second engine); the running one keeps classifying. */
  | { id: number; op: 'prepare'; snapshot: Uint8Array }
  /** Switch to the prepared policy, now numbered `version`. Answered with the version. */
  | { id: number; op: 'commit'; version: number }
  /** Drop a prepared policy (a publish failed in another thread). */
  | { id: number; op: 'discard' }
  | {
      id: number;
      op: 'classify';
      /** Plain flows (validated and packed in the thread) ... */
      flows?: unknown[];
      /** ... or a slice of an already-packed FlowBatch (stored order). */
      packed?: PackedSlice;
    };

/** What a pool thread starts from: the policy in force when it was started, and its version. */
export interface PoolThreadData {
  snapshot: Uint8Array;
  version: number;
  /** The pool's options for each thread's engine (undefined: the engine's defaults). */
  windowFlows?: number;
  maxMemoryBytes?: number;
}

export interface PackedSlice {
  length: number;
  instances: (string | null)[];
  meta: Uint32Array;
  remote: Uint32Array;
  local: Uint32Array;
  proto: Uint32Array;
  port: Uint32Array;
  sport: Uint32Array;
  icmp: Uint32Array;
}

export type PoolResponse =
  | { id: number; ok: true; version: number; actions?: Uint8Array; ruleIds?: Int32Array }
  | { id: number; ok: false; error: SerializedError };

/**
 * Posts `message` from a worker thread; when it cannot be sent (its error would not
 * cross), posts the error without its issues, and when even that fails, a bare
 * WORKER_FAILED: the caller always hears back about request `id`.
 */
export function reply(port: { postMessage(message: unknown, transfer?: ArrayBuffer[]): void }, message: { id: number; ok: boolean; [key: string]: unknown }, transfer: ArrayBuffer[] = []): void {
  try {
    port.postMessage(message, transfer);
    return;
  } catch (e) {
    const error = (message as { error?: SerializedError }).error;
    const fallback: SerializedError = error
      ? { sgfilter: error.sgfilter, name: error.name, ...(error.code ? { code: error.code } : {}), message: error.message }
      : { sgfilter: true, name: 'SgfilterError', code: 'WORKER_FAILED', message: `the worker thread's answer could not be sent: ${(e as Error).message}` };
    try {
      port.postMessage({ id: message.id, ok: false, error: fallback });
    } catch {
      port.postMessage({ id: message.id, ok: false, error: { sgfilter: true, name: 'SgfilterError', code: 'WORKER_FAILED', message: 'the worker thread could not send its answer' } });
    }
  }
}
