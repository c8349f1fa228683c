/**
 * The request guard as express middleware (express 4 and 5; also connect-style
 * servers). Put it first: a dropped request gets the drop response and `next` is
 * never called, so no later middleware or route sees it.
 *
 * The client address is what `req.ip` gives: when trustProxy is not given, the
 * guard walks with the app's own compiled `trust proxy` setting (read per request,
 * as req.ip reads it, so a later app.set('trust proxy', …) applies); when given,
 * with that. Outside express (no req.app) the default trusts nobody.
 */
import type { Engine } from '../engine.js';
import type { GuardStats } from '../node/stats.js';
import { createGuardCore, nodeFacts, type DropResponse, type NodeRequestLike, type RequestGuardOptions } from './guard.js';
import type { TrustFunction } from './trust.js';

/** The parts of an express request the guard reads. */
export interface ExpressRequestLike extends NodeRequestLike {
  /** The express application: its compiled `trust proxy` setting is used when the guard has no `trustProxy`. */
  readonly app?: {
    /** An application setting (`'trust proxy fn'`). */
    get(setting: string): unknown;
  };
}

/** The parts of a Node response the guard writes to. */
export interface NodeResponseLike {
  /** Set to the drop response's status. */
  statusCode: number;
  /** When true, the status and headers are gone: the response is only ended. */
  readonly headersSent?: boolean;
  /** Sets one header of the drop response. */
  setHeader(name: string, value: string): unknown;
  /** Sends the drop response's body and ends the response. */
  end(body?: string): unknown;
}

/** Express middleware with the guard's counters. */
export interface ExpressGuard {
  (req: ExpressRequestLike, res: NodeResponseLike, next: (error?: unknown) => void): void;
  /** A snapshot of accepted/dropped requests, in total and per deciding rule. */
  stats(): GuardStats;
}

const trustNobody: TrustFunction = () => false;

/** The trust function req.ip uses: the app's compiled `trust proxy` setting. */
function appTrust(req: ExpressRequestLike): TrustFunction {
  const fn = typeof req.app?.get === 'function' ? req.app.get('trust proxy fn') : undefined;
  return typeof fn === 'function' ? (fn as TrustFunction) : trustNobody;
}

/** Writes a drop response on a Node response (express, fastify's raw, hono's node-server). */
export function sendDrop(res: NodeResponseLike, response: Readonly<DropResponse>): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.statusCode = response.status;
  for (const name of Object.keys(response.headers)) res.setHeader(name, response.headers[name]!);
  res.end(response.body);
}

/**
 * Express middleware that classifies each request as an inbound TCP flow (see
 * RequestGuardOptions) and answers a dropped one with the drop response (403).
 *
 *   app.use(expressGuard(engine, { trustProxy: 'loopback' }));
 *
 * Throws, when set up: INVALID_ARGUMENT (an engine that is not one, an unknown or
 * mistyped option), UNKNOWN_INSTANCE.
 */
export function expressGuard(engine: Engine, options: RequestGuardOptions = {}): ExpressGuard {
  const core = createGuardCore('expressGuard', engine, options);
  const own = core.trust;
  const response = core.dropResponse;
  const middleware = function sgfilterGuard(req: ExpressRequestLike, res: NodeResponseLike, next: (error?: unknown) => void): void {
    const decision = core.decide(nodeFacts(req), req, own ?? appTrust(req));
    if (decision.accepted) next();
    else sendDrop(res, response);
  } as ExpressGuard;
  middleware.stats = core.stats;
  return middleware;
}
