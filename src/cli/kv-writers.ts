/**
 * Where `sgfilter publish` writes (PolicyWriter, src/distribution/publish.ts):
 *  - a Workers KV namespace through Cloudflare's REST API (undici), the production path;
 *  - the local KV of `wrangler dev` / Miniflare (its persistence folder), for development.
 *
 * The API token is read from the environment by the caller and lives only in the
 * Authorization header: no message, log line or error carries it (and any Cloudflare
 * message that echoed it would be redacted).
 */
import { request } from 'undici';
import { join } from 'node:path';
import { SgfilterError } from '../errors.js';
import type { PolicyWriter } from '../distribution/publish.js';

/** Cloudflare's API base (v4). */
export const CLOUDFLARE_API = 'https://api.cloudflare.com/client/v4';
/** Largest value read back through the API: Workers KV stores at most 25 MiB per value. */
const MAX_VALUE_BYTES = 25 * 1024 * 1024;
/** Attempts per API call when Cloudflare answers 429 or 5xx, or the connection fails. */
const ATTEMPTS = 3;

export interface CloudflareKvOptions {
  accountId: string;
  namespaceId: string;
  token: string;
  /** API base URL (default CLOUDFLARE_API). http: only to loopback (tests, a local proxy). */
  apiUrl?: string;
  /** Deadline of each HTTP call, ms. */
  timeoutMs?: number;
  /** Base of the backoff between attempts, ms (1×, then 4×). */
  retryDelayMs?: number;
}

const failed = (message: string) => new SgfilterError('PUBLISH_FAILED', message);

const LOOPBACK = /^(?:127(?:\.\d{1,3}){3}|\[::1\]|localhost)$/i;

/** Checks the API base: https, or http to a loopback host (the token must not cross a network in clear). */
export function checkApiUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw failed(`--api-url ${JSON.stringify(text)} is not a URL`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && LOOPBACK.test(url.hostname)) return url;
  throw failed(`--api-url must be https: (http: only to a loopback address), got ${url.protocol}//${url.host}: the API token would travel in clear`);
}

/** Cloudflare's `errors: [{ code, message }]` of a JSON answer, as one line. */
function cloudflareErrors(body: Uint8Array): string {
  try {
    const doc = JSON.parse(new TextDecoder().decode(body)) as { errors?: { code?: unknown; message?: unknown }[] };
    if (typeof doc === 'object' && doc !== null && Object.hasOwn(doc, 'errors') && Array.isArray(doc.errors) && doc.errors.length > 0) {
      return doc.errors.slice(0, 5).map((e) => `${typeof e?.code === 'number' ? e.code : '?'} ${typeof e?.message === 'string' ? e.message.slice(0, 200) : ''}`.trim()).join('; ');
    }
  } catch {
    // not JSON
  }
  return '';
}

async function readBody(body: AsyncIterable<Uint8Array> & { destroy?(): void }, max: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.byteLength;
    if (total > max) {
      body.destroy?.();
      throw failed(`the API answered more than ${max} bytes`);
    }
    chunks.push(chunk);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A writer over Cloudflare's REST API: GET and PUT `/accounts/A/storage/kv/namespaces/N/values/KEY`. */
export function cloudflareKvWriter(options: CloudflareKvOptions): PolicyWriter {
  const { accountId, namespaceId, token } = options;
  const base = checkApiUrl(options.apiUrl ?? CLOUDFLARE_API).href.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 30_000;
  const retryDelayMs = options.retryDelayMs ?? 500;
  const redact = (text: string) => (token ? text.split(token).join('[redacted]') : text);
  const name = `KV namespace ${namespaceId} (Cloudflare API)`;
  const valueUrl = (key: string) => `${base}/accounts/${encodeURIComponent(accountId)}/storage/kv/namespaces/${encodeURIComponent(namespaceId)}/values/${encodeURIComponent(key)}`;

  async function call(method: 'GET' | 'PUT', key: string, value?: Uint8Array): Promise<Uint8Array | null> {
    const what = `${method} ${key}`;
    let last = '';
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      if (attempt > 1) await sleep(retryDelayMs * 4 ** (attempt - 2));
      let status: number;
      let body: Uint8Array;
      try {
        const res = await request(valueUrl(key), {
          method,
          headers: { authorization: `Bearer ${token}`, ...(value ? { 'content-type': 'application/octet-stream' } : {}) },
          body: value,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          signal: AbortSignal.timeout(timeoutMs),
        });
        status = res.statusCode;
        body = await readBody(res.body, MAX_VALUE_BYTES);
      } catch (e) {
        if (e instanceof SgfilterError) throw e;
        last = redact(`${(e as Error).name === 'TimeoutError' || (e as { code?: string }).code?.includes('TIMEOUT') ? `no answer within ${timeoutMs} ms` : (e as Error).message}`);
        continue; // the connection failed or timed out: try again
      }
      if (status === 200) {
        if (method === 'GET') return body;
        // A PUT answers { success: true, ... }.
        try {
          const doc = JSON.parse(new TextDecoder().decode(body)) as { success?: unknown };
          if (typeof doc === 'object' && doc !== null && Object.hasOwn(doc, 'success') && doc.success === false) throw failed(redact(`${what} in ${name}: Cloudflare answered success: false (${cloudflareErrors(body)})`));
        } catch (e) {
          if (e instanceof SgfilterError) throw e;
        }
        return null;
      }
      if (method === 'GET' && status === 404) return null;
      const detail = cloudflareErrors(body);
      last = `HTTP ${status}${detail ? ` (${detail})` : ''}`;
      if (status === 429 || status >= 500) continue;
      const hint = status === 401 || status === 403 ? ': is the token valid, with the "Workers KV Storage: Edit" permission on this account?' : status === 404 ? ': are the account and namespace ids right?' : '';
      throw failed(redact(`${what} in ${name}: ${last}${hint}`));
    }
    throw failed(redact(`${what} in ${name} failed ${ATTEMPTS} times, last: ${last}`));
  }

  return {
    name,
    get: (key) => call('GET', key),
    put: async (key, value) => {
      await call('PUT', key, value);
    },
  };
}

/**
 * A writer over the local KV that `wrangler dev` (through Miniflare) reads: the
 * namespace `namespaceId` (the `id` of the binding in wrangler.toml) under
 * `persistTo` (wrangler's --persist-to, default .wrangler/state), as `wrangler kv key
 * put --local` writes it. Needs the miniflare package (installed with wrangler).
 * close() releases it.
 */
export async function localKvWriter(namespaceId: string, persistTo: string): Promise<PolicyWriter & { close(): Promise<void> }> {
  let Miniflare: typeof import('miniflare').Miniflare;
  try {
    ({ Miniflare } = await import('miniflare'));
  } catch (e) {
    throw failed(`--local needs the miniflare package, which wrangler installs (npm install --save-dev wrangler): ${(e as Error).message}`);
  }
  const mf = new Miniflare({
    host: '127.0.0.1',
    port: 0,
    modules: true,
    script: 'export default { fetch() { return new Response(null, { status: 404 }); } };',
    // An old date: any miniflare a user's wrangler brings accepts it (the script uses nothing newer).
    compatibilityDate: '2024-01-01',
    defaultPersistRoot: join(persistTo, 'v3'),
    kvNamespaces: { NAMESPACE: namespaceId },
  });
  try {
    // Miniflare types its bindings with workers-types, which this package does not install.
    const kv = (await mf.getKVNamespace('NAMESPACE')) as unknown as {
      get(key: string, type: 'arrayBuffer'): Promise<ArrayBuffer | null>;
      put(key: string, value: Uint8Array): Promise<void>;
    };
    return {
      name: `local KV namespace ${namespaceId} (${join(persistTo, 'v3', 'kv')})`,
      async get(key) {
        const value = await kv.get(key, 'arrayBuffer');
        return value === null ? null : new Uint8Array(value);
      },
      async put(key, value) {
        await kv.put(key, value);
      },
      close: () => mf.dispose(),
    };
  } catch (e) {
    await mf.dispose().catch(() => undefined);
    throw failed(`cannot open the local KV in ${persistTo}: ${(e as Error).message}`);
  }
}
