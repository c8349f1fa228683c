/**
 * sgfilter/http: security groups for HTTP requests, for servers behind load
 * balancers, ingresses and CDNs (where guardServer sees only the proxy's socket).
 * Each request is an inbound TCP flow from the client address, which comes from the
 * socket or, through proxies the operator trusts (express's `trust proxy`
 * semantics, proxy-addr), from X-Forwarded-For or Forwarded; a header the client
 * can write never decides a verdict (docs/SEMANTICS.md, "Where a connection really goes").
 *
 * expressGuard (express 4 and 5), fastifyGuard (a fastify 5 plugin) and honoGuard
 * (hono on Node and in edge workers) adapt createRequestGuard to each framework.
 * Nothing here imports `node:`: the entry loads in workerd.
 */
export {
  createRequestGuard, DEFAULT_DROP_RESPONSE,
  type RequestGuard, type RequestGuardOptions, type RequestDecision, type RequestFacts, type DropResponse, type NodeRequestLike,
} from './guard.js';
export type { TrustProxy, TrustFunction } from './trust.js';
export { expressGuard, type ExpressGuard, type ExpressRequestLike, type NodeResponseLike } from './express.js';
export {
  fastifyGuard, type FastifyGuardPlugin, type FastifyGuardOptions, type FastifyGuardDecoration,
  type FastifyInstanceLike, type FastifyRequestLike, type FastifyReplyLike,
} from './fastify.js';
export { honoGuard, type HonoGuard, type HonoContextLike, type FetchRequestLike } from './hono.js';
export type { GuardStats, RuleCounters } from '../node/stats.js';
