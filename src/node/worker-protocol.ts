/** Messages between src/node/workers.ts and its worker threads, and error transport. */
import { SgfilterError, type ErrorCode, type Issue } from '../errors.js';

export interface CompileRequest {
  id: number;
  /** A config object (native, Tencent, or an already-validated Config). */
  config?: unknown;
  /** Or the path of a JSON/YAML config file, read in the worker. */
  path?: string;
  options?: { maxTableBytes?: number };
}

export interface SerializedError {
  sgfilter: boolean;
  name: string;
  code?: string;
  message: string;
  issues?: Issue[];
  stack?: string;
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof SgfilterError) return { sgfilter: true, name: e.name, code: e.code, message: e.message, issues: e.issues, stack: e.stack };
  if (e instanceof Error) return { sgfilter: false, name: e.name, message: e.message, stack: e.stack };
  return { sgfilter: false, name: 'Error', message: String(e) };
}

/** Rebuilds an error from a worker: an SgfilterError keeps its code, message and issues. */
export function deserializeError(s: SerializedError): Error {
  const err = s.sgfilter ? new SgfilterError(s.code as ErrorCode, s.message, s.issues ?? []) : new Error(s.message);
  if (!s.sgfilter) err.name = s.name;
  if (s.stack) err.stack = `${err.name}: ${s.message}\n    [in worker thread]\n${s.stack.split('\n').slice(1).join('\n')}`;
  return err;
}

/** Request to a classifier-pool thread. */
export type PoolRequest =
  | { id: number; op: 'load'; snapshot: Uint8Array }
  | {
      id: number;
      op: 'classify';
      /** Plain flows (validated and packed in the thread) ... */
      flows?: unknown[];
      /** ... or a slice of an already-packed FlowBatch (stored order). */
      packed?: PackedSlice;
    };

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
