/**
 * Describing values that came from outside (flows, options, arguments) in messages,
 * without running their code: no toString, no JSON of objects (which may be proxies,
 * circular, or throw from a getter).
 */

/** What a value is, for a message. */
export function describeValue(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(v);
    case 'bigint':
      return `${v}n (a BigInt)`;
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
    if (e instanceof Error) return `${String(e.name)}: ${String(e.message)}`;
  } catch {
    // a hostile error object: fall through
  }
  return describeValue(e);
}
