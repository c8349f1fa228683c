/**
 * What both example workers share: a request as an inbound TCP flow from the client
 * address to the request's port, classified with an engine; dropped → 403,
 * accepted → 200 (or the request goes on to ORIGIN when that variable is set).
 *
 * Where the client address comes from (docs/SEMANTICS.md "Where a connection really goes": only what the platform or a proxy
 * you trust wrote may decide; a header the client can send never does):
 *
 *   CLIENT_ADDRESS = "platform" (default): what the runtime itself says.
 *     - workerd run by itself puts the socket's peer in `request.cf.clientIp`
 *       ("203.0.113.7:51234", "[2001:db8::7]:51234"): that address is used, and any
 *       CF-Connecting-IP is ignored (there, only the client can have written it).
 *     - On Cloudflare the request carries Cloudflare's `request.cf` object (without
 *       clientIp) and CF-Connecting-IP, which Cloudflare's edge sets on every request
 *       it hands a Worker, overwriting one the client sent: that header is used, and
 *       it must hold exactly one address.
 *     - A request with no `request.cf` at all has no address the platform vouches
 *       for: refused.
 *     (Miniflare and `wrangler dev` simulate Cloudflare: they fill in `request.cf`,
 *     keep a CF-Connecting-IP the client sent, and even take `request.cf` from a
 *     request header. Do not expose them to clients whose address must decide.)
 *
 *   CLIENT_ADDRESS = "x-forwarded-for", TRUSTED_PROXIES = N (default 1)
 *     Behind N proxies you run, each of which appends the address it received the
 *     connection from to X-Forwarded-For (nginx: $proxy_add_x_forwarded_for). The
 *     last N entries were written by your proxies; everything to their left came
 *     from the client and is ignored. The client address is the N-th entry from the
 *     right: the peer your outermost proxy saw. A request with fewer than N entries
 *     did not pass through all of them and is refused. Entries are bare addresses
 *     (no port, no brackets). CF-Connecting-IP and request.cf are not read.
 *
 * No trustworthy address (a missing or malformed header, a request that bypassed
 * the proxies, a CLIENT_ADDRESS or TRUSTED_PROXIES that is not one of the above):
 * 403, fail closed. Workers are not given the socket's address, so there is nothing
 * else to fall back on.
 *
 * The port: the request URL's, else 443 for https and 80 for http. The URL's port
 * comes from the Host header, which the client writes: set SERVICE_PORT to the port
 * this worker is served on to pin it, and do not count on per-port rules to keep
 * apart services that one route of this worker serves.
 *
 * Variables (wrangler.toml [vars]):
 *   CLIENT_ADDRESS    "platform" (default) or "x-forwarded-for", as above
 *   TRUSTED_PROXIES   proxies in front of the worker that append to X-Forwarded-For (default 1)
 *   SERVICE_PORT      the flow's port whatever the URL says (default: the URL's)
 *   SGFILTER_INSTANCE instance whose groups apply (default: the policy's first/implicit)
 *   ORIGIN            pass accepted requests on to this origin (default: answer 200)
 */

export const ADMIN_HEADER = 'x-sgfilter-admin-token';

const text = (body, status, headers = {}) =>
  new Response(body, { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers } });

export const forbidden = () => text('Forbidden\n', 403);

/** No policy to classify with (none published yet, storage down, every version refused): fail closed. */
export const unavailable = () => text('Service Unavailable\n', 503, { 'retry-after': '5' });

/** How this deployment learns the client address, from its variables; null when they are not valid (fail closed). */
function addressSource(env) {
  const mode = String(env.CLIENT_ADDRESS ?? '').trim().toLowerCase() || 'platform';
  if (mode === 'platform') return { mode };
  if (mode !== 'x-forwarded-for') return null;
  const hops = String(env.TRUSTED_PROXIES ?? '').trim() || '1';
  if (!/^[1-9]\d?$/.test(hops)) return null;
  return { mode, hops: Number(hops) };
}

/** The address of workerd's "host:port" / "[v6]:port" peer, or null. */
function peerAddress(peer) {
  const m = /^\[([^\]\s]+)\]:\d+$/.exec(peer) ?? /^([^:\s]+):\d+$/.exec(peer);
  return m ? m[1] : null;
}

/**
 * The client address, from what the platform or a trusted proxy wrote (see the
 * file comment), or null when the request carries no trustworthy address.
 */
function clientAddress(request, env) {
  const source = addressSource(env);
  if (source === null) {
    console.error('sgfilter: CLIENT_ADDRESS must be "platform" or "x-forwarded-for", TRUSTED_PROXIES a number 1-99; refusing every request');
    return null;
  }
  if (source.mode === 'platform') {
    const cf = request.cf;
    if (typeof cf !== 'object' || cf === null) return null;
    if (cf.clientIp !== undefined) return typeof cf.clientIp === 'string' ? peerAddress(cf.clientIp) : null;
    const address = request.headers.get('CF-Connecting-IP')?.trim();
    return address && !/[\s,]/.test(address) ? address : null;
  }
  // Every X-Forwarded-For line, in order (Headers joins repeated lines with ", ").
  const header = request.headers.get('X-Forwarded-For');
  if (header === null || header.trim() === '') return null;
  const entries = header.split(',').map((s) => s.trim());
  if (entries.length < source.hops) return null;
  const address = entries[entries.length - source.hops];
  return address && !/\s/.test(address) ? address : null;
}

/** The port the flow is for: SERVICE_PORT when set, else the URL's, else 443 for https and 80 for http. */
function requestPort(url, env) {
  const pinned = String(env.SERVICE_PORT ?? '').trim();
  if (pinned !== '') return /^\d{1,5}$/.test(pinned) && Number(pinned) <= 65535 ? Number(pinned) : null;
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

/** Constant-time comparison of two strings (the admin token). */
export function sameSecret(a, b) {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** Whether the request carries the ADMIN_TOKEN secret (never true when the secret is not set). */
export function isAdmin(request, env) {
  const token = request.headers.get(ADMIN_HEADER);
  return Boolean(env.ADMIN_TOKEN) && token !== null && sameSecret(token, env.ADMIN_TOKEN);
}

/**
 * The flow of `request`: { remote, port }, or null when it has no trustworthy
 * address or port (fail closed before any policy is needed).
 */
export function requestFlow(request, env) {
  const remote = clientAddress(request, env);
  const port = requestPort(new URL(request.url), env);
  return remote === null || port === null ? null : { remote, port };
}

/**
 * The URL an accepted request is passed on to: ORIGIN's scheme, host and port, with
 * the request's path and query. Only the path and query are copied, through the URL
 * setters: a path like `//other-host/x` or `/\\other-host/x`, resolved against ORIGIN
 * as a relative URL, would name another host (an open proxy); as a pathname it stays a
 * path on ORIGIN.
 */
export function originUrl(requestUrl, origin) {
  const from = new URL(requestUrl);
  const to = new URL(origin);
  to.pathname = from.pathname;
  to.search = from.search;
  return to;
}

/** Classifies `flow` with `engine` and answers: 403, or 200 / the request passed on to ORIGIN. */
export function answer(request, env, engine, flow) {
  let verdict;
  try {
    verdict = engine.classify({ direction: 'inbound', protocol: 'TCP', port: flow.port, remote: flow.remote, instance: env.SGFILTER_INSTANCE || undefined });
  } catch (err) {
    // Not classifiable (a malformed address, an unknown instance): fail closed.
    console.warn(`sgfilter: ${err.message}`);
    return forbidden();
  }
  if (verdict.action !== 'accept') return forbidden();
  if (env.ORIGIN) return fetch(new Request(originUrl(request.url, env.ORIGIN), request));
  return text('OK\n', 200);
}
