/**
 * Reading a value that came from outside (a config object, a parsed JSON/YAML
 * document, one update() edit) into plain data before anything looks at it.
 *
 * The validators downstream read fields by name and look user text up in tables.
 * That is only safe on data that is what JSON could have produced: strings,
 * numbers, booleans, null, lists and objects, nested to a sane depth. The JS API
 * can pass much more: BigInt, symbols, functions, objects that contain themselves,
 * getters or Proxy traps that throw, lists with holes, class instances, strings of
 * hundreds of megabytes, one object referenced from many places (a YAML alias is
 * the same thing). `plainData` copies the value once, without recursion, into
 * fresh plain objects and lists (own enumerable string keys only, as JSON would
 * keep; a "__proto__" key stays an ordinary key, as JSON.parse makes it), and
 * turns each of those into an Issue with the path where it was found. What it
 * returns is a tree every later step can walk, index and echo in a message
 * without throwing. The copies' prototype is PLAIN_PROTO: frozen, with nothing
 * above it but a toString (a caller printing `issue.given` still gets "[object
 * Object]", not a TypeError), so a field the document does not set reads as
 * undefined even when someone set that name on Object.prototype; user text is
 * never used as a key into them, and every table it is looked up in is a Map.
 *
 * The limits, and why these numbers:
 * - MAX_DEPTH: a config is at most 7 levels deep (Tencent's Response →
 *   SecurityGroupPolicySet → Ingress → policy → AddressTemplate → AddressId);
 *   64 leaves room and stays far below any call stack.
 * - MAX_STRING_LENGTH: the longest useful string is a port list naming every port
 *   one by one ("0,1,…,65535", 382 KB); 1 MiB keeps messages, which quote what was
 *   given, well inside what a JS string can hold.
 * - MAX_EXPANSION: a value reached again through a second reference (a YAML alias,
 *   or one JS object placed in many lists) costs the validator as much as if it were
 *   written out. Ten aliases of ten aliases … nine levels deep ("billion laughs")
 *   make a few hundred bytes of YAML worth 10^9 values. Repeated references may add
 *   at most 1,000,000 values to a document: a legitimate file can alias a rule list
 *   into thousands of groups, and a bomb is refused after counting, never expanded.
 *   A string weighs one value per 64 characters (stringWeight), so aliasing one long
 *   string many times is a bomb too. What is written once costs nothing against this
 *   limit. (YAML aliases of scalars are counted where the YAML is read, text.ts.)
 */
import type { Issue, IssueCode, Path } from '../errors.js';

/** Most lists and objects a document may nest, one inside the other (a root object alone is 1). */
export const MAX_DEPTH = 64;
/** Longest string (value or key), in UTF-16 code units. */
export const MAX_STRING_LENGTH = 1 << 20;
/** Most values that repeated references (YAML aliases, shared JS objects) may add. */
export const MAX_EXPANSION = 1_000_000;

/** Characters of a string that weigh one value against MAX_EXPANSION. */
export const STRING_WEIGHT_UNIT = 64;

/**
 * What a value weighs against MAX_EXPANSION when it is reached again through a
 * repeated reference: one, and a string one more per STRING_WEIGHT_UNIT characters
 * (a 1 MiB string aliased a million times is a terabyte for whoever reads it, not a
 * million values).
 */
export function stringWeight(v: unknown): number {
  return typeof v === 'string' ? 1 + Math.floor(v.length / STRING_WEIGHT_UNIT) : 1;
}

/** A readable, bounded description of any value, for messages (never throws, never recurses deeply). */
export function describeValue(v: unknown, budget = 80): string {
  try {
    return preview(v, budget, 3);
  } catch {
    return 'an unreadable value';
  }
}

/**
 * What JSON.stringify leaves raw but a terminal or a reader obeys: DEL, the C1
 * controls (U+0080-U+009F, CSI among them), the line and paragraph separators, and
 * the bidirectional marks and overrides that reorder what is shown.
 */
const INVISIBLE = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const escapeInvisible = (q: string): string => q.replace(INVISIBLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/**
 * User text (an id, a name, a key) for a message: in JSON quotes with every control
 * character, DEL, C1 control and bidirectional override escaped, so it stays one line,
 * cannot move the cursor or recolour a terminal, and reads as what it is; clipped to
 * `budget` characters (the length is said). Every message that quotes user text uses
 * this (or describeValue, which does for strings).
 */
export function quote(s: string, budget = 80): string {
  const q = escapeInvisible(JSON.stringify(s.length <= budget ? s : s.slice(0, budget)));
  return s.length <= budget ? q : `${q}… (${s.length.toLocaleString('en-US')} characters)`;
}

const CONTROL = /[\u0000-\u001f]/;

/**
 * A name for a message (a file name, a path) as it is when it is plain text, quoted
 * (quote) when it holds control characters, bidirectional overrides or quotes, or is
 * longer than `budget`.
 */
export function nameText(s: string, budget = 200): string {
  INVISIBLE.lastIndex = 0;
  return s.length <= budget && !CONTROL.test(s) && !INVISIBLE.test(s) && !s.includes('"') ? s : quote(s, budget);
}

/** Most items a message lists (ids, names, fields); the rest are counted. */
export const MAX_LISTED = 10;

/**
 * Items for a message ("a, b, c"), at most `max` of them, then "… and K more": a
 * message lists what helps the reader, never every id of a policy (a config naming
 * 10,000 unknown groups among 10,000 groups would otherwise make 10^8 characters).
 * Items are what the caller shows (quote() user text first); `none` when empty.
 */
export function listOf<T>(
  items: Iterable<T> & ({ readonly length: number } | { readonly size: number }),
  show: (item: T) => string = String,
  max = MAX_LISTED,
  none = 'none',
): string {
  const total = 'length' in items ? items.length : items.size;
  if (total === 0) return none;
  const shown: string[] = [];
  for (const item of items) {
    if (shown.length === max) break;
    shown.push(show(item));
  }
  return total <= max ? shown.join(', ') : `${shown.join(', ')} … and ${(total - max).toLocaleString('en-US')} more`;
}

/** The keys of a Map as listOf takes them (iterated, never copied). */
export const keysOf = <K>(map: ReadonlyMap<K, unknown>): Iterable<K> & { readonly size: number } => ({ size: map.size, [Symbol.iterator]: () => map.keys() });

/** listOf with every item quoted (ids, names: user text). */
export const quotedList = (items: Iterable<string> & ({ readonly length: number } | { readonly size: number }), none = 'none'): string =>
  listOf(items, (s) => quote(s), MAX_LISTED, none);

function clip(s: string, budget: number): string {
  return s.length <= budget ? s : `${s.slice(0, budget)}… (${s.length.toLocaleString('en-US')} characters)`;
}

function preview(v: unknown, budget: number, depth: number): string {
  switch (typeof v) {
    case 'string': return quote(v, Math.max(budget, 1));
    case 'number': case 'boolean': return String(v);
    case 'undefined': return 'undefined';
    case 'bigint': return `${clip(v.toString(), budget)}n (a BigInt)`;
    case 'symbol': return `${clip(v.toString(), budget)} (a symbol)`;
    case 'function': return 'a function';
  }
  if (v === null) return 'null';
  if (Array.isArray(v)) {
    if (depth === 0) return v.length === 0 ? '[]' : '[…]';
    const parts: string[] = [];
    let used = 2;
    for (let i = 0; i < v.length; i++) {
      if (used > budget) {
        parts.push('…');
        break;
      }
      const s = Object.hasOwn(v, i) ? preview(v[i], budget - used, depth - 1) : '<empty>';
      parts.push(s);
      used += s.length + 1;
    }
    return `[${parts.join(',')}]`;
  }
  const proto = Object.getPrototypeOf(v) as object | null;
  if (proto !== null && Object.getPrototypeOf(proto) !== null) return `a ${kindOf(v as object)}`;
  if (depth === 0) return '{…}';
  const parts: string[] = [];
  let used = 2;
  for (const k of Object.keys(v as object)) {
    if (used > budget) {
      parts.push('…');
      break;
    }
    const d = Object.getOwnPropertyDescriptor(v, k);
    const s = `${quote(k, 40)}:${d && 'value' in d ? preview(d.value, budget - used, depth - 1) : '<getter>'}`;
    parts.push(s);
    used += s.length + 1;
  }
  return `{${parts.join(',')}}`;
}

/** "Date", "Map", "class Foo instance"… for an object that is not plain data. */
function kindOf(o: object): string {
  try {
    const tag = Object.prototype.toString.call(o).slice(8, -1);
    if (tag !== 'Object') return `${tag} object`;
    const ctor = (Object.getPrototypeOf(o) as { constructor?: unknown }).constructor;
    return typeof ctor === 'function' && typeof ctor.name === 'string' && ctor.name !== '' ? `${clip(ctor.name, 40)} instance` : 'object with a prototype';
  } catch {
    return 'object';
  }
}

interface Frame {
  /** The list or object being copied. */
  src: object;
  /** Its copy. */
  out: unknown[] | Record<string, unknown>;
  /** Object keys (undefined for lists). */
  keys: string[] | undefined;
  /** Next index into keys (or into the list). */
  i: number;
  path: Path;
  /** Lists and objects around this one (0 for the root). */
  depth: number;
  /** Values in this subtree (itself included), counted as if written out. */
  size: number;
}

/**
 * The prototype of every object plainData copies and of every object of a validated
 * Config (owned.ts): a frozen object with a null prototype and only a toString. A
 * field read on such an object sees its own fields and nothing of Object.prototype,
 * so `Object.prototype.template = 'open-all'` (prototype pollution elsewhere in the
 * process) cannot give a group a template it does not have.
 */
export const PLAIN_PROTO: object = Object.freeze(
  Object.create(null, { toString: { value: function toString(): string { return '[object Object]'; }, writable: false, enumerable: false, configurable: false } }) as object,
);

/** `o[key]` when `o` has it as its own property, else undefined (never Object.prototype's). */
export function ownField(o: object, key: string): unknown {
  return Object.hasOwn(o, key) ? (o as Record<string, unknown>)[key] : undefined;
}

/**
 * `raw` with PLAIN_PROTO as its prototype: itself when it has that (or null)
 * already, else (an object the library built, or one the JS API passed) a shallow
 * copy of its own enumerable fields. Every reader of config objects starts with it,
 * so a field the object does not have reads as undefined whatever Object.prototype
 * holds. Lists, primitives and objects whose fields cannot be read are returned
 * as they are (the caller's checks say what is wrong with them).
 */
export function ownFields<T>(raw: T): T {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  try {
    const proto = Object.getPrototypeOf(raw) as object | null;
    if (proto === PLAIN_PROTO || proto === null) return raw;
    if (proto !== Object.prototype) return raw;
    const out = Object.create(PLAIN_PROTO) as Record<string, unknown>;
    for (const k of Object.keys(raw)) Object.defineProperty(out, k, { value: (raw as Record<string, unknown>)[k], writable: true, enumerable: true, configurable: true });
    return out as T;
  } catch {
    return raw;
  }
}

/** `fields` as an object on PLAIN_PROTO (for objects the library builds and reads again). */
export function plainObject<T extends object>(fields: T): T {
  return Object.assign(Object.create(PLAIN_PROTO) as T, fields);
}

/** What `plainData` found: the copy, or issues (then `value` is undefined). */
export type PlainResult = { ok: true; value: unknown } | { ok: false; issues: Issue[] };

/**
 * Copies `input` into plain data (see the file comment). `base` is the path of
 * `input` in its document; `label` names the document in messages ("config",
 * "update[2]"). Never throws; on any issue the copy is not returned.
 */
export function plainData(input: unknown, base: Path, label: string): PlainResult {
  const issues: Issue[] = [];
  const add = (code: IssueCode, path: Path, message: string, given?: unknown): void => {
    const issue: Issue = { code, path, message: `${label}${path.length > base.length ? ` at ${pathText(path.slice(base.length))}` : ''}: ${message}` };
    if (given !== undefined) issue.given = given;
    issues.push(issue);
  };
  /** Copies of lists and objects already copied, and how many values each holds. */
  const done = new Map<object, { copy: unknown; size: number }>();
  /** Lists and objects on the current path (a second visit is a cycle). */
  const open = new Set<object>();
  let expansion = 0;
  let exhausted = false;
  const stack: Frame[] = [];

  /**
   * Reads one value and returns its copy, or `undefined` (an issue was added, or
   * the value is itself undefined). A list or object opens a frame (its entries
   * are read by the loop below) and adds its size to `parent` when it finishes.
   */
  const read = (v: unknown, path: Path, depth: number, parent: Frame | undefined): unknown => {
    if (parent && (typeof v !== 'object' || v === null)) parent.size += stringWeight(v);
    switch (typeof v) {
      case 'string':
        if (v.length > MAX_STRING_LENGTH) {
          add('STRING_TOO_LONG', path, `a string of ${v.length.toLocaleString('en-US')} characters (${describeValue(v, 40)}); at most ${MAX_STRING_LENGTH.toLocaleString('en-US')} are allowed`, clip(v, 80));
          return undefined;
        }
        return v;
      case 'number': case 'boolean': case 'undefined':
        return v;
      case 'bigint':
        add('INVALID_TYPE', path, `${describeValue(v)} is not JSON data; write the number as a plain number or a string`, `${clip(v.toString(), 80)}n`);
        return undefined;
      case 'symbol': case 'function':
        add('INVALID_TYPE', path, `${describeValue(v)} is not JSON data; allowed: strings, numbers, booleans, null, lists and plain objects`, describeValue(v));
        return undefined;
    }
    if (v === null) return null;
    const o = v as object;
    let isList: boolean;
    let plain: boolean;
    try {
      isList = Array.isArray(o);
      const proto = Object.getPrototypeOf(o) as object | null;
      plain = isList || proto === null || proto === PLAIN_PROTO || Object.getPrototypeOf(proto) === null;
    } catch (e) {
      add('UNREADABLE_VALUE', path, `the value cannot be read (${errorText(e)})`);
      return undefined;
    }
    if (!plain) {
      add('INVALID_TYPE', path, `a ${kindOf(o)} is not JSON data; allowed: strings, numbers, booleans, null, lists and plain objects`, kindOf(o));
      return undefined;
    }
    if (open.has(o)) {
      add('CIRCULAR', path, 'this object contains itself (a cycle); a config is a tree of lists and objects', '(cycle)');
      return undefined;
    }
    const seen = done.get(o);
    if (seen) {
      // A second reference: counted as if written out, copied once.
      expansion += seen.size;
      if (parent) parent.size += seen.size;
      if (expansion > MAX_EXPANSION && !exhausted) {
        exhausted = true;
        add('ALIAS_EXPANSION', path, `repeated references (YAML aliases, or one JS object used in many places) expand the document by more than ${MAX_EXPANSION.toLocaleString('en-US')} values; that is refused as an expansion bomb ("billion laughs"): write the repeated parts out, or alias fewer or smaller parts`);
      }
      return seen.copy;
    }
    if (depth + 1 > MAX_DEPTH) {
      add('TOO_DEEP', path, `lists and objects are nested more than ${MAX_DEPTH} levels deep; a config needs fewer than 10`);
      return undefined;
    }
    let keys: string[] | undefined;
    let out: unknown[] | Record<string, unknown>;
    if (isList) {
      out = [];
    } else {
      try {
        keys = Object.keys(o);
      } catch (e) {
        add('UNREADABLE_VALUE', path, `the keys of this object cannot be read (${errorText(e)})`);
        return undefined;
      }
      out = Object.create(PLAIN_PROTO) as Record<string, unknown>;
    }
    open.add(o);
    stack.push({ src: o, out, keys, i: 0, path, depth, size: 1 });
    return out;
  };

  const root = read(input, base, 0, undefined);
  while (stack.length > 0 && !exhausted) {
    const f = stack.at(-1)!;
    let key: string | number;
    let value: unknown;
    if (f.keys === undefined) {
      const list = f.src as unknown[];
      let length: number;
      try {
        length = list.length;
      } catch (e) {
        add('UNREADABLE_VALUE', f.path, `the length of this list cannot be read (${errorText(e)})`);
        length = 0;
      }
      if (f.i >= length) {
        finish(f);
        continue;
      }
      key = f.i++;
      try {
        if (!Object.hasOwn(list, key)) {
          add('INVALID_TYPE', [...f.path, key], `an empty slot (a hole in the list); every entry must be given`);
          f.i = length;
          continue;
        }
        value = list[key];
      } catch (e) {
        add('UNREADABLE_VALUE', [...f.path, key], `entry ${key} cannot be read (${errorText(e)})`);
        continue;
      }
    } else {
      if (f.i >= f.keys.length) {
        finish(f);
        continue;
      }
      key = f.keys[f.i++]!;
      if (key.length > MAX_STRING_LENGTH) {
        add('STRING_TOO_LONG', f.path, `a key of ${key.length.toLocaleString('en-US')} characters (${describeValue(key, 40)}); at most ${MAX_STRING_LENGTH.toLocaleString('en-US')} are allowed`, clip(key, 80));
        continue;
      }
      try {
        value = (f.src as Record<string, unknown>)[key];
      } catch (e) {
        add('UNREADABLE_VALUE', [...f.path, key], `reading ${quote(key, 40)} threw (${errorText(e)}); give plain data, not a getter that fails`);
        continue;
      }
    }
    if (value === undefined && f.keys !== undefined) continue; // absent, as JSON.stringify would leave it
    let copy: unknown;
    const t = typeof value;
    if (t === 'number' || t === 'boolean' || (t === 'string' && (value as string).length <= MAX_STRING_LENGTH)) {
      // The common case, without building a path.
      copy = value;
      f.size += t === 'string' ? stringWeight(value) : 1;
    } else copy = read(value, [...f.path, key], f.depth + 1, f);
    if (f.keys === undefined) (f.out as unknown[]).push(copy);
    // Defined, not assigned: "__proto__" would set the prototype, and "toString" is PLAIN_PROTO's read-only field.
    else if (key === '__proto__' || key === 'toString') Object.defineProperty(f.out, key, { value: copy, writable: true, enumerable: true, configurable: true });
    else (f.out as Record<string, unknown>)[key] = copy;
  }
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, value: root };

  function finish(f: Frame): void {
    stack.pop();
    open.delete(f.src);
    done.set(f.src, { copy: f.out, size: f.size });
    const parent = stack.at(-1);
    if (parent) parent.size += f.size;
  }
}

function errorText(e: unknown): string {
  try {
    return e instanceof Error ? clip(`${e.name}: ${e.message}`, 120) : describeValue(e, 60);
  } catch {
    return 'an exception';
  }
}

/** securityGroups[1].inbound[4].port, for messages (same form as formatPath). */
function pathText(path: Path): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out === '' ? clip(key, 40) : `.${clip(key, 40)}`;
  return out;
}
