/**
 * Where a policy source reads from: a Workers KV namespace, an R2 bucket, or files
 * behind a URL, all behind one small reader (bytes of a key, or null when the key is
 * absent). No `node:` imports. The bindings are described by the few members used,
 * so a KVNamespace / R2Bucket from workers-types, Miniflare's, or a test double fit.
 *
 * Readers never wait forever on their own: the source gives each read a deadline
 * (src/distribution/source.ts). A fetch is aborted at it; a KV or R2 call cannot be
 * aborted, so its late answer is dropped.
 */
import { SgfilterError } from '../errors.js';
import { describeValue, errorText } from '../describe.js';

/** The part of a Workers KV namespace binding a policy source uses. */
export interface KvNamespaceLike {
  /** The value at `key` as bytes, or null when there is none (KVNamespace.get with type 'arrayBuffer'). */
  get(key: string, options: { type: 'arrayBuffer' }): Promise<ArrayBuffer | null>;
}

/** The part of an R2 object body a policy source uses. */
export interface R2ObjectBodyLike {
  /** The object's length in bytes (checked against maxSnapshotBytes before the body is read). */
  readonly size: number;
  /** The object's bytes. */
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** The part of an R2 bucket binding a policy source uses. */
export interface R2BucketLike {
  /** The object named `key`, or null when there is none (R2Bucket.get). */
  get(key: string): Promise<R2ObjectBodyLike | null>;
}

/** A fetch function: the global one, a service binding's `fetch`, or a test's. */
export type FetchLike = (input: string, init: { headers: Record<string, string>; signal: AbortSignal; method: 'GET' }) => Promise<Response>;

/** One place keys are read from. */
export interface PolicyStore {
  /** For messages: "KV namespace", "R2 bucket", "https://policies.example.com/sgfilter/". */
  readonly name: string;
  /**
   * The bytes stored at `key`, or null when there is none. Rejects with POLICY_STORE
   * when the store fails, POLICY_INVALID when the value is longer than `maxBytes`.
   */
  read(key: string, maxBytes: number, signal: AbortSignal): Promise<Uint8Array | null>;
}

const storeError = (store: string, key: string, message: string) =>
  new SgfilterError('POLICY_STORE', `reading "${key}" from the ${store}: ${message}`);
const tooBig = (store: string, key: string, size: number, max: number) =>
  new SgfilterError('POLICY_INVALID', `"${key}" in the ${store} is ${size} bytes, more than the ${max} this source accepts (maxSnapshotBytes)`);

function hasMethod(x: unknown, name: string): boolean {
  try {
    return typeof x === 'object' && x !== null && typeof (x as Record<string, unknown>)[name] === 'function';
  } catch {
    return false;
  }
}

/** A reader over a Workers KV namespace binding. */
export function kvStore(kv: KvNamespaceLike): PolicyStore {
  if (!hasMethod(kv, 'get')) throw new SgfilterError('INVALID_ARGUMENT', `kv is a Workers KV namespace binding (env.POLICY_KV), got ${describeValue(kv)}; is the binding in wrangler.toml?`);
  const name = 'KV namespace';
  return {
    name,
    async read(key, maxBytes) {
      let value: ArrayBuffer | null;
      try {
        value = await kv.get(key, { type: 'arrayBuffer' });
      } catch (e) {
        throw storeError(name, key, errorText(e));
      }
      if (value === null || value === undefined) return null;
      if (!(value instanceof ArrayBuffer)) throw storeError(name, key, `the binding answered ${describeValue(value)}, not an ArrayBuffer`);
      if (value.byteLength > maxBytes) throw tooBig(name, key, value.byteLength, maxBytes);
      return new Uint8Array(value);
    },
  };
}

/** A reader over an R2 bucket binding (object names are the keys). */
export function r2Store(bucket: R2BucketLike): PolicyStore {
  if (!hasMethod(bucket, 'get')) throw new SgfilterError('INVALID_ARGUMENT', `r2 is an R2 bucket binding (env.POLICY_BUCKET), got ${describeValue(bucket)}; is the binding in wrangler.toml?`);
  const name = 'R2 bucket';
  return {
    name,
    async read(key, maxBytes) {
      let body: ArrayBuffer;
      try {
        const object = await bucket.get(key);
        if (object === null || object === undefined) return null;
        // Refused before the body is read: a huge object costs nothing but its head.
        if (typeof object.size === 'number' && object.size > maxBytes) throw tooBig(name, key, object.size, maxBytes);
        body = await object.arrayBuffer();
      } catch (e) {
        if (e instanceof SgfilterError) throw e;
        throw storeError(name, key, errorText(e));
      }
      if (body.byteLength > maxBytes) throw tooBig(name, key, body.byteLength, maxBytes);
      return new Uint8Array(body);
    },
  };
}

/**
 * A reader over files behind a URL: key K is read from `base` + K with GET (so
 * `https://policies.example.com/sgfilter/` serves `…/sgfilter/policy:current` and
 * `…/sgfilter/policy:7`). 404 and 410 mean "absent"; other non-2xx statuses are
 * POLICY_STORE. Only http: and https: URLs are accepted. The body is read with a cap
 * (a larger Content-Length is refused before reading).
 */
export function urlStore(base: string | URL, options: { fetch?: FetchLike; headers?: Record<string, string> } = {}): PolicyStore {
  let url: URL;
  try {
    url = new URL(String(base));
  } catch {
    throw new SgfilterError('INVALID_ARGUMENT', `url is an http(s) URL to append key names to, got ${describeValue(String(base))}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new SgfilterError('INVALID_ARGUMENT', `url must be http: or https:, got ${url.protocol}`);
  if (url.search || url.hash) throw new SgfilterError('INVALID_ARGUMENT', 'url is a base that key names are appended to: no query or fragment');
  // Own fields only: a fetch or headers on Object.prototype is not the caller's option.
  const fetcher: FetchLike = (Object.hasOwn(options, 'fetch') ? options.fetch : undefined) ?? ((input, init) => fetch(input, init));
  const headers = { ...((Object.hasOwn(options, 'headers') ? options.headers : undefined) ?? {}) };
  const text = url.href;
  return {
    name: text,
    async read(key, maxBytes, signal) {
      let res: Response;
      try {
        res = await fetcher(text + key, { method: 'GET', headers, signal });
      } catch (e) {
        throw storeError(text, key, errorText(e));
      }
      try {
        if (res.status === 404 || res.status === 410) {
          await res.body?.cancel().catch(() => undefined);
          return null;
        }
        if (res.status < 200 || res.status > 299) throw storeError(text, key, `HTTP ${res.status}`);
        const length = Number(res.headers.get('content-length') ?? NaN);
        if (length > maxBytes) throw tooBig(text, key, length, maxBytes);
        return await readCapped(res, maxBytes, () => tooBig(text, key, maxBytes + 1, maxBytes));
      } catch (e) {
        if (res.body && !res.body.locked) await res.body.cancel().catch(() => undefined);
        if (e instanceof SgfilterError) throw e;
        throw storeError(text, key, errorText(e));
      }
    },
  };
}

/** A response body, refused (stream cancelled) as soon as it passes `max` bytes. */
async function readCapped(res: Response, max: number, over: () => SgfilterError): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw over();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
