/**
 * Describing values that came from outside (flows, options, arguments) in messages,
 * without running their code: no toString, no JSON of objects (which may be proxies,
 * circular, or throw from a getter).
 */
import { quote } from './config/plain.js';

const clipText = (s: string, n: number): string => (s.length <= n ? s : `${s.slice(0, n)}… (${s.length.toLocaleString('en-US')} characters)`);

/** What a value is, for a message. */
export function describeValue(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return quote(v, 60);
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(v);
    case 'bigint':
      return `${clipText(v.toString(), 60)}n (a BigInt)`;
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default:
      if (v === null) return 'null';
      try {
        return Array.isArray(v) ? 'a list' : 'an object';
      } catch {
        return 'a revoked proxy';
      }
  }
}

/** An exception thrown by user code (a getter, a proxy trap), for a message. */
export function errorText(e: unknown): string {
  try {
    if (e instanceof Error) return clipText(`${String(e.name)}: ${String(e.message)}`, 200);
  } catch {
    // a hostile error object: fall through
  }
  return describeValue(e);
}
