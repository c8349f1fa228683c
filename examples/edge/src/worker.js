/**
 * sgfilter in a Cloudflare Worker (workerd), its policy read from Workers KV: every
 * request is an inbound TCP flow from the client address to the request's port
 * (./filter.js: where the address comes from, the variables), classified against the
 * policy version `sgfilter publish` made current. Dropped → 403; accepted → 200 (or
 * the request goes on to ORIGIN).
 *
 * How a fleet follows a publish: each isolate keeps the policy it loaded and, at
 * most every POLICY_REFRESH_SECONDS (default 30), a request starts a check of the
 * small version key in the background (ctx.waitUntil: no request waits on it). A new
 * version is read, its signature verified with POLICY_KEY, and swapped in whole; a
 * request uses one version from start to end. A snapshot that is unsigned, tampered
 * with or signed with another key is refused and the isolate keeps its policy (the
 * reason is logged). An isolate that has never loaded a policy (nothing published,
 * KV unreachable, every version refused) answers 503 to every request: fail closed.
 *
 * Bindings (wrangler.toml) and secrets (`wrangler secret put NAME`):
 *   POLICY_KV               the KV namespace `sgfilter publish --kv-namespace` writes
 *   POLICY_KEY              secret: the snapshot key, as in the --key-file (hex or base64)
 *   POLICY_REFRESH_SECONDS  seconds between version checks per isolate (default 30)
 *   POLICY_PREFIX           key prefix, as publish's --prefix (default "policy:")
 *   ADMIN_TOKEN             secret; enables GET /__sgfilter/policy (this isolate's policy
 *                           version, last check and last error) and
 *                           POST /__sgfilter/policy/refresh (check now), with the token in
 *                           the x-sgfilter-admin-token header
 */
import { createPolicySource } from 'sgfilter';
import { answer, forbidden, isAdmin, requestFlow, unavailable } from './filter.js';

const STATUS_PATH = '/__sgfilter/policy';
const REFRESH_PATH = '/__sgfilter/policy/refresh';

/** One policy source per isolate, made on the first request (bindings arrive with it). */
let source;
/** Why the source could not be made (a missing binding or secret): logged once, every request refused. */
let misconfigured;

function policySource(env) {
  if (source !== undefined || misconfigured !== undefined) return source;
  try {
    source = createPolicySource({
      kv: env.POLICY_KV,
      key: env.POLICY_KEY,
      prefix: env.POLICY_PREFIX || undefined,
      refreshSeconds: env.POLICY_REFRESH_SECONDS ? Number(env.POLICY_REFRESH_SECONDS) : undefined,
    });
  } catch (err) {
    misconfigured = err;
    console.error(`sgfilter: cannot read policies (${err.code}): ${err.message}; answering 503 to every request`);
  }
  return source;
}

/** The admin endpoints: this isolate's policy status, and a check now. */
async function admin(request, env, ctx, path) {
  if (!isAdmin(request, env)) return forbidden();
  const s = policySource(env);
  if (s === undefined) return Response.json({ error: misconfigured.code, message: misconfigured.message }, { status: 503 });
  if (path === REFRESH_PATH) {
    if (request.method !== 'POST') return new Response('Method Not Allowed\n', { status: 405, headers: { allow: 'POST' } });
    await s.refresh(ctx).catch(() => undefined); // the outcome is in the status
  }
  return Response.json(s.status(), { headers: { 'cache-control': 'no-store' } });
}

export default {
  async fetch(request, env, ctx) {
    const path = new URL(request.url).pathname;
    if (path === STATUS_PATH || path === REFRESH_PATH) return admin(request, env, ctx, path);
    const flow = requestFlow(request, env);
    if (flow === null) return forbidden();
    const s = policySource(env);
    if (s === undefined) return unavailable();
    let policy;
    try {
      policy = await s.current(ctx);
    } catch {
      return unavailable(); // POLICY_UNAVAILABLE; the source logged why
    }
    return answer(request, env, policy.engine, flow);
  },
};
