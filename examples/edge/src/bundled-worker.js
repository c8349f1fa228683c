/**
 * sgfilter in a Cloudflare Worker (workerd) with the policy bundled in the upload:
 * a compiled snapshot (`sgfilter compile policy.yaml -o policy.bin`) imported as a
 * Data module. Every request is an inbound TCP flow from the client address to the
 * request's port (./filter.js: where the address comes from, the variables).
 *
 * For a fleet, src/worker.js reads signed policies from Workers KV instead, and every
 * isolate follows each `sgfilter publish`. This variant suits a single worker whose
 * policy changes with each deploy. Its wrangler config is wrangler.bundled.toml
 * (`npm run deploy:bundled`): the [build] step compiles policy.yaml into policy.bin,
 * and a module rule uploads it as Data beside the matcher's CompiledWasm module.
 *
 * ADMIN_TOKEN (a secret, `wrangler secret put ADMIN_TOKEN`) enables
 * POST /__sgfilter/policy with a snapshot as the body, to swap the policy at runtime
 * in the isolate that receives it (only that one).
 */
import { createEngine } from 'sgfilter';
import bundledPolicy from '../policy.bin';
import { answer, forbidden, isAdmin, requestFlow } from './filter.js';

const ADMIN_PATH = '/__sgfilter/policy';

/** One engine per isolate, created on the first request (WASM instantiation is async). */
let engine;
function getEngine() {
  engine ??= createEngine({ snapshot: bundledPolicy }).catch((e) => {
    engine = undefined;
    throw e;
  });
  return engine;
}

async function swapPolicy(request, env) {
  if (!isAdmin(request, env)) return forbidden();
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
    const flow = requestFlow(request, env);
    if (flow === null) return forbidden();
    let e;
    try {
      e = await getEngine();
    } catch (err) {
      console.error(`sgfilter: ${err.message}`);
      return forbidden();
    }
    return answer(request, env, e, flow);
  },
};
