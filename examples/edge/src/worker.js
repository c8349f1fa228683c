/**
 * sgfilter in a Cloudflare Worker (workerd): every request is an inbound TCP flow
 * from the client address to the request's port, classified against a compiled
 * policy snapshot bundled with the worker. Dropped → 403; accepted → 200 (or the
 * request goes on to ORIGIN when that variable is set).
 *
 * Build and deploy: `wrangler deploy` (wrangler.toml runs `sgfilter compile
 * policy.yaml -o policy.bin` first). See the README's "Edge workers" section.
 *
 * Variables (wrangler.toml [vars], secrets with `wrangler secret put`):
 *   CLIENT_IP_HEADER  header with the client address when CF-Connecting-IP is absent
 *                     (e.g. X-Forwarded-For behind a proxy you trust; its first entry)
 *   SGFILTER_INSTANCE instance whose groups apply (default: the policy's first/implicit)
 *   ORIGIN            pass accepted requests on to this origin (default: answer 200)
 *   ADMIN_TOKEN       secret; enables POST /__sgfilter/policy (body: a snapshot) to
 *                     swap the policy at runtime in this isolate
 */
import { createEngine } from 'sgfilter';
import bundledPolicy from '../policy.bin';

const ADMIN_PATH = '/__sgfilter/policy';
const ADMIN_HEADER = 'x-sgfilter-admin-token';

/** One engine per isolate, created on the first request (WASM instantiation is async). */
let engine;
function getEngine() {
  engine ??= createEngine({ snapshot: bundledPolicy }).catch((e) => {
    engine = undefined;
    throw e;
  });
  return engine;
}

const forbidden = () =>
  new Response('Forbidden\n', { status: 403, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } });

/** The client address: CF-Connecting-IP, else the configured header's first entry. */
function clientAddress(request, env) {
  const cf = request.headers.get('CF-Connecting-IP');
  if (cf) return cf.trim();
  if (env.CLIENT_IP_HEADER) {
    const v = request.headers.get(env.CLIENT_IP_HEADER);
    if (v) return v.split(',')[0].trim();
  }
  // Workers are not given the socket's address: no header, no verdict (fail closed).
  return null;
}

/** The port the client connected to: the URL's, else 443 for https and 80 for http. */
function requestPort(url) {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

/** Constant-time comparison of two strings (the admin token). */
function sameSecret(a, b) {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

async function swapPolicy(request, env) {
  const token = request.headers.get(ADMIN_HEADER);
  if (!env.ADMIN_TOKEN || token === null || !sameSecret(token, env.ADMIN_TOKEN)) return forbidden();
  const e = await getEngine();
  try {
    const expected = request.headers.get('x-sgfilter-expected-version');
    const version = await e.loadSnapshot(await request.arrayBuffer(), expected ? { expectedVersion: Number(expected) } : {});
    return Response.json({ version });
  } catch (err) {
    // Authenticated caller: the reason is useful and safe to give. The old policy stays.
    return Response.json({ error: err.code ?? 'ERROR', message: err.message }, { status: 400 });
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === ADMIN_PATH && request.method === 'POST') return swapPolicy(request, env);

    const remote = clientAddress(request, env);
    if (remote === null) return forbidden();
    let verdict;
    try {
      const e = await getEngine();
      verdict = e.classify({ direction: 'inbound', protocol: 'TCP', port: requestPort(url), remote, instance: env.SGFILTER_INSTANCE || undefined });
    } catch (err) {
      // Not classifiable (a malformed address header, an unknown instance): fail closed.
      console.warn(`sgfilter: ${err.message}`);
      return forbidden();
    }
    if (verdict.action !== 'accept') return forbidden();
    if (env.ORIGIN) return fetch(new Request(new URL(url.pathname + url.search, env.ORIGIN), request));
    return new Response('OK\n', { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' } });
  },
};
