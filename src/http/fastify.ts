/**
 * The request guard as a fastify plugin: an `onRequest` hook, the first hook of a
 * request's lifecycle (before body parsing, validation and the handler), wrapped
 * with fastify-plugin so that it is not encapsulated: registered on an instance, it
 * guards every route of that instance and of its children, not only the plugin's
 * own (empty) context. Also decorates the instance with `sgfilter` ({ stats() }).
 *
 * The client address is what `request.ip` gives: when fastify's own `trustProxy`
 * is set, the guard takes fastify's walk (request.ips), and refuses a trustProxy
 * of its own (two settings for one server would make request.ip in the logs name
 * another client than the one the guard classified). Otherwise the guard's
 * trustProxy (default: nobody is trusted, the client is the socket's peer).
 */
import fastifyPlugin from 'fastify-plugin';
import type { Engine } from '../engine.js';
import type { GuardStats } from '../node/stats.js';
import { checkEngine, invalidArgument } from '../node/options.js';
import { createGuardCore, nodeFacts, type NodeRequestLike, type RequestGuardOptions } from './guard.js';
import { compileTrust } from './trust.js';

/**
 * Options of the fastify plugin: the request guard's, plus the engine (fastify passes
 * options to register(), not to a factory). `trustProxy` is refused when fastify's own
 * trustProxy is set: the guard then follows fastify's (what request.ip says).
 */
export interface FastifyGuardOptions extends RequestGuardOptions {
  /** The engine whose policy applies. */
  engine: Engine;
}

/** The parts of a fastify request the guard reads. */
export interface FastifyRequestLike {
  /** The Node request under fastify's (its socket and headers). */
  readonly raw: NodeRequestLike;
  /** Present when fastify's trustProxy is set: fastify's own walk (peer first, client last). */
  readonly ips?: readonly string[];
}

/** The parts of a fastify reply the guard writes to. */
export interface FastifyReplyLike {
  /** Sets the drop response's status. */
  code(status: number): unknown;
  /** Sets one header of the drop response. */
  header(name: string, value: string): unknown;
  /** Sends the drop response's body. */
  send(body?: string): unknown;
}

/** The parts of a fastify instance the plugin uses. */
export interface FastifyInstanceLike {
  /** Whether requests carry `name` (`ips` tells that fastify's trustProxy is set). */
  hasRequestDecorator(name: string): boolean;
  /** Adds `fastify.sgfilter` ({@link FastifyGuardDecoration}). */
  decorate(name: string, value: unknown): unknown;
  /** Adds the `onRequest` hook that classifies each request before its body is read. */
  addHook(name: 'onRequest', hook: (request: FastifyRequestLike, reply: FastifyReplyLike, done: (error?: Error) => void) => void): unknown;
}

/** What `fastify.sgfilter` holds after registration. */
export interface FastifyGuardDecoration {
  /** A snapshot of accepted/dropped requests, in total and per deciding rule. */
  stats(): GuardStats;
}

/** fastify's options for register() itself, which reach the plugin with its own. */
const REGISTER_OPTIONS = new Set(['prefix', 'logLevel', 'logSerializers']);

function plugin(fastify: FastifyInstanceLike, options: FastifyGuardOptions, done: (error?: Error) => void): void {
  const where = 'fastifyGuard';
  let core;
  try {
    if (typeof options !== 'object' || options === null) throw invalidArgument(`${where}: options must be { engine, … }`);
    const own: Record<string, unknown> = {};
    for (const key of Object.keys(options)) if (key !== 'engine' && !REGISTER_OPTIONS.has(key)) own[key] = (options as unknown as Record<string, unknown>)[key];
    // Own properties only, as every option: a polluted Object.prototype names no engine.
    const engine = Object.hasOwn(options, 'engine') ? options.engine : undefined;
    checkEngine(where, engine);
    core = createGuardCore(where, engine, own);
  } catch (e) {
    done(e as Error);
    return;
  }
  // fastify defines request.ips only when its trustProxy is set.
  const fastifyTrusts = fastify.hasRequestDecorator('ips');
  if (fastifyTrusts && core.trust !== undefined) {
    done(invalidArgument(`${where}: fastify's trustProxy is set; the guard uses it (request.ip). Give trustProxy in one place only`));
    return;
  }
  if (fastifyTrusts && core.forwardedHeader === 'forwarded') {
    done(invalidArgument(`${where}: forwardedHeader 'forwarded' needs the guard's own trustProxy; fastify's trustProxy walks X-Forwarded-For (unset it and give trustProxy to the guard)`));
    return;
  }
  const trust = core.trust ?? compileTrust(where, false);
  const { status, body, headers } = core.dropResponse;
  const guard = core;
  fastify.decorate('sgfilter', { stats: guard.stats } satisfies FastifyGuardDecoration);
  fastify.addHook('onRequest', function sgfilterGuard(request, reply, next) {
    const raw = request.raw;
    const decision = fastifyTrusts ? guard.decide(nodeFacts(raw), request, trust, request.ips) : guard.decide(nodeFacts(raw), request, trust);
    if (decision.accepted) {
      next();
      return;
    }
    // Answered from the hook: `next` is not called, so no later hook or handler runs.
    reply.code(status);
    for (const name of Object.keys(headers)) reply.header(name, headers[name]!);
    reply.send(body);
  });
  done();
}

/** The fastify plugin type (structural: assignable to fastify's FastifyPluginCallback). */
export type FastifyGuardPlugin = (fastify: FastifyInstanceLike, options: FastifyGuardOptions, done: (error?: Error) => void) => void;

/**
 * A fastify plugin (fastify 5) that classifies each request as an inbound TCP flow
 * (see RequestGuardOptions) in an onRequest hook and answers a dropped one with the
 * drop response (403).
 *
 *   await app.register(fastifyGuard, { engine, trustProxy: 'loopback' });
 *
 * Registration fails (app.ready() / listen() reject) with INVALID_ARGUMENT for an
 * engine that is not one or an unknown or mistyped option, a trustProxy given when
 * fastify's own is set, and UNKNOWN_INSTANCE.
 */
export const fastifyGuard: FastifyGuardPlugin = fastifyPlugin(plugin as never, { fastify: '5.x', name: 'sgfilter' }) as unknown as FastifyGuardPlugin;
